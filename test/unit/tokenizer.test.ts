// Tests for the tokenizer wrapper: ids from @huggingface/tokenizers, exact UTF-16 spans, errors.
// Run: node --import tsx --test test/unit/tokenizer.test.ts
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import type { TokenSpan } from '../../src/protocol/engineProtocol';
import { MoeError } from '../../src/protocol/moeError';
import { loadTokenizer, type ModelTokenizer } from '../../src/engine/tokenizer/tokenizer';
import { alignTokens, spanSchemeOf, tokenBytes, type AlignPiece } from '../../src/engine/tokenizer/tokenSpans';

const FIXTURES = '/work/shared/fixtures/hf-moe';
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-tokenizer-'));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

let dirCounter = 0;
/** A fresh model folder holding the given files (objects are written as JSON, strings as they are). */
function modelDir(files: Record<string, unknown>): string {
  const dir = path.join(tmpRoot, `m${dirCounter++}`);
  fs.mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

// ------------------------------------------------------------------------------------------ tokenizers

/** GPT-2's bytes_to_unicode: the char standing for each byte in byte-level BPE. */
function byteChar(b: number): string {
  const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  if (printable) return String.fromCharCode(b);
  let n = 0;
  for (let x = 0; x < b; x++) {
    const p = (x >= 0x21 && x <= 0x7e) || (x >= 0xa1 && x <= 0xac) || (x >= 0xae && x <= 0xff);
    if (!p) n++;
  }
  return String.fromCharCode(256 + n);
}

const G = byteChar(0x20); // 'Ġ'
const NL = byteChar(0x0a); // 'Ċ'

/** Byte-level BPE (Qwen/GPT-2 style) with merges building "hello" and " world", chat tokens and a BOS template. */
function byteLevelMergesJson(): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  for (let b = 0; b < 256; b++) vocab[byteChar(b)] = b;
  const merges = ['h e', 'l l', 'he ll', 'hell o', `${G} w`, 'o r', `${G}w or`, `${G}wor l`, `${G}worl d`];
  let id = 256;
  for (const m of merges) vocab[m.replace(' ', '')] = id++;
  const special = (content: string, tid: number): Record<string, unknown> => ({ id: tid, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    version: '1.0',
    added_tokens: [special('<|im_start|>', 300), special('<|im_end|>', 301), special('<s>', 302)],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [302], tokens: ['<s>'] } },
    },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  };
}

const SP = '\u2581'; // '▁'

/** Mistral/Mixtral-style SentencePiece BPE: Prepend('▁') + Replace(' ' -> '▁') normaliser, byte fallback, BOS template. */
function sentencePieceJson(): Record<string, unknown> {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  let id = 259;
  for (const piece of [SP, 'h', 'e', 'l', 'o', 'w', 'r', 'd', 'a', 'b', 'c', 'i', 'n', 's', 't', 'u', 'x', 'y', ',', '.']) vocab[piece] = id++;
  const merges = [`${SP} h`, `${SP}h e`, 'l l', `${SP}he ll`, `${SP}hell o`, `${SP} w`];
  for (const m of merges) vocab[m.replace(' ', '')] = id++;
  const special = (content: string, tid: number): Record<string, unknown> => ({ id: tid, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    version: '1.0',
    added_tokens: [special('<unk>', 0), special('<s>', 1), special('</s>', 2), special('[INST]', id)],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: SP }, { type: 'Replace', pattern: { String: ' ' }, content: SP }] },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: SP }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, vocab, merges },
  };
}

/** T5/XLM-R-style Unigram with a Metaspace pre-tokenizer and no byte fallback: unknown chars become <unk>. */
function unigramJson(): Record<string, unknown> {
  const pieces = ['<unk>', '</s>', `${SP}hello`, `${SP}world`, SP, 'h', 'e', 'l', 'o', 'w', 'r', 'd', `${SP}h`];
  return {
    version: '1.0',
    added_tokens: [
      { id: 0, content: '<unk>', special: true, normalized: false },
      { id: 1, content: '</s>', special: true, normalized: false },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: SP, prepend_scheme: 'always', split: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
    },
    decoder: { type: 'Metaspace', replacement: SP, prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: 0, vocab: pieces.map((p, i) => [p, i < 2 ? 0 : -i]), byte_fallback: false },
  };
}

