// A model folder's Hugging Face fast tokenizer (tokenizer.json), run by the pure-JS @huggingface/tokenizers,
// with exact source spans per token (the library gives none; tokenSpans.ts recovers them).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import type { TokenSpan } from '../../protocol/engineProtocol';
import { MoeError } from '../../protocol/moeError';
import { isRecord, readJsonFile } from '../model/jsonFile';
import { alignTokens, bytesToDisplayText, spanSchemeOf, tokenBytes, zeroWidthSpan, type AlignPiece, type SpanScheme } from './tokenSpans';

export interface ModelTokenizer {
  /** Tokens of `text` with UTF-16 spans into `text`; special tokens added as the tokenizer's post-processor does by default (HF add_special_tokens=true) unless addSpecialTokens=false. */
  encode(text: string, opts?: { addSpecialTokens?: boolean }): TokenSpan[];
  decode(ids: readonly number[]): string;
  /**
   * The first `maxTokens` tokens of `encode(text)`, tokenising only as much of a long text as they need.
   * `text` may be a function giving the text's first n UTF-16 units (fewer only where the text ends), so
   * a long file need not be held as one string. `complete`: the text has no tokens beyond these.
   */
  encodeHead(text: string | TextHead, maxTokens: number, opts?: { addSpecialTokens?: boolean }): { tokens: TokenSpan[]; complete: boolean };
  /** UTF-16 units handed to the tokenizer library so far: lets a test prove a long text was not tokenised whole. */
  readonly charactersTokenized: number;
  /** Display text of one token id (decoded; special tokens as their content). */
  tokenText(id: number): string;
  readonly vocabSize: number; // largest id + 1 over vocab and added tokens
  readonly file: string; // path of tokenizer.json
}

/** A text's first `chars` UTF-16 units; fewer only where the text ends. */
export type TextHead = (chars: number) => string;

/** First guess of the characters `maxTokens` tokens take; the prefix doubles until it holds them. */
const HEAD_CHARS_PER_TOKEN = 8;
const HEAD_MIN_CHARS = 4096;
/**
 * Tokens near the end of a cut-off prefix can differ from the whole text's (a word cut in two). The first
 * `maxTokens` are taken only when the prefix has this many more and a longer prefix gives the same ones.
 */
const HEAD_MARGIN_TOKENS = 16;

// Real tokenizer.json files are tens of MB at most; the cap only stops us reading something absurd.
const MAX_TOKENIZER_JSON_BYTES = 512 * 1024 * 1024;
const MAX_CONFIG_JSON_BYTES = 64 * 1024 * 1024;

/** Loads `<modelDir>/tokenizer.json` (and tokenizer_config.json when present). Throws MoeError E_TOKENIZER. */
export function loadTokenizer(modelDir: string): ModelTokenizer {
  const file = path.join(modelDir, 'tokenizer.json');
  if (!fs.existsSync(file)) {
    throw new MoeError('E_TOKENIZER', `tokenizer.json not found: ${file}. A model folder needs tokenizer.json (the Hugging Face fast-tokenizer file)`, file);
  }
  const spec = checkTokenizerJson(readJsonFile(file, 'E_TOKENIZER', MAX_TOKENIZER_JSON_BYTES), file);
  const configFile = path.join(modelDir, 'tokenizer_config.json');
  const config = fs.existsSync(configFile) ? libraryConfig(readJsonFile(configFile, 'E_TOKENIZER', MAX_CONFIG_JSON_BYTES), configFile) : {};
  let lib: Tokenizer;
  try {
    lib = new Tokenizer(spec.json, config);
  } catch (e) {
    throw new MoeError('E_TOKENIZER', `${file} could not be loaded by the tokenizer library: ${errorText(e)}`, file);
  }
  return new HfTokenizer(file, lib, spec, spanSchemeOf(spec.json));
}

// ------------------------------------------------------------------------------------------ validation

interface TokenizerSpec {
  /** tokenizer.json with the optional top-level keys the library requires filled in. */
  readonly json: Record<string, unknown>;
  /** Added token id -> content. */
  readonly added: ReadonlyMap<number, string>;
  readonly vocabSize: number;
  /** Id of the model's unknown token, if it has one. */
  readonly unkId: number | null;
}

