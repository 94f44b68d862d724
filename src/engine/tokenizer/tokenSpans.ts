// Recovers exact source spans for tokens. The tokenizer library returns token strings but no offsets, so we
// turn each token string back into the bytes it stands for and walk those bytes over the UTF-8 bytes of the
// original (un-normalised) text. Normalisers that only add text (Prepend, Metaspace prefix) are tolerated;
// anything that cannot be matched degrades to a best-effort span instead of an error.
import type { TokenSpan } from '../../protocol/engineProtocol';

/** How a tokenizer's token strings map back to source bytes; derived from tokenizer.json by `spanSchemeOf`. */
export interface SpanScheme {
  /** GPT-2 byte-level alphabet: every char of a token stands for one byte. */
  readonly byteLevel: boolean;
  /** Chars that stand for a space (SentencePiece '▁'). */
  readonly spaceMarkers: readonly string[];
  /** `<0xAB>` tokens stand for one raw byte. */
  readonly byteFallback: boolean;
  /** Affixes the model glues onto subwords that are not in the text (WordPiece '##', BPE '</w>'). */
  readonly subwordPrefix: string | null;
  readonly subwordSuffixes: readonly string[];
}

/** One token as the library produced it, before alignment. */
export type AlignPiece =
  /** Produced by the model from the text: its string encodes source bytes per the scheme. */
  | { readonly kind: 'text'; readonly id: number; readonly token: string }
  /** An added/special token: it has a span only if its content literally sits in the text. */
  | { readonly kind: 'added'; readonly id: number; readonly content: string };

const SPACE = 0x20;
/** How far ahead (bytes) we look for a token that does not match at the cursor; bounds the cost of a mismatch. */
const SEARCH_WINDOW = 256;
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

// ------------------------------------------------------------------------------------------------ scheme

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every component of a possibly nested `Sequence` (normalizers / pretokenizers / decoders lists). */
function components(v: unknown): Record<string, unknown>[] {
  if (!isRecord(v)) return [];
  const out: Record<string, unknown>[] = [v];
  for (const key of ['normalizers', 'pretokenizers', 'decoders', 'processors']) {
    const list = v[key];
    if (Array.isArray(list)) for (const item of list) out.push(...components(item));
  }
  return out;
}

/** Reads the parts of tokenizer.json that decide how token strings encode text. Never throws. */
export function spanSchemeOf(tokenizerJson: unknown): SpanScheme {
  const root = isRecord(tokenizerJson) ? tokenizerJson : {};
  const model = isRecord(root.model) ? root.model : {};
  const pre = components(root.pre_tokenizer);
  const dec = components(root.decoder);
  const byteLevel = pre.some((c) => c.type === 'ByteLevel') || dec.some((c) => c.type === 'ByteLevel');

  const markers = new Set<string>();
  for (const c of [...pre, ...dec]) {
    if (c.type === 'Metaspace') markers.add(typeof c.replacement === 'string' && c.replacement.length > 0 ? c.replacement : '\u2581');
  }
  // Llama/Mistral-style: Replace(' ' -> '▁') in the normalizer, Replace('▁' -> ' ') in the decoder.
  for (const c of components(root.normalizer)) {
    const pattern = isRecord(c.pattern) ? c.pattern.String : undefined;
    if (c.type === 'Replace' && pattern === ' ' && typeof c.content === 'string' && c.content.length > 0 && c.content !== ' ') markers.add(c.content);
  }
  for (const c of dec) {
    const pattern = isRecord(c.pattern) ? c.pattern.String : undefined;
    if (c.type === 'Replace' && c.content === ' ' && typeof pattern === 'string' && pattern.length > 0 && pattern !== ' ') markers.add(pattern);
  }

  const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
  const subwordPrefix = str(model.continuing_subword_prefix) ?? (model.type === 'WordPiece' ? '##' : null);
  const subwordSuffixes = [str(model.end_of_word_suffix), str(model.continuing_subword_suffix)].filter((s): s is string => s !== null);
  return { byteLevel, spaceMarkers: [...markers], byteFallback: model.byte_fallback === true, subwordPrefix, subwordSuffixes };
}

