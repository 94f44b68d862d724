// Untrusted text (token texts, file names) inside hover Markdown. The hover is trusted for two command
// ids, so text that could end its code span (a line break: "\r\r" is a paragraph break) could also add a
// command link. Every character that can change Markdown structure or reorder the line is made visible.

const VISIBLE: Readonly<Record<string, string>> = { ' ': '·', '\t': '→', '\n': '↵', '\r': '␍', '\u00a0': '⍽' };

/** Controls (C0, DEL, C1 incl. U+0085), format characters (bidi overrides, zero-width), lone surrogates, U+2028/U+2029. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

const codePoint = (code: number): string => `⟨U+${code.toString(16).toUpperCase().padStart(4, '0')}⟩`;

/** The text with whitespace shown as symbols and every invisible or line-breaking character as a visible escape. */
export function visibleText(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    const mapped = VISIBLE[ch];
    if (mapped !== undefined) out += mapped;
    else if (code < 0x20) out += String.fromCodePoint(0x2400 + code);
    else if (code === 0x7f) out += '␡';
    else out += INVISIBLE.test(ch) ? codePoint(code) : ch;
  }
  return out;
}

/**
 * A Markdown code span showing `text` literally. After visibleText there is no line ending left, and the
 * fence is one backtick longer than any run inside, so nothing in the text can close the span early; inside
 * a code span nothing else (links, HTML, emphasis, escapes, entities) is interpreted.
 */
export function codeSpan(text: string): string {
  const content = visibleText(text);
  if (content === '') return '_(empty)_';
  const longest = Math.max(0, ...(content.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  // A span that starts or ends with a backtick needs a space inside each fence (stripped when rendered).
  const pad = content.startsWith('`') || content.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${content}${pad}${fence}`;
}

/** A `command:` URI with JSON arguments; parentheses and quotes are encoded too, so it cannot end a link early. */
export function commandUri(id: string, args: readonly unknown[]): string {
  const query = encodeURIComponent(JSON.stringify(args)).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `command:${id}?${query}`;
}