function isTokenId(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 31;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Checks the shape we and the library rely on, so a wrong file fails here with a clear message rather than deep inside the library. */
function checkTokenizerJson(raw: unknown, file: string): TokenizerSpec {
  const bad = (problem: string): MoeError => new MoeError('E_TOKENIZER', `${file} is not a Hugging Face tokenizer.json: ${problem}`, file);
  if (!isRecord(raw)) throw bad('expected a JSON object');
  const model = raw.model;
  if (!isRecord(model)) throw bad('it has no "model" object');

  let maxId = -1;
  const vocab = model.vocab;
  if (Array.isArray(vocab)) {
    // Unigram: [[piece, score], ...], id = index.
    vocab.forEach((entry, i) => {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string') throw bad(`model.vocab[${i}] is not a [piece, score] pair`);
    });
    maxId = vocab.length - 1;
  } else if (isRecord(vocab)) {
    for (const [piece, id] of Object.entries(vocab)) {
      if (!isTokenId(id)) throw bad(`model.vocab[${JSON.stringify(piece)}] is not a token id`);
      if (id > maxId) maxId = id;
    }
  } else {
    throw bad('model.vocab is missing');
  }

  const added = new Map<number, string>();
  const addedRaw = raw.added_tokens ?? [];
  if (!Array.isArray(addedRaw)) throw bad('"added_tokens" is not a list');
  addedRaw.forEach((t: unknown, i) => {
    if (!isRecord(t) || !isTokenId(t.id) || typeof t.content !== 'string' || t.content.length === 0) {
      throw bad(`added_tokens[${i}] needs an integer "id" and a non-empty string "content"`);
    }
    added.set(t.id, t.content);
    if (t.id > maxId) maxId = t.id;
  });

  const json: Record<string, unknown> = { ...raw, added_tokens: addedRaw };
  for (const key of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder']) {
    const v = raw[key] ?? null;
    if (v !== null && !isRecord(v)) throw bad(`"${key}" is neither null nor an object`);
    json[key] = v;
  }
  return { json, added, vocabSize: maxId + 1, unkId: unkIdOf(model, added) };
}

function unkIdOf(model: Record<string, unknown>, added: ReadonlyMap<number, string>): number | null {
  if (isTokenId(model.unk_id)) return model.unk_id; // Unigram
  const unk = model.unk_token;
  if (typeof unk !== 'string') return null;
  const id = isRecord(model.vocab) ? model.vocab[unk] : undefined;
  if (isTokenId(id)) return id;
  for (const [addedId, content] of added) if (content === unk) return addedId;
  return null;
}

/** tokenizer_config.json as the library reads it: token fields may be serialised AddedTokens ({content}) there. */
function libraryConfig(raw: unknown, file: string): Record<string, unknown> {
  if (!isRecord(raw)) throw new MoeError('E_TOKENIZER', `${file} is not a tokenizer config: expected a JSON object`, file);
  const tokenString = (v: unknown): unknown => (isRecord(v) && typeof v.content === 'string' ? v.content : v);
  const config: Record<string, unknown> = { ...raw };
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token']) {
    if (key in config) config[key] = tokenString(config[key]);
  }
  const extra = config.additional_special_tokens;
  config.additional_special_tokens = Array.isArray(extra) ? extra.map(tokenString).filter((s) => typeof s === 'string') : [];
  // The library cleans up spaces (" ," -> ",") unless told not to; current transformers does not by default.
  if (typeof config.clean_up_tokenization_spaces !== 'boolean') config.clean_up_tokenization_spaces = false;
  return config;
}

// -------------------------------------------------------------------------------------------- tokenizer

/** What the post-processor wraps around a single sequence, when it is a fixed prefix and suffix. */
interface Template {
  readonly prefix: readonly number[];
  readonly suffix: readonly number[];
}

class HfTokenizer implements ModelTokenizer {
  readonly vocabSize: number;
  private readonly template: Template | null;
  private tokenizedChars = 0;

  constructor(
    readonly file: string,
    private readonly lib: Tokenizer,
    private readonly spec: TokenizerSpec,
    private readonly scheme: SpanScheme,
  ) {
    this.vocabSize = spec.vocabSize;
    this.template = this.probeTemplate();
  }

  encode(text: string, opts?: { addSpecialTokens?: boolean }): TokenSpan[] {
    const addSpecial = opts?.addSpecialTokens ?? true;
    if (addSpecial && this.template === null) {
      // Unknown post-processor shape: align everything; its tokens get spans only if they are in the text.
      return alignTokens(text, this.pieces(text, true), this.scheme);
    }
    const body = alignTokens(text, this.pieces(text, false), this.scheme);
    if (!addSpecial || this.template === null) return body;
    const { prefix, suffix } = this.template;
    return [...prefix.map((id) => zeroWidthSpan(id, 0)), ...body, ...suffix.map((id) => zeroWidthSpan(id, text.length))];
  }