// ------------------------------------------------------------------------------------------- token bytes

/** GPT-2's bytes_to_unicode, inverted: char code -> byte, -1 where the char is not in the alphabet. */
const BYTE_OF_CHAR: Int16Array = (() => {
  const table = new Int16Array(512).fill(-1);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[printable ? b : 256 + extra++] = b;
  }
  return table;
})();

const BYTE_FALLBACK = /^<0x([0-9A-Fa-f]{2})>$/;

function pushUtf8(out: number[], s: string): void {
  for (const b of utf8.encode(s)) out.push(b);
}

/** The source bytes a model token stands for, per the scheme (affixes dropped, markers as spaces). */
export function tokenBytes(token: string, scheme: SpanScheme): Uint8Array {
  if (scheme.byteLevel) {
    const out: number[] = [];
    for (const ch of token) {
      const code = ch.charCodeAt(0);
      const b = ch.length === 1 && code < BYTE_OF_CHAR.length ? BYTE_OF_CHAR[code]! : -1;
      if (b >= 0) out.push(b);
      else pushUtf8(out, ch); // not in the alphabet: a token the library left as text
    }
    return Uint8Array.from(out);
  }
  if (scheme.byteFallback) {
    const m = BYTE_FALLBACK.exec(token);
    if (m) return Uint8Array.of(parseInt(m[1]!, 16));
  }
  let s = token;
  if (scheme.subwordPrefix !== null && s.length > scheme.subwordPrefix.length && s.startsWith(scheme.subwordPrefix)) s = s.slice(scheme.subwordPrefix.length);
  for (const suffix of scheme.subwordSuffixes) {
    if (s.length > suffix.length && s.endsWith(suffix)) s = s.slice(0, -suffix.length);
  }
  for (const marker of scheme.spaceMarkers) if (s.includes(marker)) s = s.split(marker).join(' ');
  return utf8.encode(s);
}

/** UTF-8 bytes as display text; bytes that do not form a complete character are shown as `<0xAB>`. */
export function bytesToDisplayText(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const n = utf8CharLength(bytes, i);
    if (n === 0) {
      out += `<0x${bytes[i]!.toString(16).toUpperCase().padStart(2, '0')}>`;
      i++;
    } else {
      out += utf8Decoder.decode(bytes.subarray(i, i + n));
      i += n;
    }
  }
  return out;
}

/** Length of the valid UTF-8 character at `i`, or 0 if the bytes there are not one. */
function utf8CharLength(b: Uint8Array, i: number): number {
  const lead = b[i]!;
  if (lead < 0x80) return 1;
  const n = lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
  if (n === 0 || i + n > b.length) return 0;
  for (let k = 1; k < n; k++) if ((b[i + k]! & 0xc0) !== 0x80) return 0;
  const second = b[i + 1]!;
  // Overlong forms, surrogates and code points above U+10FFFF.
  if ((lead === 0xe0 && second < 0xa0) || (lead === 0xed && second > 0x9f) || (lead === 0xf0 && second < 0x90) || (lead === 0xf4 && second > 0x8f)) return 0;
  return n;
}

// ---------------------------------------------------------------------------------------- text geometry

/** The input text as UTF-8 bytes plus, per byte, the UTF-16 span of the character the byte belongs to. */
interface TextBytes {
  readonly text: string;
  readonly bytes: Uint8Array;
  /** UTF-16 start of the char containing byte b; length bytes.length + 1 (last = text.length). */
  readonly charStart: Int32Array;
  /** UTF-16 end of the char containing byte b. */
  readonly charEnd: Int32Array;
}

