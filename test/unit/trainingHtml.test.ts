// The training panel's HTML shell: the strict CSP, the nonce on every script and style, only webview
// resources, and the URIs escaped into their attributes.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { trainingCsp, trainingHtml } from '../../src/webviews/training/trainingHtml';
import type { WebviewLike } from '../../src/webviews/expertExplorer/explorerHtml';

const CSP_SOURCE = 'https://file+.vscode-resource.vscode-cdn.net';
const fakeWebview: WebviewLike<string> = { cspSource: CSP_SOURCE, asWebviewUri: (p) => `${CSP_SOURCE}/ext${p}` };
const SCRIPT = '/dist/webview/training.js';
const STYLE = '/dist/webview/training.css';

function cspOf(html: string): string {
  const metas = [...html.matchAll(/<meta http-equiv="Content-Security-Policy" content="([^"]*)">/g)];
  assert.equal(metas.length, 1, 'exactly one CSP meta tag');
  return metas[0]![1]!.replace(/&#39;|&apos;/g, "'");
}

describe('training panel HTML', () => {
  it('has the strict CSP: nothing by default, scripts by nonce only, no unsafe-inline or unsafe-eval', () => {
    const html = trainingHtml(fakeWebview, SCRIPT, [STYLE]);
    const csp = cspOf(html);
    const nonce = /script-src 'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];
    assert.ok(nonce && nonce.length >= 16, 'a nonce of at least 16 characters');
    const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name!, values]));
    assert.deepEqual(directives.get('default-src'), ["'none'"]);
    assert.deepEqual(directives.get('script-src'), [`'nonce-${nonce}'`], 'scripts only by nonce: not even the extension\'s origin');
    assert.deepEqual(directives.get('style-src'), [CSP_SOURCE, `'nonce-${nonce}'`]);
    assert.deepEqual(directives.get('form-action'), ["'none'"]);
    assert.deepEqual(directives.get('base-uri'), ["'none'"]);
    assert.ok(!directives.has('connect-src') && !directives.has('frame-src'), 'no fetches, no frames');
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|unsafe-hashes|wasm-unsafe-eval|\*/);
    assert.equal(csp, trainingCsp(CSP_SOURCE, nonce));
  });

  it('loads the bundle as a module with the nonce, and the stylesheets from the extension', () => {
    const html = trainingHtml(fakeWebview, SCRIPT, [STYLE, '/dist/webview/extra.css'], 'N0nce0123456789abcdef');
    const scripts = [...html.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1]!);
    assert.deepEqual(scripts, [` type="module" nonce="N0nce0123456789abcdef" src="${CSP_SOURCE}/ext${SCRIPT}"`]);
    const links = [...html.matchAll(/<link\b([^>]*)>/g)].map((m) => m[1]!);
    assert.deepEqual(links, [` rel="stylesheet" href="${CSP_SOURCE}/ext${STYLE}"`, ` rel="stylesheet" href="${CSP_SOURCE}/ext/dist/webview/extra.css"`]);
    const styles = [...html.matchAll(/<style\b([^>]*)>/g)].map((m) => m[1]!);
    assert.ok(styles.length > 0);
    for (const attrs of styles) assert.equal(attrs, ' nonce="N0nce0123456789abcdef"');
    assert.match(html, /<main id="app"[^>]*>/, 'the element the app renders into');
  });

  it('has no inline style attributes, event handlers, javascript: URLs or remote resources', () => {
    const html = trainingHtml(fakeWebview, SCRIPT, [STYLE]);
    assert.doesNotMatch(html, /\sstyle\s*=/i);
    assert.doesNotMatch(html, /\son[a-z]+\s*=/i);
    assert.doesNotMatch(html, /javascript:/i);
    const urls = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]!);
    assert.equal(urls.length, 2);
    for (const url of urls) assert.ok(url.startsWith(`${CSP_SOURCE}/`), `only webview resources: ${url}`);
    assert.doesNotMatch(html.split(CSP_SOURCE).join(''), /https?:\/\//, 'no other remote URL');
  });

  it('uses a fresh nonce for every render', () => {
    const nonces = new Set(Array.from({ length: 20 }, () => /'nonce-([^']+)'/.exec(cspOf(trainingHtml(fakeWebview, SCRIPT, [STYLE])))![1]));
    assert.equal(nonces.size, 20);
  });

  it('escapes the URIs and the CSP source into their attributes', () => {
    const hostile = `${CSP_SOURCE}/a"b<c>&d' onload="x`;
    const html = trainingHtml({ cspSource: `${CSP_SOURCE}" x="<`, asWebviewUri: () => hostile }, SCRIPT, [STYLE], 'fixedNonce0123456789');
    const escaped = `${CSP_SOURCE}/a&quot;b&lt;c&gt;&amp;d' onload=&quot;x`;
    assert.ok(html.includes(`src="${escaped}"`));
    assert.ok(html.includes(`href="${escaped}"`));
    assert.ok(html.includes(`style-src ${CSP_SOURCE}&quot; x=&quot;&lt; 'nonce-fixedNonce0123456789'`));
    assert.doesNotMatch(html, /onload="/);
    assert.equal([...html.matchAll(/<script\b/g)].length, 1, 'no tag injected');
  });
});