/** BERT-style WordPiece: whitespace is dropped by the pre-tokenizer and the text is lowercased. */
function wordPieceJson(): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  ['[UNK]', '[CLS]', '[SEP]', 'hello', 'world', ',', '##ing', 'play', '!'].forEach((p, i) => (vocab[p] = i));
  return {
    version: '1.0',
    added_tokens: [
      { id: 0, content: '[UNK]', special: true, normalized: false },
      { id: 1, content: '[CLS]', special: true, normalized: false },
      { id: 2, content: '[SEP]', special: true, normalized: false },
    ],
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      special_tokens: { '[CLS]': { id: '[CLS]', ids: [1], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [2], tokens: ['[SEP]'] } },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

const fixture = (): ModelTokenizer => loadTokenizer(path.join(FIXTURES, 'qwen3_moe'));
const byteLevelMerges = (): ModelTokenizer => loadTokenizer(modelDir({ 'tokenizer.json': byteLevelMergesJson() }));
const sentencePiece = (): ModelTokenizer => loadTokenizer(modelDir({ 'tokenizer.json': sentencePieceJson(), 'tokenizer_config.json': { add_bos_token: true, bos_token: { content: '<s>', special: true }, clean_up_tokenization_spaces: false } }));

// ------------------------------------------------------------------------------------------ helpers

const spansOf = (tokens: readonly TokenSpan[]): [number, number][] => tokens.map((t) => [t.start, t.end]);
const utf8 = (s: string): number[] => [...Buffer.from(s, 'utf8')];

/**
 * The invariants every alignment must keep: token.text is the source substring, spans never go backwards,
 * and (when `reconstructs`) the distinct non-empty spans tile the text exactly.
 */
function assertConsistent(text: string, tokens: readonly TokenSpan[], reconstructs: boolean): void {
  let prev: TokenSpan | null = null;
  for (const t of tokens) {
    assert.ok(t.start >= 0 && t.start <= t.end && t.end <= text.length, `span [${t.start},${t.end}) inside the text`);
    assert.equal(t.text, text.slice(t.start, t.end));
    if (prev) {
      assert.ok(t.start >= prev.start && t.end >= prev.end, `spans non-decreasing: [${prev.start},${prev.end}) then [${t.start},${t.end})`);
    }
    prev = t;
  }
  if (!reconstructs) return;
  let rebuilt = '';
  let last: [number, number] | null = null;
  for (const t of tokens) {
    if (t.start === t.end) continue;
    if (last && last[0] === t.start && last[1] === t.end) continue; // several tokens of one character
    if (last) assert.equal(t.start, last[1], 'distinct spans are contiguous');
    rebuilt += t.text;
    last = [t.start, t.end];
  }
  assert.equal(rebuilt, text);
}

/** Deterministic mixed-script text: ASCII words, accents, CJK, emoji, whitespace runs, lone surrogates. */
function mixedText(length: number, seed: number): string {
  const parts = ['hello', ' world', ' ', '  ', '\n', '\t', 'é', 'ö', '世界', '🙂', '👩‍💻', 'Ω', ',', '.', '!', 'abc', 'x', '\u00a0', '\u3000', '\ud800', '\udc00', '▁', '<s>', '<|im_start|>', '[INST]', '0123'];
  let s = '';
  let x = seed;
  while (s.length < length) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    s += parts[x % parts.length];
  }
  return s;
}

// ------------------------------------------------------------------------------------------ fixtures