function textBytes(text: string): TextBytes {
  // Our own UTF-8 walk (not TextEncoder) so the byte/char tables cannot disagree with the bytes; lone
  // surrogates become U+FFFD exactly as TextEncoder (and so the library) encodes them.
  const len = text.length;
  const bytes = new Uint8Array(len * 3);
  const charStart = new Int32Array(len * 3 + 1);
  const charEnd = new Int32Array(len * 3);
  let b = 0;
  for (let i = 0; i < len; ) {
    let cp = text.charCodeAt(i);
    let units = 1;
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < len) {
      const lo = text.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        units = 2;
      }
    }
    if (units === 1 && cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    const start = b;
    if (cp < 0x80) bytes[b++] = cp;
    else if (cp < 0x800) {
      bytes[b++] = 0xc0 | (cp >> 6);
      bytes[b++] = 0x80 | (cp & 0x3f);
    } else if (cp < 0x10000) {
      bytes[b++] = 0xe0 | (cp >> 12);
      bytes[b++] = 0x80 | ((cp >> 6) & 0x3f);
      bytes[b++] = 0x80 | (cp & 0x3f);
    } else {
      bytes[b++] = 0xf0 | (cp >> 18);
      bytes[b++] = 0x80 | ((cp >> 12) & 0x3f);
      bytes[b++] = 0x80 | ((cp >> 6) & 0x3f);
      bytes[b++] = 0x80 | (cp & 0x3f);
    }
    for (let k = start; k < b; k++) {
      charStart[k] = i;
      charEnd[k] = i + units;
    }
    i += units;
  }
  charStart[b] = len;
  return { text, bytes: bytes.subarray(0, b), charStart: charStart.subarray(0, b + 1), charEnd: charEnd.subarray(0, b) };
}

/** Byte length of the whitespace character starting at byte `p`, 0 if there is none. */
function whitespaceAt(t: TextBytes, p: number): number {
  if (p >= t.bytes.length) return 0;
  const b = t.bytes[p]!;
  if (b < 0x80) return b === SPACE || (b >= 0x09 && b <= 0x0d) ? 1 : 0;
  if (p > 0 && t.charStart[p - 1] === t.charStart[p]) return 0; // inside a character
  const i = t.charStart[p]!;
  const cp = t.text.codePointAt(i)!;
  if (!/\s/u.test(String.fromCodePoint(cp))) return 0;
  let n = 1;
  while (p + n < t.bytes.length && t.charStart[p + n] === i) n++;
  return n;
}

function skipWhitespace(t: TextBytes, p: number): number {
  for (let n = whitespaceAt(t, p); n > 0; n = whitespaceAt(t, p)) p += n;
  return p;
}

function lower(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b + 0x20 : b;
}

function matchesAt(t: Uint8Array, p: number, pat: Uint8Array, foldCase: boolean): boolean {
  if (p + pat.length > t.length) return false;
  if (foldCase) {
    for (let k = 0; k < pat.length; k++) if (lower(t[p + k]!) !== lower(pat[k]!)) return false;
  } else {
    for (let k = 0; k < pat.length; k++) if (t[p + k] !== pat[k]) return false;
  }
  return true;
}

// ------------------------------------------------------------------------------------------ alignment

interface ByteSpan {
  readonly start: number;
  readonly end: number;
}

/** The byte readings a token may have in the text, most likely first. */
function readingsOf(piece: AlignPiece, scheme: SpanScheme): Uint8Array[] {
  if (piece.kind === 'added') return [utf8.encode(piece.content)];
  const primary = tokenBytes(piece.token, scheme);
  const out = [primary];
  // The text itself may contain a marker char ('▁') or affix literally.
  if (!scheme.byteLevel) {
    const raw = utf8.encode(piece.token);
    if (!sameBytes(raw, primary)) out.push(raw);
  }
  // A space the tokenizer prepended (Metaspace prefix, Prepend normaliser, add_prefix_space) is not in the text.
  if (primary.length > 0 && primary[0] === SPACE) out.push(primary.subarray(1));
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && matchesAt(a, 0, b, false);
}

/** Where the token sits if it starts at the cursor, allowing for prepended spaces, dropped whitespace and lowercasing. */
function matchHere(t: TextBytes, cursor: number, readings: readonly Uint8Array[]): ByteSpan | null {
  const primary = readings[0]!;
  if (matchesAt(t.bytes, cursor, primary, false)) return { start: cursor, end: cursor + primary.length }; // the usual case
  const afterSpace = skipWhitespace(t, cursor);
  const starts = afterSpace > cursor ? [cursor, afterSpace] : [cursor];
  for (const foldCase of [false, true]) {
    for (const p of starts) {
      for (const r of readings) {
        // An empty reading only means "nothing here": never let it jump over whitespace.
        if (r.length === 0 && p !== cursor) continue;
        if (matchesAt(t.bytes, p, r, foldCase)) return { start: p, end: p + r.length };
      }
    }
  }
  return null;
}