  encodeHead(source: string | TextHead, maxTokens: number, opts?: { addSpecialTokens?: boolean }): { tokens: TokenSpan[]; complete: boolean } {
    const head: TextHead = typeof source === 'string' ? (n) => source.slice(0, n) : source;
    let n = Math.max(HEAD_MIN_CHARS, maxTokens * HEAD_CHARS_PER_TOKEN);
    let previous: TokenSpan[] | undefined;
    for (;;) {
      let text = head(n);
      const whole = text.length < n;
      // Never hand the library half a surrogate pair.
      if (!whole && isHighSurrogate(text.charCodeAt(text.length - 1))) text = text.slice(0, -1);
      const tokens = this.encode(text, opts);
      if (whole) return { tokens: tokens.slice(0, maxTokens), complete: tokens.length <= maxTokens };
      if (tokens.length >= maxTokens + HEAD_MARGIN_TOKENS) {
        if (previous !== undefined && sameTokens(previous, tokens, maxTokens)) return { tokens: tokens.slice(0, maxTokens), complete: false };
        previous = tokens;
        n = Math.ceil(n * 1.25) + 256;
      } else {
        previous = undefined;
        n *= 2;
      }
    }
  }

  get charactersTokenized(): number {
    return this.tokenizedChars;
  }

  decode(ids: readonly number[]): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new MoeError('E_INPUT', `token id ${id} is not in the vocabulary of ${this.file} (0..${this.vocabSize - 1})`);
      }
    }
    // Ids in range but missing from a sparse vocabulary have no text; the library would choke on them.
    const known = ids.filter((id) => this.lib.id_to_token(id) !== undefined);
    if (known.length === 0) return '';
    try {
      return this.lib.decode(known);
    } catch (e) {
      throw new MoeError('E_TOKENIZER', `decoding with ${this.file} failed: ${errorText(e)}`, this.file);
    }
  }

  tokenText(id: number): string {
    const added = this.spec.added.get(id);
    if (added !== undefined) return added;
    const token = Number.isInteger(id) ? this.lib.id_to_token(id) : undefined;
    return token === undefined ? '' : bytesToDisplayText(tokenBytes(token, this.scheme));
  }

  private run(text: string, addSpecial: boolean): { ids: number[]; tokens: string[] } {
    this.tokenizedChars += text.length;
    try {
      return this.lib.encode(text, { add_special_tokens: addSpecial });
    } catch (e) {
      throw new MoeError('E_TOKENIZER', `tokenizing with ${this.file} failed: ${errorText(e)}`, this.file);
    }
  }

  private pieces(text: string, addSpecial: boolean): AlignPiece[] {
    const { ids, tokens } = this.run(text, addSpecial);
    const out: AlignPiece[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      // The library yields no id for a piece that is neither in the vocabulary nor mappable to unk; the model cannot take it.
      if (id === undefined || !Number.isInteger(id)) continue;
      const token = tokens[i] ?? '';
      const content = this.spec.added.get(id);
      // An added token's string differs from its content when it is the unk standing for source text, or a
      // normalised variant; both are aligned like model tokens (an <unk> then takes the text it replaced).
      const isAdded = content !== undefined && content === token && id !== this.spec.unkId;
      out.push(isAdded ? { kind: 'added', id, content } : { kind: 'text', id, token });
    }
    return out;
  }

  /**
   * Finds the fixed tokens the post-processor puts before and after a sequence (BOS, EOS, CLS/SEP...), so a
   * text is tokenized once and those tokens get zero-width spans where they sit. Null if the
   * post-processor does something else.
   */
  private probeTemplate(): Template | null {
    try {
      const empty = this.lib.encode('', { add_special_tokens: true }).ids;
      if (empty.length === 0) return { prefix: [], suffix: [] };
      for (const probe of ['a', 'hello', '0', 'x y']) {
        const body = this.lib.encode(probe, { add_special_tokens: false }).ids;
        if (body.length === 0) continue;
        const full = this.lib.encode(probe, { add_special_tokens: true }).ids;
        if (full.length !== empty.length + body.length) return null;
        for (let k = 0; k <= empty.length; k++) {
          const fits = full.every((id, i) => id === (i < k ? empty[i] : i < k + body.length ? body[i - k] : empty[i - body.length]));
          if (fits) return { prefix: empty.slice(0, k), suffix: empty.slice(k) };
        }
        return null;
      }
      return null;
    } catch {
      return null;
    }
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** Whether the first `n` tokens of `a` and `b` are the same ids over the same spans. */
function sameTokens(a: readonly TokenSpan[], b: readonly TokenSpan[], n: number): boolean {
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (!x || !y || x.id !== y.id || x.start !== y.start || x.end !== y.end) return false;
  }
  return true;
}