describe('fixture tokenizer (byte-level BPE, no merges, id = byte)', () => {
  test('"héllo 世界 🙂": one token per byte, tokens of a character share its span', () => {
    const tok = fixture();
    const text = 'héllo 世界 🙂';
    const tokens = tok.encode(text);
    assert.deepEqual(
      tokens.map((t) => t.id),
      utf8(text),
    );
    // HF's offsets are [[0,1],[1,2],[1,2],[2,3],[3,4],[4,5],[5,6],[6,7]x3,[7,8]x3,[8,9],[9,10]x4] in
    // characters; 🙂 is two UTF-16 units, so in UTF-16 its four byte tokens all span [9,11].
    assert.deepEqual(spansOf(tokens), [
      [0, 1], [1, 2], [1, 2], [2, 3], [3, 4], [4, 5], [5, 6],
      [6, 7], [6, 7], [6, 7], [7, 8], [7, 8], [7, 8], [8, 9],
      [9, 11], [9, 11], [9, 11], [9, 11],
    ]);
    assert.deepEqual(
      tokens.map((t) => t.text),
      ['h', 'é', 'é', 'l', 'l', 'o', ' ', '世', '世', '世', '界', '界', '界', ' ', '🙂', '🙂', '🙂', '🙂'],
    );
    assert.equal(tok.decode(tokens.map((t) => t.id)), text);
    assertConsistent(text, tokens, true);
  });

  test('every fixture folder loads; ids are the UTF-8 bytes for mixed text', () => {
    const text = mixedText(2000, 7);
    const bytes = utf8(text);
    for (const arch of fs.readdirSync(FIXTURES).filter((d) => fs.existsSync(path.join(FIXTURES, d, 'tokenizer.json')))) {
      const tok = loadTokenizer(path.join(FIXTURES, arch));
      assert.equal(tok.vocabSize, 256, arch);
      assert.equal(tok.file, path.join(FIXTURES, arch, 'tokenizer.json'));
      const tokens = tok.encode(text);
      assert.deepEqual(
        tokens.map((t) => t.id),
        bytes,
        arch,
      );
      assertConsistent(text, tokens, true);
    }
  });

  test('tokenText shows characters, and bytes of a split character as <0xAB>', () => {
    const tok = fixture();
    assert.equal(tok.tokenText(0x68), 'h');
    assert.equal(tok.tokenText(0x20), ' ');
    assert.equal(tok.tokenText(0x0a), '\n');
    assert.equal(tok.tokenText(0xe4), '<0xE4>');
    assert.equal(tok.tokenText(9999), '');
    assert.equal(tok.decode([]), '');
  });

  test('decode rejects ids outside the vocabulary', () => {
    const tok = fixture();
    assert.throws(
      () => tok.decode([1, 256]),
      (e: unknown) => e instanceof MoeError && e.code === 'E_INPUT' && /256/.test(e.message),
    );
    assert.throws(() => tok.decode([1.5]), MoeError);
  });
});

// ------------------------------------------------------------------------------------------ byte-level

