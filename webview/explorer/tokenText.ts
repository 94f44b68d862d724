// How a token's text is shown: whitespace and control characters made visible, so " the" and "the"
// differ on screen, and a spoken form for aria-labels. The DOM receives it through textContent only.

const VISIBLE: Readonly<Record<string, string>> = { ' ': '·', '\t': '→', '\n': '↵', '\r': '␍', '\u00a0': '⍽' };

/** The token with whitespace and C0/DEL control characters replaced by visible symbols. */
export function visibleToken(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    out += VISIBLE[ch] ?? (code < 0x20 ? String.fromCodePoint(0x2400 + code) : code === 0x7f ? '␡' : ch);
  }
  return out;
}

const SPOKEN: Readonly<Record<string, string>> = { ' ': 'space', '\t': 'tab', '\n': 'newline', '\r': 'carriage return', '\u00a0': 'no-break space' };

/** The token as a screen reader should say it: quoted text, or the names of its whitespace. */
export function spokenToken(text: string): string {
  const trimmed = text.trim();
  if (trimmed.length > 0) return `'${trimmed}'`;
  if (text.length === 0) return 'empty token';
  return [...text].map((ch) => SPOKEN[ch] ?? 'whitespace').join(' ');
}
