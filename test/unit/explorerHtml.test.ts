import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeAttr, explorerCsp, explorerHtml, type WebviewLike } from '../../src/webviews/expertExplorer/explorerHtml';
import { parseExplorerMessage } from '../../src/webviews/expertExplorer/explorerMessages';

// The two members of vscode.Webview the HTML uses, with a string standing in for vscode.Uri.
const CSP_SOURCE = 'https://file+.vscode-resource.vscode-cdn.net';
const fakeWebview: WebviewLike<string> = { cspSource: CSP_SOURCE, asWebviewUri: (p) => `${CSP_SOURCE}/ext${p}` };
const SCRIPT = '/dist/webview/explorer.js';

function cspOf(html: string): string {
  const m = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html);
  assert.ok(m, 'CSP meta tag');
  return m[1]!.replace(/&#39;|&apos;/g, "'");
}

describe('explorer HTML', () => {
  it('has the strict CSP with a nonce matching every script and style tag', () => {
    const html = explorerHtml(fakeWebview, SCRIPT);
    const csp = cspOf(html);
    const nonce = /script-src 'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];
    assert.ok(nonce && nonce.length >= 16, 'a nonce of at least 16 characters');
    assert.equal(csp, `default-src 'none'; script-src 'nonce-${nonce}'; style-src ${CSP_SOURCE} 'nonce-${nonce}'; font-src ${CSP_SOURCE}; img-src ${CSP_SOURCE} data:; form-action 'none'; base-uri 'none'`);
    const scripts = [...html.matchAll(/<script\b([^>]*)>/g)];
    assert.equal(scripts.length, 1);
    for (const [, attrs] of scripts) {
      assert.ok(attrs!.includes(` nonce="${nonce}"`), 'script nonce matches the CSP');
      assert.ok(attrs!.includes(' type="module"'));
      assert.ok(attrs!.includes(` src="${CSP_SOURCE}/ext${SCRIPT}"`));
    }
    for (const [, attrs] of html.matchAll(/<style\b([^>]*)>/g)) assert.ok(attrs!.includes(`nonce="${nonce}"`), 'style tags carry the nonce');
  });

  it('has no inline event handlers, javascript: URLs or remote resources', () => {
    const html = explorerHtml(fakeWebview, SCRIPT);
    assert.doesNotMatch(html, /\son[a-z]+\s*=/i);
    assert.doesNotMatch(html, /javascript:/i);
    const urls = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]!);
    assert.ok(urls.length > 0);
    for (const url of urls) assert.ok(url.startsWith(`${CSP_SOURCE}/`), `only webview resources: ${url}`);
    const withoutCspSource = html.split(CSP_SOURCE).join('');
    assert.doesNotMatch(withoutCspSource, /https?:\/\//, 'no other remote URL');
  });

  it('uses a fresh nonce for every render', () => {
    const nonces = new Set(Array.from({ length: 20 }, () => /'nonce-([^']+)'/.exec(cspOf(explorerHtml(fakeWebview, SCRIPT)))![1]));
    assert.equal(nonces.size, 20);
  });

  it('escapes the script URL into its attribute', () => {
    const html = explorerHtml({ cspSource: CSP_SOURCE, asWebviewUri: () => `${CSP_SOURCE}/a"b<c>&d` }, SCRIPT, 'fixedNonce');
    assert.ok(html.includes(`src="${CSP_SOURCE}/a&quot;b&lt;c&gt;&amp;d"`));
    assert.equal(escapeAttr(`"'<>&`), `&quot;'&lt;&gt;&amp;`);
  });

  it('builds the CSP from its parts', () => {
    assert.equal(explorerCsp('S', 'N'), "default-src 'none'; script-src 'nonce-N'; style-src S 'nonce-N'; font-src S; img-src S data:; form-action 'none'; base-uri 'none'");
  });
});

describe('explorer messages from the webview', () => {
  it('accepts the four well-formed messages', () => {
    assert.deepEqual(parseExplorerMessage({ type: 'ready' }), { type: 'ready' });
    assert.deepEqual(parseExplorerMessage({ type: 'revealToken', index: 12 }), { type: 'revealToken', index: 12 });
    assert.deepEqual(parseExplorerMessage({ type: 'selectLayer', layer: 3 }), { type: 'selectLayer', layer: 3 });
    assert.deepEqual(parseExplorerMessage({ type: 'selectExpert', layer: 3, expert: 7 }), { type: 'selectExpert', layer: 3, expert: 7 });
  });

  it('reads a cleared expert as undefined however JSON delivered it', () => {
    assert.deepEqual(parseExplorerMessage({ type: 'selectExpert', layer: 3 }), { type: 'selectExpert', layer: 3, expert: undefined });
    assert.deepEqual(parseExplorerMessage({ type: 'selectExpert', layer: 3, expert: null }), { type: 'selectExpert', layer: 3, expert: undefined });
  });

  it('drops unknown and malformed messages', () => {
    for (const bad of [
      undefined, null, 42, 'ready', [], {}, { type: 'nope' }, { type: 'state' },
      { type: 'revealToken' }, { type: 'revealToken', index: -1 }, { type: 'revealToken', index: 1.5 }, { type: 'revealToken', index: '3' },
      { type: 'selectLayer', layer: Number.NaN }, { type: 'selectLayer', layer: Infinity },
      { type: 'selectExpert', expert: 1 }, { type: 'selectExpert', layer: 1, expert: -2 }, { type: 'selectExpert', layer: 1, expert: 'x' },
    ]) assert.equal(parseExplorerMessage(bad), undefined, JSON.stringify(bad));
  });

  it('copies only the known fields', () => {
    assert.deepEqual(parseExplorerMessage({ type: 'revealToken', index: 1, extra: { evil: true } }), { type: 'revealToken', index: 1 });
  });
});