describe('byte-level BPE with merges and added tokens', () => {
  test('merged tokens, chat special tokens from the text, BOS from the template', () => {
    const tok = byteLevelMerges();
    const text = '<|im_start|>user\nhello world 世界<|im_end|>';
    const tokens = tok.encode(text);
    const expected: [number, number, number, string][] = [
      [302, 0, 0, ''], // BOS added by TemplateProcessing: no source text, sits at 0
      [300, 0, 12, '<|im_start|>'],
      [0x75, 12, 13, 'u'],
      [0x73, 13, 14, 's'],
      [0x65, 14, 15, 'e'],
      [0x72, 15, 16, 'r'],
      [0x0a, 16, 17, '\n'],
      [259, 17, 22, 'hello'],
      [264, 22, 28, ' world'],
      [0x20, 28, 29, ' '],
      [0xe4, 29, 30, '世'],
      [0xb8, 29, 30, '世'],
      [0x96, 29, 30, '世'],
      [0xe7, 30, 31, '界'],
      [0x95, 30, 31, '界'],
      [0x8c, 30, 31, '界'],
      [301, 31, 41, '<|im_end|>'],
    ];
    assert.deepEqual(
      tokens.map((t) => [t.id, t.start, t.end, t.text]),
      expected,
    );
    assertConsistent(text, tokens, true);
    assert.equal(tok.decode(tokens.slice(1).map((t) => t.id)), text);
    assert.equal(tok.vocabSize, 303);
  });

  test('addSpecialTokens=false leaves out the BOS but keeps special tokens written in the text', () => {
    const tok = byteLevelMerges();
    const tokens = tok.encode('<|im_start|>hello', { addSpecialTokens: false });
    assert.deepEqual(
      tokens.map((t) => [t.id, t.start, t.end]),
      [
        [300, 0, 12],
        [259, 12, 17],
      ],
    );
  });

  test('tokenText: merged tokens decoded (leading space kept), special tokens as their content', () => {
    const tok = byteLevelMerges();
    assert.equal(tok.tokenText(264), ' world');
    assert.equal(tok.tokenText(259), 'hello');
    assert.equal(tok.tokenText(300), '<|im_start|>');
    assert.equal(tok.tokenText(302), '<s>');
  });

  test('empty text: only the template tokens', () => {
    const tok = byteLevelMerges();
    assert.deepEqual(tok.encode(''), [{ id: 302, text: '', start: 0, end: 0 }]);
    assert.deepEqual(tok.encode('', { addSpecialTokens: false }), []);
  });

  test('a Llama-3-style Sequence[ByteLevel, TemplateProcessing] post-processor with BOS and EOS', () => {
    const json = byteLevelMergesJson();
    const template = json.post_processor as Record<string, unknown>;
    template.single = [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<|im_end|>', type_id: 0 } }];
    template.special_tokens = { '<s>': { id: '<s>', ids: [302], tokens: ['<s>'] }, '<|im_end|>': { id: '<|im_end|>', ids: [301], tokens: ['<|im_end|>'] } };
    json.post_processor = { type: 'Sequence', processors: [{ type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true }, template] };
    const tok = loadTokenizer(modelDir({ 'tokenizer.json': json }));
    const text = 'hello<|im_end|>';
    assert.deepEqual(
      tok.encode(text).map((t) => [t.id, t.start, t.end]),
      [
        [302, 0, 0],
        [259, 0, 5],
        [301, 5, 15], // written in the text
        [301, 15, 15], // added by the template, at the end
      ],
    );
  });

  test('a Qwen2-style Split + ByteLevel(use_regex=false) pre-tokenizer sequence aligns the same way', () => {
    const json = byteLevelMergesJson();
    json.pre_tokenizer = {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: "(?:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
      ],
    };
    const tok = loadTokenizer(modelDir({ 'tokenizer.json': json }));
    const text = 'hello world!\n\n世界 🙂 x';
    const tokens = tok.encode(text, { addSpecialTokens: false });
    assert.deepEqual(
      tokens.slice(0, 2).map((t) => [t.id, t.start, t.end]),
      [
        [259, 0, 5],
        [264, 5, 11],
      ],
    );
    assertConsistent(text, tokens, true);
    assert.equal(tok.decode(tokens.map((t) => t.id)), text);
  });

  test('add_prefix_space: the space the pre-tokenizer adds is not given a source character', () => {
    const json = byteLevelMergesJson();
    json.pre_tokenizer = { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true };
    const tok = loadTokenizer(modelDir({ 'tokenizer.json': json }));
    const tokens = tok.encode('world world', { addSpecialTokens: false });
    assert.deepEqual(
      tokens.map((t) => [t.id, t.start, t.end, t.text]),
      [
        [264, 0, 5, 'world'],
        [264, 5, 11, ' world'],
      ],
    );
  });
});

// ------------------------------------------------------------------------------------------ SentencePiece