/** The nearest later place (within the window) where the token matches; characters in between were dropped or changed. */
function searchAhead(t: TextBytes, cursor: number, readings: readonly Uint8Array[]): ByteSpan | null {
  const last = Math.min(cursor + SEARCH_WINDOW, t.bytes.length);
  for (let p = cursor + 1; p <= last; p++) {
    for (const r of readings) {
      if (r.length > 0 && matchesAt(t.bytes, p, r, true)) return { start: p, end: p + r.length };
    }
  }
  return null;
}

/** The gap without surrounding whitespace, unless that leaves nothing. */
function trimmedGap(t: TextBytes, start: number, end: number): ByteSpan {
  const s = skipWhitespace(t, start);
  if (s >= end) return { start, end };
  let e = end;
  // A whitespace char is at most 3 bytes in UTF-8; step back over whole whitespace chars.
  for (let stepped = true; stepped; ) {
    stepped = false;
    for (let n = 1; n <= 3 && e - n > s; n++) {
      if (whitespaceAt(t, e - n) === n) {
        e -= n;
        stepped = true;
        break;
      }
    }
  }
  return { start: s, end: e };
}

function toSpan(t: TextBytes, id: number, span: ByteSpan): TokenSpan {
  let start: number;
  let end: number;
  if (span.end > span.start) {
    start = t.charStart[span.start]!;
    end = t.charEnd[span.end - 1]!;
  } else {
    start = end = t.charStart[Math.min(span.start, t.bytes.length)]!;
  }
  return { id, text: t.text.slice(start, end), start, end };
}

/**
 * Aligns the tokens the library produced for `text` (in order, without post-processor tokens) to UTF-16
 * spans of `text`. Tokens of one multi-byte character all get that character's span; an added token not
 * found in the text, or a token with no source bytes, gets a zero-width span at the cursor; tokens that
 * cannot be matched (text changed by a normaliser) share the span of the text between their neighbours.
 * Never throws; linear in the text length for tokenizers whose tokens match the text.
 */
export function alignTokens(text: string, pieces: readonly AlignPiece[], scheme: SpanScheme): TokenSpan[] {
  const t = textBytes(text);
  const spans: ByteSpan[] = new Array<ByteSpan>(pieces.length);
  let cursor = 0;
  let pending: number[] = []; // unmatched tokens waiting for the next match to bound their gap

  const settlePending = (gapEnd: number): void => {
    if (pending.length === 0) return;
    const gap = gapEnd > cursor ? trimmedGap(t, cursor, gapEnd) : { start: cursor, end: cursor };
    for (const i of pending) spans[i] = gap;
    pending = [];
  };

  // Token strings repeat a lot in a long text; their readings only depend on the string.
  const readingsCache = new Map<string, Uint8Array[]>();
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i]!;
    const key = piece.kind === 'added' ? `A${piece.content}` : `T${piece.token}`;
    let readings = readingsCache.get(key);
    if (readings === undefined) {
      readings = readingsOf(piece, scheme);
      readingsCache.set(key, readings);
    }
    const found = matchHere(t, cursor, readings) ?? searchAhead(t, cursor, readings);
    if (found) {
      settlePending(found.start);
      spans[i] = found;
      cursor = found.end;
    } else if (piece.kind === 'added') {
      spans[i] = { start: cursor, end: cursor };
    } else {
      pending.push(i);
    }
  }
  settlePending(t.bytes.length);
  return spans.map((s, i) => toSpan(t, pieces[i]!.id, s));
}

/** A token with no source text (e.g. a BOS the post-processor added) at UTF-16 position `at`. */
export function zeroWidthSpan(id: number, at: number): TokenSpan {
  return { id, text: '', start: at, end: at };
}
