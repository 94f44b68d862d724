// The hover is trusted for two command ids, so no token text (nor document URI) may add a link or HTML.
// Every hostile text is rendered by a CommonMark parser with raw HTML and linkify on (stricter than VS Code,
// which drops HTML), and checked with a parser-free test of the Markdown itself.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DocumentRouting } from '../../src/features/annotation/documentRouting';
import { HOVER_COMMANDS, hoverMarkdown } from '../../src/features/hover/hoverMarkdown';
import { codeSpan, commandUri, visibleText } from '../../src/features/hover/markdownText';

// markdown-it comes with @vscode/vsce (a devDependency); it has no type declarations here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const MarkdownIt = require('markdown-it') as new (opts: { html: boolean; linkify: boolean }) => { render(src: string): string };
const renderer = new MarkdownIt({ html: true, linkify: true });

function doc(text: string, uri = 'file:///w/x.prompt'): DocumentRouting {
  const texts = ['a', text, 'b'];
  let at = 0;
  const tokens = texts.map((t, i) => {
    const span = { id: 10 + i, text: t, start: at, end: at + Math.max(1, t.length) };
    at = span.end;
    return span;
  });
  return {
    uri,
    version: 1,
    tokens,
    numExperts: 4,
    topK: 2,
    complete: true,
    known: Uint8Array.from([1, 1, 1]),
    layers: [0, 1].map((layer) => ({ layer, experts: Int32Array.from([0, 1, 2, 3, 1, 0]), weights: Float32Array.from([0.6, 0.4, 0.7, 0.3, 0.5, 0.5]), entropy: Float32Array.from([0.5, 0.9, 1.2]) })),
  };
}

/** The links the hover itself adds for token 1 of doc(): each expert of each layer, and Show in Explorer. */
function expectedLinks(d: DocumentRouting): string[] {
  const links = d.layers.flatMap((l) => [l.experts[2]!, l.experts[3]!].map((e) => commandUri('moeWorkbench.selectExpert', [l.layer, e])));
  return [...links, commandUri('moeWorkbench.showTokenInExplorer', [d.uri, 1])];
}

const ALLOWED_TAGS = new Set(['p', 'strong', 'em', 'code', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'ul', 'li', 'a']);
const decode = (s: string): string => s.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

function assertSafe(text: string, uri?: string): void {
  const d = doc(text, uri);
  const md = hoverMarkdown(d, 1, 0);
  const label = JSON.stringify(text);
  // Parser-free: no line break of any kind inside the Markdown lines, the token text is one code span on the
  // first line, and every command link (in the rest, which has no untrusted text) is one of ours.
  assert.doesNotMatch(md, /[\r\u0085\u2028\u2029\v\f]/, `${label}: a raw line break`);
  const header = md.split('\n')[0]!;
  assert.equal(text === '' ? header : header.replace(/(`+)(?:(?!\1)[\s\S])*?\1/, ''), `**${text === '' ? '_(empty)_' : ''}** · token id 11 · #1 of 3`, `${label}: the text stays inside one code span`);
  const links = [...md.slice(header.length).matchAll(/\]\((command:[^\s)]*)/g)].map((m) => m[1]!);
  assert.deepEqual(links, expectedLinks(d), `${label}: command links`);
  // A CommonMark renderer (HTML allowed, so an injection would show as a tag).
  const html = renderer.render(md);
  for (const m of html.matchAll(/<\/?([a-zA-Z][\w-]*)/g)) assert.ok(ALLOWED_TAGS.has(m[1]!.toLowerCase()), `${label}: tag <${m[1]}> in ${html}`);
  const hrefs = [...html.matchAll(/<a href="([^"]*)"/g)].map((m) => decode(m[1]!));
  assert.deepEqual(hrefs, expectedLinks(d), `${label}: rendered links`);
  const first = /<code>([\s\S]*?)<\/code>/.exec(html);
  if (visibleText(text) !== '') assert.equal(decode(first?.[1] ?? '').trim(), visibleText(text).trim(), `${label}: the token is shown whole`);
}

const LINK = '[x](command:moeWorkbench.selectExpert?%5B0%2C1%5D)';
const HOSTILE: string[] = [
  `\r\r${LINK}`,
  `\n\n${LINK}`,
  `\r\n\r\n${LINK}`,
  `\u2028\u2028${LINK}`,
  `\u2029${LINK}`,
  `\u0085\u0085${LINK}`,
  `\v\f${LINK}`,
  `\`${LINK}\``,
  `\`\`\`\n${LINK}\n\`\`\``,
  '`',
  '``',
  '` `',
  '`a``b```c',
  `<a href="command:moeWorkbench.selectExpert?[0,1]">x</a>`,
  '<img src=x onerror=alert(1)>',
  '<script>alert(1)</script>',
  '<!-- x -->',
  '<https://example.com>',
  'https://example.com www.example.com',
  `&#13;&#13;${LINK}`,
  `\\${LINK}`,
  `| a | ${LINK} |`,
  '**bold** _em_ # h',
  '\u202e\u2066evil\u2069',
  '\ud800',
  '',
  ' ',
];

describe('hover text is safe for every character', () => {
  it('the hostile texts of the walk-through and friends', () => {
    for (const text of HOSTILE) assertSafe(text);
  });

  it('every ASCII control character, alone and before a link', () => {
    for (let c = 0; c < 0x20; c++) {
      const ch = String.fromCharCode(c);
      assertSafe(ch);
      assertSafe(`${ch}${ch}${LINK}`);
      assertSafe(`x${ch}${ch}<b>y</b>${ch}`);
    }
    assertSafe(`\u007f\u007f${LINK}`);
    for (let c = 0x80; c < 0xa0; c++) assertSafe(`${String.fromCharCode(c).repeat(2)}${LINK}`);
  });

  it('random strings of Markdown-significant characters', () => {
    const alphabet = ['`', '\r', '\n', '\u2028', '[', ']', '(', ')', '<', '>', '"', "'", '!', '*', '_', '|', '\\', '&', '#', ';', ' ', 'command:', 'moeWorkbench.selectExpert', 'a', '\t', '\u0000', '\u0085', '~'];
    let seed = 12345;
    const next = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (let i = 0; i < 2000; i++) {
      const n = 1 + Math.floor(next() * 24);
      assertSafe(Array.from({ length: n }, () => alphabet[Math.floor(next() * alphabet.length)]!).join(''));
    }
  });

  it('a document URI cannot end a link either', () => {
    assertSafe('x', 'file:///w/a)](command:moeWorkbench.selectExpert?[0]) "t"');
    assertSafe('x', "untitled:Untitled-1'(*)!");
  });

  it('code spans use a longer fence than any backtick run; the hover trusts only its own commands', () => {
    assert.equal(codeSpan('a`b'), '``a`b``');
    assert.equal(codeSpan('`'), '`` ` ``');
    assert.equal(codeSpan(''), '_(empty)_');
    assert.equal(visibleText(' \t\n\r\u00a0\u0000\u007f\u0085\u2028\u200b'), '·→↵␍⍽␀␡⟨U+0085⟩⟨U+2028⟩⟨U+200B⟩');
    assert.equal(visibleText('😀é<'), '😀é<');
    assert.deepEqual([...HOVER_COMMANDS], ['moeWorkbench.selectExpert', 'moeWorkbench.showTokenInExplorer']);
    assert.equal(commandUri('c', ["a)'(*!"]), 'command:c?%5B%22a%29%27%28%2A%21%22%5D');
  });
});