describe('SentencePiece-style BPE (Prepend + Replace normaliser, byte fallback)', () => {
  test('byte fallback for characters missing from the vocabulary keeps exact spans', () => {
    const tok = sentencePiece();
    const text = 'hello wörld 世界!';
    const tokens = tok.encode(text);
    const id = (piece: string): number => (sentencePieceJson().model as { vocab: Record<string, number> }).vocab[piece]!;
    const byte = (b: number): number => 3 + b;
    assert.deepEqual(
      tokens.map((t) => [t.id, t.start, t.end, t.text]),
      [
        [1, 0, 0, ''], // BOS
        [id(`${SP}hello`), 0, 5, 'hello'], // the prepended '▁' has no source character
        [id(`${SP}w`), 5, 7, ' w'],
        [byte(0xc3), 7, 8, 'ö'],
        [byte(0xb6), 7, 8, 'ö'],
        [id('r'), 8, 9, 'r'],
        [id('l'), 9, 10, 'l'],
        [id('d'), 10, 11, 'd'],
        [id(SP), 11, 12, ' '],
        [byte(0xe4), 12, 13, '世'],
        [byte(0xb8), 12, 13, '世'],
        [byte(0x96), 12, 13, '世'],
        [byte(0xe7), 13, 14, '界'],
        [byte(0x95), 13, 14, '界'],
        [byte(0x8c), 13, 14, '界'],
        [byte(0x21), 14, 15, '!'],
      ],
    );
    assertConsistent(text, tokens, true);
    assert.equal(tok.decode(tokens.slice(1).map((t) => t.id)), text);
  });

  test('each section after an added token gets its own prepended ▁, none of them in the text', () => {
    const tok = sentencePiece();
    const text = 'hello[INST]hello [INST] hello';
    const tokens = tok.encode(text, { addSpecialTokens: false });
    assertConsistent(text, tokens, true);
    const inst = tokens.filter((t) => t.text === '[INST]').map((t) => [t.start, t.end]);
    assert.deepEqual(inst, [
      [5, 11],
      [17, 23],
    ]);
    // " hello" becomes "▁▁hello" -> "▁", "▁hello": the first ▁ takes the real space, the prepended one has none.
    const hello = (sentencePieceJson().model as { vocab: Record<string, number> }).vocab[`${SP}hello`];
    assert.deepEqual(
      tokens.filter((t) => t.id === hello).map((t) => [t.start, t.end]),
      [
        [0, 5],
        [11, 16],
        [24, 29],
      ],
    );
  });

  test('leading spaces and a literal ▁ in the text', () => {
    const tok = sentencePiece();
    for (const text of [' hello', '  hello  world ', `a${SP}b`, SP, '\n\nhello\n']) {
      assertConsistent(text, tok.encode(text), true);
    }
  });

  test('tokenText keeps the space a ▁ stands for and shows fallback bytes', () => {
    const tok = sentencePiece();
    const vocab = (sentencePieceJson().model as { vocab: Record<string, number> }).vocab;
    assert.equal(tok.tokenText(vocab[`${SP}hello`]!), ' hello');
    assert.equal(tok.tokenText(3 + 0x21), '!');
    assert.equal(tok.tokenText(3 + 0xe4), '<0xE4>');
    assert.equal(tok.tokenText(1), '<s>');
  });
});

describe('Unigram with Metaspace, no byte fallback', () => {
  test('an <unk> takes the span of the characters it replaced', () => {
    const tok = loadTokenizer(modelDir({ 'tokenizer.json': unigramJson() }));
    const text = 'hello 🙂 world';
    const tokens = tok.encode(text);
    const unk = tokens.find((t) => t.id === 0);
    assert.ok(unk, 'an <unk> token');
    assert.deepEqual([unk.start, unk.end, unk.text], [6, 8, '🙂']);
    const eos = tokens[tokens.length - 1]!;
    assert.deepEqual([eos.id, eos.start, eos.end], [1, text.length, text.length]); // EOS sits at the end
    assert.deepEqual(
      tokens.filter((t) => t.id === 2 || t.id === 3).map((t) => t.text),
      ['hello', ' world'],
    );
    assertConsistent(text, tokens, true);
  });
});

describe('WordPiece with Lowercase normaliser and whitespace-dropping pre-tokenizer', () => {
  test('spans skip dropped whitespace and match case-insensitively', () => {
    const tok = loadTokenizer(modelDir({ 'tokenizer.json': wordPieceJson() }));
    const text = 'Hello  WORLD, playing!';
    const tokens = tok.encode(text);
    assert.deepEqual(
      tokens.map((t) => [t.id, t.start, t.end, t.text]),
      [
        [1, 0, 0, ''],
        [3, 0, 5, 'Hello'],
        [4, 7, 12, 'WORLD'],
        [5, 12, 13, ','],
        [7, 14, 18, 'play'],
        [6, 18, 21, 'ing'],
        [8, 21, 22, '!'],
        [2, 22, 22, ''],
      ],
    );
    assertConsistent(text, tokens, false);
  });
});

// ------------------------------------------------------------------------------------------ robustness

describe('span invariants on mixed text', () => {
  test('every tokenizer keeps the invariants on mixed-script text with odd characters', () => {
    const cases: [string, ModelTokenizer, boolean][] = [
      ['fixture', fixture(), true],
      ['byte-level merges', byteLevelMerges(), true],
      ['sentencepiece', sentencePiece(), true],
      ['unigram', loadTokenizer(modelDir({ 'tokenizer.json': unigramJson() })), false],
      ['wordpiece', loadTokenizer(modelDir({ 'tokenizer.json': wordPieceJson() })), false],
    ];
    for (let seed = 1; seed <= 20; seed++) {
      const text = mixedText(300, seed);
      for (const [name, tok, reconstructs] of cases) {
        for (const addSpecialTokens of [true, false]) {
          const tokens = tok.encode(text, { addSpecialTokens });
          try {
            assertConsistent(text, tokens, reconstructs);
          } catch (e) {
            throw new Error(`${name}, seed ${seed}: ${(e as Error).message}\ntext: ${JSON.stringify(text)}`);
          }
        }
      }
    }
  });

  test('alignTokens never throws on tokens that do not fit the text', () => {
    const scheme = spanSchemeOf(byteLevelMergesJson());
    const pieces: AlignPiece[] = [
      { kind: 'text', id: 1, token: 'zzz' },
      { kind: 'added', id: 2, content: '<nope>' },
      { kind: 'text', id: 3, token: '' },
      { kind: 'text', id: 4, token: 'b' },
      { kind: 'text', id: 5, token: 'qq' },
    ];
    const text = 'a\ud800b';
    const spans = alignTokens(text, pieces, scheme);
    assert.equal(spans.length, pieces.length);
    assertConsistent(text, spans, false);
    assert.deepEqual([spans[3]!.start, spans[3]!.end], [2, 3]); // 'b' found past the characters nothing matched
    assert.deepEqual(alignTokens('', pieces, scheme).map((s) => [s.start, s.end]), pieces.map(() => [0, 0]));
  });

  test('tokenBytes inverts the byte-level alphabet and SentencePiece markers', () => {
    const bl = spanSchemeOf(byteLevelMergesJson());
    assert.deepEqual([...tokenBytes(`${G}wor${NL}`, bl)], [0x20, 0x77, 0x6f, 0x72, 0x0a]);
    const sp = spanSchemeOf(sentencePieceJson());
    assert.deepEqual([...tokenBytes(`${SP}hi`, sp)], [0x20, 0x68, 0x69]);
    assert.deepEqual([...tokenBytes('<0xE4>', sp)], [0xe4]);
    const wp = spanSchemeOf(wordPieceJson());
    assert.deepEqual([...tokenBytes('##ing', wp)], utf8('ing'));
  });
});

// Throughput is a benchmark figure, not an assertion (a loaded machine made a 1 s bound fail): the time is
// printed as a diagnostic; the test checks that a long mixed text still encodes consistently.
describe('long text', () => {
  test('a ~100 KB text encodes consistently (time printed as a diagnostic)', (t) => {
    const text = mixedText(100_000, 3);
    for (const [name, tok] of [
      ['fixture', fixture()],
      ['byte-level merges', byteLevelMerges()],
    ] as const) {
      tok.encode(text.slice(0, 1000)); // warm up
      const t0 = performance.now();
      const tokens = tok.encode(text);
      t.diagnostic(`${name}: ${(performance.now() - t0).toFixed(0)} ms for ${text.length} chars, ${tokens.length} tokens`);
      assertConsistent(text, tokens, true);
    }
  });
});

// ------------------------------------------------------------------------------------------ errors

function assertTokenizerError(dir: string, file: string, pattern: RegExp): void {
  assert.throws(
    () => loadTokenizer(dir),
    (e: unknown) => {
      assert.ok(e instanceof MoeError, `a MoeError, got ${String(e)}`);
      assert.equal(e.code, 'E_TOKENIZER');
      assert.equal(e.file, file);
      assert.ok(e.message.includes(file), `message names the file: ${e.message}`);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

describe('errors', () => {
  test('tokenizer.json missing', () => {
    const dir = modelDir({ 'config.json': {} });
    const file = path.join(dir, 'tokenizer.json');
    assertTokenizerError(dir, file, /not found: .*tokenizer\.json\. A model folder needs tokenizer\.json \(the Hugging Face fast-tokenizer file\)/);
  });

  test('tokenizer.json is not JSON: the parse error is included', () => {
    const dir = modelDir({ 'tokenizer.json': '{"model": {' });
    let parseError = '';
    try {
      JSON.parse('{"model": {');
    } catch (e) {
      parseError = (e as Error).message;
    }
    assertTokenizerError(dir, path.join(dir, 'tokenizer.json'), new RegExp(`not valid JSON: ${parseError.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  test('tokenizer.json of the wrong shape', () => {
    for (const [content, pattern] of [
      [[1, 2], /expected a JSON object/],
      [{ version: '1.0' }, /no "model" object/],
      [{ model: 'BPE' }, /no "model" object/],
      [{ model: { type: 'BPE' } }, /model\.vocab is missing/],
      [{ model: { type: 'BPE', vocab: { a: 'x' }, merges: [] } }, /model\.vocab\["a"\] is not a token id/],
      [{ model: { type: 'BPE', vocab: { a: 0 }, merges: [] }, added_tokens: {} }, /"added_tokens" is not a list/],
      [{ model: { type: 'BPE', vocab: { a: 0 }, merges: [] }, added_tokens: [{ id: -1, content: 'x' }] }, /added_tokens\[0\]/],
      [{ model: { type: 'BPE', vocab: { a: 0 }, merges: [] }, normalizer: 'NFC' }, /"normalizer" is neither null nor an object/],
    ] as const) {
      const dir = modelDir({ 'tokenizer.json': content });
      assertTokenizerError(dir, path.join(dir, 'tokenizer.json'), pattern);
    }
  });

  test('the library rejects it: its message is wrapped', () => {
    const json = byteLevelMergesJson();
    json.normalizer = { type: 'Bogus' };
    const dir = modelDir({ 'tokenizer.json': json });
    assertTokenizerError(dir, path.join(dir, 'tokenizer.json'), /could not be loaded by the tokenizer library: .*Bogus/);
  });

  test('tokenizer_config.json broken: the error names that file', () => {
    const dir = modelDir({ 'tokenizer.json': byteLevelMergesJson(), 'tokenizer_config.json': 'not json' });
    assertTokenizerError(dir, path.join(dir, 'tokenizer_config.json'), /not valid JSON/);
    const dir2 = modelDir({ 'tokenizer.json': byteLevelMergesJson(), 'tokenizer_config.json': '[]' });
    assertTokenizerError(dir2, path.join(dir2, 'tokenizer_config.json'), /expected a JSON object/);
  });

  test('tokenizer.json over the size limit is refused before reading', () => {
    const dir = modelDir({});
    const file = path.join(dir, 'tokenizer.json');
    fs.writeFileSync(file, '');
    fs.truncateSync(file, 600 * 1024 * 1024); // sparse: takes no disk space
    assertTokenizerError(dir, file, /larger than/);
  });
});
