// Tests for the dtype conversions, the defensive safetensors reader and the atomic writer.
// Run: node --import tsx --test test/unit/safetensors.test.ts
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { MoeError, type MoeErrorCode } from '../../src/protocol/moeError';
import { bf16ToF32, dtypeBits, f16ToF32, f32ToBf16, f32ToF16 } from '../../src/engine/model/dtype';
import { openSafetensors, type SafetensorsFile } from '../../src/engine/model/safetensors';
import { writeSafetensors, type TensorToWrite } from '../../src/engine/model/safetensorsWriter';

const FIXTURES = '/work/shared/fixtures/hf-moe';
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-safetensors-'));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

let tmpCounter = 0;
function tmpPath(name: string): string {
  const dir = path.join(tmpRoot, `t${tmpCounter++}`);
  fs.mkdirSync(dir);
  return path.join(dir, name);
}

// ---------------------------------------------------------------------------------------------- helpers

function bitsOf(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

function floatFromBits(bits: number): number {
  return new Float32Array(new Uint32Array([bits >>> 0]).buffer)[0]!;
}

/** Reference half decoder straight from the IEEE definition (no bit tricks). */
function refHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * m * 2 ** -24;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

const isNaN16 = (h: number): boolean => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
const isNaNBf16 = (h: number): boolean => (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;

/**
 * Round-to-nearest-even by brute force: `values[i]` are the magnitudes of bit patterns 0..values.length-1
 * (monotonic), the last entry standing for inf with the value of the next power of two, so ties at the top
 * round to inf exactly as IEEE overflow does.
 */
function refRound(x: number, values: Float64Array): number {
  const sign = Object.is(x, -0) || x < 0 ? 1 : 0;
  const ax = Math.abs(x);
  let lo = 0;
  let hi = values.length - 1;
  if (ax >= values[hi]!) return hi | (sign ? 0x8000 : 0);
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (values[mid]! <= ax) lo = mid;
    else hi = mid;
  }
  const dLo = ax - values[lo]!;
  const dHi = values[hi]! - ax;
  const pick = dLo < dHi ? lo : dHi < dLo ? hi : lo % 2 === 0 ? lo : hi;
  return pick | (sign ? 0x8000 : 0);
}

const HALF_VALUES = (() => {
  const v = new Float64Array(0x7c01);
  for (let h = 0; h < 0x7c00; h++) v[h] = refHalf(h);
  v[0x7c00] = 65536;
  return v;
})();

const BF16_VALUES = (() => {
  const v = new Float64Array(0x7f81);
  for (let h = 0; h < 0x7f80; h++) v[h] = floatFromBits(h << 16);
  v[0x7f80] = 2 ** 128;
  return v;
})();

/** Deterministic pseudo-random generator (xorshift32) so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

function expectError(fn: () => unknown, code: MoeErrorCode, file: string, ...patterns: RegExp[]): MoeError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof MoeError, `expected a MoeError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.equal(err.file, file);
  assert.ok(err.message.includes(file), `message should name the file: ${err.message}`);
  for (const p of patterns) assert.match(err.message, p);
  return err;
}

async function expectRejects(p: Promise<unknown>, code: MoeErrorCode, file: string, ...patterns: RegExp[]): Promise<MoeError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof MoeError, `expected a MoeError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.equal(err.file, file);
  assert.ok(err.message.includes(file), `message should name the file: ${err.message}`);
  for (const re of patterns) assert.match(err.message, re);
  return err;
}

/** Writes a file from an explicit header (object or raw text), data bytes and an optional length override. */
function rawFile(file: string, header: string | object, data: Uint8Array = new Uint8Array(0), headerLength?: bigint): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLength ?? BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, data]));
  return file;
}

function readHeaderOf(file: string): { header: Record<string, any>; data: Buffer } {
  const b = fs.readFileSync(file);
  const n = Number(b.readBigUInt64LE(0));
  return { header: JSON.parse(b.subarray(8, 8 + n).toString('utf8')) as Record<string, any>, data: b.subarray(8 + n) };
}

/** A valid file: a F32 [2,3] (24 bytes), b BF16 [4] (8 bytes), c F16 [2] (4 bytes). */
async function validFile(): Promise<string> {
  const file = tmpPath('valid.safetensors');
  await writeSafetensors(
    file,
    [
      { name: 'a', dtype: 'F32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
      { name: 'b', dtype: 'BF16', shape: [4], data: new Float32Array([1, -2, 0.5, 8]) },
      { name: 'c', dtype: 'F16', shape: [2], data: new Float32Array([0.25, -1]) },
    ],
    { format: 'pt' },
  );
  return file;
}

/** A copy of `valid` with its header changed by `mutate` (the data section kept as is). */
function corrupt(valid: string, mutate: (h: Record<string, any>) => void): string {
  const { header, data } = readHeaderOf(valid);
  mutate(header);
  return rawFile(tmpPath('corrupt.safetensors'), header, data);
}

function withFile<T>(file: string, fn: (f: SafetensorsFile) => T): T {
  const f = openSafetensors(file);
  try {
    return fn(f);
  } finally {
    f.close();
  }
}

function tempLeftovers(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.includes('.tmp-')) : [];
}

// ---------------------------------------------------------------------------------------------- dtype

describe('dtype', () => {
  test('element sizes of the safetensors dtypes', () => {
    assert.equal(dtypeBits('F64'), 64);
    assert.equal(dtypeBits('F32'), 32);
    assert.equal(dtypeBits('BF16'), 16);
    assert.equal(dtypeBits('F16'), 16);
    assert.equal(dtypeBits('I64'), 64);
    assert.equal(dtypeBits('U16'), 16);
    assert.equal(dtypeBits('BOOL'), 8);
    assert.equal(dtypeBits('F8_E4M3'), 8);
    assert.equal(dtypeBits('F8_E5M2'), 8);
    assert.equal(dtypeBits('F4'), 4);
    assert.equal(dtypeBits('__proto__'), undefined);
    assert.equal(dtypeBits('f32'), undefined);
  });

  test('f16ToF32 is exact for all 65536 patterns (subnormals, inf, nan)', () => {
    const src = new Uint16Array(65536).map((_, i) => i);
    const dst = new Float32Array(65536);
    f16ToF32(src, dst);
    for (let h = 0; h < 65536; h++) {
      const ref = refHalf(h);
      if (Number.isNaN(ref)) assert.ok(Number.isNaN(dst[h]), `0x${h.toString(16)}`);
      else assert.ok(Object.is(dst[h], ref), `0x${h.toString(16)}: ${dst[h]} vs ${ref}`);
    }
  });

  test('f16 -> f32 -> f16 round trips all 65536 patterns', () => {
    const src = new Uint16Array(65536).map((_, i) => i);
    const f = new Float32Array(65536);
    const back = new Uint16Array(65536);
    f16ToF32(src, f);
    f32ToF16(f, back);
    for (let h = 0; h < 65536; h++) {
      if (isNaN16(h)) assert.ok(isNaN16(back[h]!) && (back[h]! & 0x8000) === (h & 0x8000), `nan 0x${h.toString(16)}`);
      else assert.equal(back[h], h, `0x${h.toString(16)}`);
    }
  });

  test('bf16 -> f32 -> bf16 round trips all 65536 patterns', () => {
    const src = new Uint16Array(65536).map((_, i) => i);
    const f = new Float32Array(65536);
    const back = new Uint16Array(65536);
    bf16ToF32(src, f);
    const bits = bitsOf(f);
    for (let h = 0; h < 65536; h++) assert.equal(bits[h], (h << 16) >>> 0);
    f32ToBf16(f, back);
    for (let h = 0; h < 65536; h++) {
      if (isNaNBf16(h)) assert.ok(isNaNBf16(back[h]!) && (back[h]! & 0x8000) === (h & 0x8000), `nan 0x${h.toString(16)}`);
      else assert.equal(back[h], h, `0x${h.toString(16)}`);
    }
  });

  test('f32ToF16 rounds to nearest even (every midpoint, its neighbours, random values)', () => {
    const xs: number[] = [];
    for (let h = 0; h < 0x7c00; h++) {
      // Midpoint between consecutive halves (exact in float32), and one float32 ulp either side of it.
      const mid = new Float32Array([(HALF_VALUES[h]! + HALF_VALUES[h + 1]!) / 2]);
      const b = bitsOf(mid)[0]!;
      xs.push(floatFromBits(b), floatFromBits(b - 1), floatFromBits(b + 1));
    }
    const r = rng(12345);
    for (let i = 0; i < 200000; i++) {
      const e = 95 + (r() % 55); // exponents around and beyond the half range
      xs.push(floatFromBits(((r() & 1) << 31) | (e << 23) | (r() & 0x7fffff)));
    }
    const src = new Float32Array(xs.flatMap((x) => [x, -x]));
    const dst = new Uint16Array(src.length);
    f32ToF16(src, dst);
    for (let i = 0; i < src.length; i++) {
      assert.equal(dst[i], refRound(src[i]!, HALF_VALUES), `x=${src[i]} (bits 0x${bitsOf(src)[i]!.toString(16)})`);
    }
  });

  test('f32ToF16 edge cases: overflow, underflow, signed zero, nan', () => {
    const cases: Array<[number, number]> = [
      [65504, 0x7bff],
      [65519.99, 0x7bff],
      [65520, 0x7c00],
      [1e10, 0x7c00],
      [-1e10, 0xfc00],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000], // tie between 0 and the smallest subnormal: even is 0
      [floatFromBits(0x33000001), 0x0001],
      [3 * 2 ** -25, 0x0002], // tie between 1 and 2 ulps: even is 2
      [2 ** -14, 0x0400],
      [2 ** -14 - 2 ** -25, 0x0400], // largest subnormal rounds up into the smallest normal
      [-0, 0x8000],
      [0, 0x0000],
      [1, 0x3c00],
      [1 + 2 ** -11, 0x3c00], // tie, even
      [1 + 3 * 2 ** -11, 0x3c02], // tie, even upward
    ];
    const dst = new Uint16Array(cases.length);
    f32ToF16(new Float32Array(cases.map((c) => c[0])), dst);
    cases.forEach(([x, want], i) => assert.equal(dst[i], want, `${x} -> 0x${dst[i]!.toString(16)}, want 0x${want.toString(16)}`));
    const nan = new Uint16Array(2);
    f32ToF16(new Float32Array([NaN, floatFromBits(0xff800001)]), nan);
    assert.ok(isNaN16(nan[0]!) && isNaN16(nan[1]!) && (nan[1]! & 0x8000) !== 0);
  });

  test('f32ToBf16 rounds to nearest even (every midpoint, its neighbours, random values)', () => {
    const xs: number[] = [];
    for (let h = 0; h < 0x7f80; h++) {
      const b = ((h << 16) | 0x8000) >>> 0; // exactly half-way between bf16 patterns h and h+1
      xs.push(floatFromBits(b), floatFromBits(b - 1), floatFromBits(b + 1));
    }
    const r = rng(777);
    for (let i = 0; i < 200000; i++) {
      const x = floatFromBits(r() & 0x7fffffff);
      if (!Number.isNaN(x)) xs.push(x);
    }
    const src = new Float32Array(xs.flatMap((x) => [x, -x]));
    const dst = new Uint16Array(src.length);
    f32ToBf16(src, dst);
    for (let i = 0; i < src.length; i++) {
      assert.equal(dst[i], refRound(src[i]!, BF16_VALUES), `x=${src[i]} (bits 0x${bitsOf(src)[i]!.toString(16)})`);
    }
    const nan = new Uint16Array(3);
    f32ToBf16(new Float32Array([NaN, floatFromBits(0x7fffffff), floatFromBits(0xff800001)]), nan);
    assert.ok(nan.every((h) => isNaNBf16(h)));
    assert.ok((nan[2]! & 0x8000) !== 0);
  });

  test('conversions refuse a destination that is too short', () => {
    assert.throws(() => f16ToF32(new Uint16Array(4), new Float32Array(3)), RangeError);
    assert.throws(() => f32ToBf16(new Float32Array(4), new Uint16Array(3)), RangeError);
  });
});

// ---------------------------------------------------------------------------------------------- round trips

describe('write -> read round trip', () => {
  test('F32 is bit-exact for every pattern, including NaN payloads', async () => {
    const r = rng(1);
    const values = new Float32Array(1000);
    const bits = bitsOf(values);
    for (let i = 0; i < bits.length; i++) bits[i] = r();
    bits[0] = 0x7fc01234; // a NaN with payload
    bits[1] = 0x80000000; // -0
    const file = tmpPath('f32.safetensors');
    await writeSafetensors(file, [{ name: 'w', dtype: 'F32', shape: [10, 100], data: values }]);
    withFile(file, (f) => {
      const e = f.tensors.get('w')!;
      assert.equal(e.dtype, 'F32');
      assert.deepEqual(e.shape, [10, 100]);
      assert.equal(e.byteLength, 4000);
      assert.deepEqual(bitsOf(f.readF32('w')), bits);
      assert.deepEqual(f.readRaw('w'), new Uint8Array(values.buffer));
    });
  });

  test('F16 and BF16 are bit-exact for values representable in the dtype', async () => {
    const halves = new Uint16Array(65536).map((_, i) => i).filter((h) => !isNaN16(h));
    const bfs = new Uint16Array(65536).map((_, i) => i).filter((h) => !isNaNBf16(h));
    const halfF32 = new Float32Array(halves.length);
    const bfF32 = new Float32Array(bfs.length);
    f16ToF32(halves, halfF32);
    bf16ToF32(bfs, bfF32);
    const file = tmpPath('half.safetensors');
    await writeSafetensors(file, [
      { name: 'h', dtype: 'F16', shape: [halves.length], data: halfF32 },
      { name: 'b', dtype: 'BF16', shape: [bfs.length], data: bfF32 },
    ]);
    withFile(file, (f) => {
      assert.deepEqual(bitsOf(f.readF32('h')), bitsOf(halfF32));
      assert.deepEqual(bitsOf(f.readF32('b')), bitsOf(bfF32));
      // The stored bytes are exactly the original 16-bit patterns.
      assert.deepEqual(new Uint16Array(f.readRaw('h').slice().buffer), halves);
      assert.deepEqual(new Uint16Array(f.readRaw('b').slice().buffer), bfs);
    });
  });

  test('float32 data is rounded to F16/BF16 on write exactly like the conversion functions', async () => {
    const r = rng(99);
    const values = new Float32Array(3000).map(() => (r() / 2 ** 32 - 0.5) * 100);
    const wantH = new Uint16Array(values.length);
    const wantB = new Uint16Array(values.length);
    f32ToF16(values, wantH);
    f32ToBf16(values, wantB);
    const file = tmpPath('rounded.safetensors');
    await writeSafetensors(file, [
      { name: 'h', dtype: 'F16', shape: [3, 1000], data: values },
      { name: 'b', dtype: 'BF16', shape: [3000], data: values },
    ]);
    withFile(file, (f) => {
      assert.deepEqual(new Uint16Array(f.readRaw('h').slice().buffer), wantH);
      assert.deepEqual(new Uint16Array(f.readRaw('b').slice().buffer), wantB);
    });
  });

  test('raw bytes are written as given; empty tensors are allowed', async () => {
    const raw = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const file = tmpPath('raw.safetensors');
    await writeSafetensors(file, [
      { name: 'raw', dtype: 'BF16', shape: [2, 2], data: raw },
      { name: 'empty', dtype: 'F32', shape: [0, 5], data: new Float32Array(0) },
    ]);
    withFile(file, (f) => {
      assert.deepEqual(f.readRaw('raw'), raw);
      assert.equal(f.readF32('empty').length, 0);
      assert.equal(f.tensors.get('empty')!.byteLength, 0);
    });
  });

  test('readF32 reads into a caller buffer at an offset', async () => {
    const file = await validFile();
    withFile(file, (f) => {
      const out = new Float32Array(20).fill(-7);
      const view = f.readF32('a', out, 3);
      assert.deepEqual([...view], [1, 2, 3, 4, 5, 6]);
      assert.equal(view.buffer, out.buffer);
      f.readF32('b', out, 9);
      f.readF32('c', out, 13);
      assert.deepEqual([...out], [-7, -7, -7, 1, 2, 3, 4, 5, 6, 1, -2, 0.5, 8, 0.25, -1, -7, -7, -7, -7, -7]);
      assert.throws(() => f.readF32('a', out, 15), (e: unknown) => e instanceof MoeError && /do not fit/.test(e.message));
    });
  });

  test('metadata round trips; without metadata there is no __metadata__', async () => {
    const file = tmpPath('meta.safetensors');
    const meta = { format: 'pt', note: 'héllo "quoted" 世界' };
    await writeSafetensors(file, [{ name: 'x', dtype: 'F32', shape: [1], data: new Float32Array([1]) }], meta);
    withFile(file, (f) => assert.deepEqual({ ...f.metadata }, meta));
    const plain = tmpPath('nometa.safetensors');
    await writeSafetensors(plain, [{ name: 'x', dtype: 'F32', shape: [1], data: new Float32Array([1]) }]);
    assert.equal('__metadata__' in readHeaderOf(plain).header, false);
    withFile(plain, (f) => assert.deepEqual({ ...f.metadata }, {}));
    // A hostile "__proto__" key stays an ordinary entry instead of replacing the prototype.
    const proto = rawFile(tmpPath('proto.safetensors'), '{"__metadata__":{"__proto__":"x"}}');
    withFile(proto, (f) => {
      assert.equal(Object.getOwnPropertyDescriptor(f.metadata, '__proto__')?.value, 'x');
      assert.equal(Object.getPrototypeOf(f.metadata), Object.prototype);
    });
  });

  test('layout: 8-aligned data section, tensors by decreasing element size then name, contiguous', async () => {
    const file = tmpPath('layout.safetensors');
    const t = (name: string, dtype: 'F32' | 'F16' | 'BF16', n: number): TensorToWrite => ({ name, dtype, shape: [n], data: new Float32Array(n) });
    await writeSafetensors(file, [t('z16', 'F16', 3), t('b32', 'F32', 5), t('a16', 'BF16', 1), t('a32', 'F32', 7), t('m16', 'F16', 2)], { format: 'pt' });
    const size = fs.statSync(file).size;
    const n = Number(fs.readFileSync(file).readBigUInt64LE(0));
    assert.equal((8 + n) % 8, 0);
    assert.deepEqual(Object.keys(readHeaderOf(file).header), ['__metadata__', 'a32', 'b32', 'a16', 'm16', 'z16']);
    withFile(file, (f) => {
      const entries = [...f.tensors.values()].sort((a, b) => a.byteOffset - b.byteOffset);
      assert.deepEqual(entries.map((e) => e.name), ['a32', 'b32', 'a16', 'm16', 'z16']);
      let pos = 8 + n;
      for (const e of entries) {
        assert.equal(e.byteOffset, pos, `${e.name} starts right after the previous tensor`);
        assert.equal(e.byteOffset % (dtypeBits(e.dtype)! / 8), 0, `${e.name} aligned`);
        pos += e.byteLength;
      }
      assert.equal(pos, size);
    });
  });

  for (const file of ['qwen3_moe/model.safetensors', 'llama/model.safetensors', 'mixtral/model-00001-of-00002.safetensors', 'granitemoe/expected.safetensors']) {
    test(`rewriting ${file} from readRaw reproduces the HF file byte for byte`, async () => {
      const src = path.join(FIXTURES, file);
      const tensors = withFile(src, (f) =>
        [...f.tensors.values()].map((e): TensorToWrite => {
          // I32 has the same element size as F32: write it as F32 raw bytes, then patch the dtype name back.
          const dtype = e.dtype === 'I32' ? 'F32' : (e.dtype as 'F32' | 'F16' | 'BF16');
          return { name: e.name, dtype, shape: e.shape, data: f.readRaw(e.name) };
        }),
      );
      const meta = withFile(src, (f) => ({ ...f.metadata }));
      const out = tmpPath('copy.safetensors');
      await writeSafetensors(out, tensors, meta);
      let written = fs.readFileSync(out);
      const original = fs.readFileSync(src);
      if (file.endsWith('expected.safetensors')) {
        // Same length text swap: '"dtype":"F32","shape":[T]...input_ids' -> I32.
        const { header, data } = readHeaderOf(out);
        for (const [name, v] of Object.entries(header)) if (name.endsWith('input_ids') || name.includes('topk_idx')) v.dtype = 'I32';
        const json = Buffer.from(JSON.stringify(header));
        const padded = Buffer.alloc(Math.ceil(json.length / 8) * 8, 0x20);
        json.copy(padded);
        const len = Buffer.alloc(8);
        len.writeBigUInt64LE(BigInt(padded.length));
        written = Buffer.concat([len, padded, data]);
      }
      assert.equal(written.length, original.length);
      assert.ok(written.equals(original), 'bytes differ');
    });
  }
});

// ---------------------------------------------------------------------------------------------- fixtures

describe('hf-moe fixtures', () => {
  const folders = fs.existsSync(FIXTURES) ? fs.readdirSync(FIXTURES).filter((d) => fs.statSync(path.join(FIXTURES, d)).isDirectory()) : [];

  test('the fixture folder is there', () => assert.ok(folders.length >= 7, `found ${folders.join(', ')}`));

  for (const folder of folders) {
    const dir = path.join(FIXTURES, folder);
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as { vocab_size: number; hidden_size: number; tie_word_embeddings?: boolean };
    const shards = fs.readdirSync(dir).filter((n) => n.endsWith('.safetensors') && n !== 'expected.safetensors');

    test(`${folder}: weights open and have plausible tensors`, () => {
      const all = new Map<string, { shard: string; dtype: string; shape: readonly number[]; bytes: number }>();
      for (const shard of shards) {
        withFile(path.join(dir, shard), (f) => {
          assert.ok(f.tensors.size > 0);
          assert.equal(f.metadata.format, 'pt');
          for (const e of f.tensors.values()) {
            assert.ok(['F32', 'F16', 'BF16'].includes(e.dtype), `${e.name}: ${e.dtype}`);
            assert.ok(e.shape.length >= 1 && e.shape.length <= 3, `${e.name}: ${e.shape}`);
            assert.ok(e.shape.every((d) => d > 0));
            assert.ok(!all.has(e.name), `${e.name} in two shards`);
            all.set(e.name, { shard, dtype: e.dtype, shape: e.shape, bytes: e.byteLength });
          }
        });
      }
      assert.ok(all.size >= 20, `${all.size} tensors`);
      assert.deepEqual(all.get('model.embed_tokens.weight')?.shape, [config.vocab_size, config.hidden_size]);
      assert.equal(all.has('lm_head.weight'), config.tie_word_embeddings !== true);
      assert.deepEqual(all.get('model.norm.weight')?.shape, [config.hidden_size]);
      assert.equal(new Set([...all.values()].map((t) => t.dtype)).size, 1, 'one weight dtype per checkpoint');
      const indexFile = path.join(dir, 'model.safetensors.index.json');
      if (fs.existsSync(indexFile)) {
        const index = JSON.parse(fs.readFileSync(indexFile, 'utf8')) as { metadata: { total_size: number }; weight_map: Record<string, string> };
        assert.deepEqual(Object.keys(index.weight_map).sort(), [...all.keys()].sort());
        for (const [name, shard] of Object.entries(index.weight_map)) assert.equal(all.get(name)!.shard, shard, name);
        assert.equal([...all.values()].reduce((s, t) => s + t.bytes, 0), index.metadata.total_size);
      }
    });

    test(`${folder}: readF32 equals a manual decoding of readRaw for every weight`, () => {
      for (const shard of shards) {
        withFile(path.join(dir, shard), (f) => {
          for (const e of f.tensors.values()) {
            const got = f.readF32(e.name);
            const raw = f.readRaw(e.name);
            const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
            const want = new Float32Array(got.length);
            for (let i = 0; i < want.length; i++) {
              if (e.dtype === 'F32') want[i] = dv.getFloat32(i * 4, true);
              else if (e.dtype === 'BF16') want[i] = floatFromBits(dv.getUint16(i * 2, true) << 16);
              else want[i] = refHalf(dv.getUint16(i * 2, true));
            }
            assert.deepEqual(bitsOf(got), bitsOf(want), e.name);
          }
        });
      }
    });

    test(`${folder}: expected.safetensors is valid`, () => {
      withFile(path.join(dir, 'expected.safetensors'), (f) => {
        for (const p of ['p0', 'p1']) {
          const ids = f.tensors.get(`${p}.input_ids`)!;
          assert.equal(ids.dtype, 'I32');
          assert.equal(ids.shape.length, 1);
          const T = ids.shape[0]!;
          const idVals = new Int32Array(f.readRaw(ids.name).slice().buffer);
          assert.ok(idVals.every((id) => id >= 0 && id < config.vocab_size));
          assert.deepEqual(f.tensors.get(`${p}.logits`)?.shape, [T, config.vocab_size]);
          assert.deepEqual(f.tensors.get(`${p}.final_norm`)?.shape, [T, config.hidden_size]);
          const loss = f.readF32(`${p}.loss`);
          assert.equal(loss.length, 1);
          assert.ok(Number.isFinite(loss[0]) && loss[0]! > 0);
        }
        for (const e of f.tensors.values()) {
          assert.match(e.name, /^p[01]\./);
          assert.ok(e.dtype === 'F32' || e.dtype === 'I32', `${e.name}: ${e.dtype}`);
          if (e.dtype === 'F32') assert.ok(f.readF32(e.name).every((x) => !Number.isNaN(x)), e.name);
        }
      });
    });
  }
});

// ---------------------------------------------------------------------------------------------- corruption

describe('reader rejects corrupt files', () => {
  const ST = 'E_SAFETENSORS';

  test('missing file', () => {
    const file = path.join(tmpRoot, 'does-not-exist.safetensors');
    expectError(() => openSafetensors(file), ST, file, /could not open/);
  });

  test('a directory', () => {
    const file = tmpPath('dir.safetensors');
    fs.mkdirSync(file);
    expectError(() => openSafetensors(file), ST, file, /not a regular file/);
  });

  test('file shorter than 8 bytes', () => {
    const file = tmpPath('short.safetensors');
    fs.writeFileSync(file, Buffer.from([1, 2, 3]));
    expectError(() => openSafetensors(file), ST, file, /the file is 3 bytes, shorter than the 8-byte header length/);
  });

  test('header length 0', () => {
    const file = rawFile(tmpPath('zero.safetensors'), '{}', new Uint8Array(0), 0n);
    expectError(() => openSafetensors(file), ST, file, /header length is 0/);
  });

  test('header length larger than the file', () => {
    const file = rawFile(tmpPath('long.safetensors'), '{}', new Uint8Array(0), 9999n);
    expectError(() => openSafetensors(file), ST, file, /^long\.safetensors: header length 9999 exceeds the file size 10 /);
  });

  test('header length beyond 2^53 (u64 that a Number cannot hold)', () => {
    const file = rawFile(tmpPath('huge.safetensors'), '{}', new Uint8Array(0), 0xffffffffffffffffn);
    expectError(() => openSafetensors(file), ST, file, /header length 18446744073709551615 exceeds the file size 10/);
  });

  test('header length above the 100 MiB limit', () => {
    const file = rawFile(tmpPath('big.safetensors'), '{}', new Uint8Array(0), 101n * 1024n * 1024n);
    fs.truncateSync(file, 102 * 1024 * 1024); // sparse: costs no disk
    expectError(() => openSafetensors(file), ST, file, /header length 105906176 exceeds the 104857600-byte limit/);
  });

  test('header not JSON (names the parse error)', () => {
    const file = rawFile(tmpPath('notjson.safetensors'), '{"a": {"dtype": "F32", ');
    expectError(() => openSafetensors(file), ST, file, /header is not valid JSON: .+/);
  });

  test('header not UTF-8', () => {
    const file = tmpPath('notutf8.safetensors');
    const header = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    fs.writeFileSync(file, Buffer.concat([len, header]));
    expectError(() => openSafetensors(file), ST, file, /header is not valid UTF-8/);
  });

  test('header JSON not an object', () => {
    const file = rawFile(tmpPath('array.safetensors'), '[1, 2, 3]');
    expectError(() => openSafetensors(file), ST, file, /header must be a JSON object, got an array/);
    const file2 = rawFile(tmpPath('null.safetensors'), 'null');
    expectError(() => openSafetensors(file2), ST, file2, /header must be a JSON object, got null/);
  });

  test('__metadata__ not an object of strings', async () => {
    const valid = await validFile();
    const f1 = corrupt(valid, (h) => (h.__metadata__ = { format: 'pt', n: 3 }));
    expectError(() => openSafetensors(f1), ST, f1, /"__metadata__" entry "n" must be a string, got a number/);
    const f2 = corrupt(valid, (h) => (h.__metadata__ = ['pt']));
    expectError(() => openSafetensors(f2), ST, f2, /"__metadata__" must be an object of strings, got an array/);
  });

  test('tensor entry not an object / missing dtype / bad shape', async () => {
    const valid = await validFile();
    const f1 = corrupt(valid, (h) => (h.a = 42));
    expectError(() => openSafetensors(f1), ST, f1, /tensor "a": entry must be an object, got a number/);
    const f2 = corrupt(valid, (h) => delete h.a.dtype);
    expectError(() => openSafetensors(f2), ST, f2, /tensor "a": "dtype" must be a string, got nothing/);
    const f3 = corrupt(valid, (h) => (h.a.shape = [2, -3]));
    expectError(() => openSafetensors(f3), ST, f3, /tensor "a": shape \[2,-3\] has a dimension that is not a non-negative integer \(-3\)/);
    const f4 = corrupt(valid, (h) => (h.a.shape = '2x3'));
    expectError(() => openSafetensors(f4), ST, f4, /tensor "a": "shape" must be an array, got a string/);
    const f5 = corrupt(valid, (h) => (h.a.shape = [2 ** 40, 2 ** 40]));
    expectError(() => openSafetensors(f5), ST, f5, /tensor "a": .*more elements than can be addressed/);
  });

  test('data_offsets negative', async () => {
    const valid = await validFile();
    const file = corrupt(valid, (h) => (h.a.data_offsets = [-24, 0]));
    expectError(() => openSafetensors(file), ST, file, /tensor "a": data_offsets \[-24,0\] must be non-negative integers/);
  });

  test('data_offsets reversed', async () => {
    const valid = await validFile();
    const file = corrupt(valid, (h) => (h.a.data_offsets = [24, 0]));
    expectError(() => openSafetensors(file), ST, file, /tensor "a": data_offsets \[24, 0\] are reversed \(begin > end\)/);
  });

  test('data_offsets not integers / not a pair', async () => {
    const valid = await validFile();
    const f1 = corrupt(valid, (h) => (h.a.data_offsets = [0, 23.5]));
    expectError(() => openSafetensors(f1), ST, f1, /tensor "a": data_offsets \[0,23.5\] must be non-negative integers/);
    const f2 = corrupt(valid, (h) => (h.a.data_offsets = ['0', '24']));
    expectError(() => openSafetensors(f2), ST, f2, /tensor "a": data_offsets \["0","24"\] must be non-negative integers/);
    const f3 = corrupt(valid, (h) => (h.a.data_offsets = [0, 24, 48]));
    expectError(() => openSafetensors(f3), ST, f3, /tensor "a": "data_offsets" must be \[begin, end\], got \[0,24,48\]/);
    const f4 = corrupt(valid, (h) => (h.a.data_offsets = [0, 2 ** 60]));
    expectError(() => openSafetensors(f4), ST, f4, /tensor "a": data_offsets .* must be non-negative integers/);
  });

  test('size differs from shape × dtype', async () => {
    const valid = await validFile();
    const file = corrupt(valid, (h) => (h.a.shape = [2, 4]));
    expectError(() => openSafetensors(file), ST, file, /tensor "a": data_offsets \[0, 24\] span 24 bytes but shape \[2, 4\] of F32 \(8 elements × 4 bytes\) needs 32 bytes/);
  });

  test('offsets out of range', async () => {
    const valid = await validFile();
    const { data } = readHeaderOf(valid);
    const file = corrupt(valid, (h) => (h.c.data_offsets = [1000, 1004]));
    expectError(
      () => openSafetensors(file),
      ST,
      file,
      new RegExp(`tensor "c": data_offsets \\[1000, 1004\\] reach beyond the end of the data section \\(${data.length} bytes\\)`),
    );
  });

  test('truncated file (a valid file cut short)', async () => {
    const valid = await validFile();
    const size = fs.statSync(valid).size;
    const file = tmpPath('cut.safetensors');
    fs.writeFileSync(file, fs.readFileSync(valid).subarray(0, size - 3));
    expectError(() => openSafetensors(file), ST, file, new RegExp(`the file is truncated \\(expected at least ${size} bytes, the file has ${size - 3}\\)`));
  });

  test('file shrinking after open is caught by the read loop', async () => {
    const valid = await validFile();
    const file = tmpPath('shrinks.safetensors');
    fs.copyFileSync(valid, file);
    const f = openSafetensors(file);
    try {
      fs.truncateSync(file, fs.statSync(file).size - 30);
      expectError(() => f.readF32('a'), ST, file, /the file is truncated: tensor "a" needs bytes up to/);
    } finally {
      f.close();
    }
  });

  test('two tensors overlapping', async () => {
    const valid = await validFile();
    const file = corrupt(valid, (h) => {
      h.b.data_offsets = [20, 28]; // inside a [0, 24)
    });
    expectError(() => openSafetensors(file), ST, file, /tensors "a" \(data_offsets \[0, 24\]\) and "b" \(data_offsets \[20, 28\]\) overlap/);
    // Two tensors at the very same place are an overlap too; empty tensors never are.
    const same = corrupt(valid, (h) => (h.c.data_offsets = h.b.data_offsets = [24, 28]) && (h.c.shape = [2]) && (h.b.shape = [2]));
    expectError(() => openSafetensors(same), ST, same, /tensors "(b|c)" .* and "(b|c)" .* overlap/);
    const empty = corrupt(valid, (h) => (h.e = { dtype: 'F32', shape: [0], data_offsets: [4, 4] }));
    withFile(empty, (f) => assert.equal(f.tensors.get('e')!.byteLength, 0));
  });

  test('unknown dtype', async () => {
    const valid = await validFile();
    const file = corrupt(valid, (h) => (h.a.dtype = 'F24'));
    expectError(() => openSafetensors(file), ST, file, /tensor "a": unknown dtype "F24"/);
    const proto = corrupt(valid, (h) => (h.a.dtype = 'constructor'));
    expectError(() => openSafetensors(proto), ST, proto, /unknown dtype "constructor"/);
  });

  test('unsupported dtype opens, readRaw works, readF32 throws', () => {
    const file = rawFile(tmpPath('i64.safetensors'), { idx: { dtype: 'I64', shape: [2], data_offsets: [0, 16] }, f8: { dtype: 'F8_E4M3', shape: [8], data_offsets: [16, 24] } }, new Uint8Array(24).fill(1));
    withFile(file, (f) => {
      assert.equal(f.readRaw('idx').length, 16);
      expectError(() => f.readF32('idx'), ST, file, /dtype I64 of tensor "idx" is not supported \(supported: F32, F16, BF16\)/);
      expectError(() => f.readF32('f8'), ST, file, /dtype F8_E4M3 of tensor "f8" is not supported/);
    });
    const expected = path.join(FIXTURES, 'qwen3/expected.safetensors');
    withFile(expected, (f) => expectError(() => f.readF32('p0.input_ids'), ST, expected, /dtype I32 of tensor "p0.input_ids" is not supported/));
  });

  test('missing tensor and reading after close', async () => {
    const file = await validFile();
    const f = openSafetensors(file);
    expectError(() => f.readF32('nope'), 'E_WEIGHTS', file, /no tensor "nope"/);
    f.close();
    f.close(); // idempotent
    expectError(() => f.readF32('a'), ST, file, /cannot read tensor "a": the file was closed/);
    expectError(() => f.readRaw('a'), ST, file, /the file was closed/);
  });
});

// ---------------------------------------------------------------------------------------------- writer

describe('writer', () => {
  const one = (name = 'x'): TensorToWrite => ({ name, dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) });

  test('non-existent directory: E_IO naming the destination, no temp file', async () => {
    const dir = path.join(tmpRoot, 'no', 'such', 'dir');
    const dest = path.join(dir, 'out.safetensors');
    await expectRejects(writeSafetensors(dest, [one()]), 'E_IO', dest, /writing failed: ENOENT/);
    assert.equal(fs.existsSync(path.join(tmpRoot, 'no')), false);
  });

  test('parent is a file: E_IO', async () => {
    const parent = tmpPath('plainfile');
    fs.writeFileSync(parent, 'x');
    const dest = path.join(parent, 'out.safetensors');
    await expectRejects(writeSafetensors(dest, [one()]), 'E_IO', dest, /ENOTDIR/);
  });

  test('destination is a directory: the rename fails, the temp file is removed', async () => {
    const dest = tmpPath('out.safetensors');
    fs.mkdirSync(dest);
    await expectRejects(writeSafetensors(dest, [one()]), 'E_IO', dest, /writing failed/);
    assert.deepEqual(fs.readdirSync(path.dirname(dest)), ['out.safetensors']);
    assert.ok(fs.statSync(dest).isDirectory());
  });

  test('an existing destination is replaced by a successful write', async () => {
    const dest = tmpPath('out.safetensors');
    fs.writeFileSync(dest, 'old contents');
    await writeSafetensors(dest, [one('new')]);
    withFile(dest, (f) => assert.deepEqual([...f.readF32('new')], [1, 2]));
    assert.deepEqual(tempLeftovers(path.dirname(dest)), []);
  });

  test('a write failing midway leaves the old destination untouched and no temp file', async () => {
    const dest = tmpPath('out.safetensors');
    fs.writeFileSync(dest, 'old contents');
    const big = new Float32Array(4096);
    const pending = writeSafetensors(dest, [one('a'), { name: 'b', dtype: 'BF16', shape: [4096], data: big }]);
    // Validation passed synchronously; detaching the buffer now makes the streaming step come up short.
    structuredClone(big.buffer, { transfer: [big.buffer] });
    await expectRejects(pending, 'E_IO', dest, /tensor "b" wrote 0 bytes, expected 8192/);
    assert.equal(fs.readFileSync(dest, 'utf8'), 'old contents');
    assert.deepEqual(tempLeftovers(path.dirname(dest)), []);
  });

  test('rejects duplicate names, wrong data lengths, bad shapes and dtypes before touching the disk', async () => {
    const dest = tmpPath('out.safetensors');
    const dir = path.dirname(dest);
    await expectRejects(writeSafetensors(dest, [one('x'), one('x')]), 'E_IO', dest, /tensor "x": duplicate tensor name/);
    await expectRejects(
      writeSafetensors(dest, [{ name: 'x', dtype: 'F32', shape: [3], data: new Float32Array(2) }]),
      'E_IO',
      dest,
      /tensor "x": 2 float32 values given, shape \[3\] needs 3/,
    );
    await expectRejects(
      writeSafetensors(dest, [{ name: 'x', dtype: 'BF16', shape: [3], data: new Uint8Array(4) }]),
      'E_IO',
      dest,
      /tensor "x": 4 raw bytes given, shape \[3\] of BF16 needs 6/,
    );
    await expectRejects(writeSafetensors(dest, [{ name: 'x', dtype: 'F32', shape: [-1], data: new Float32Array(0) }]), 'E_IO', dest, /invalid dimension -1/);
    await expectRejects(
      writeSafetensors(dest, [{ name: 'x', dtype: 'I64' as 'F32', shape: [1], data: new Uint8Array(8) }]),
      'E_IO',
      dest,
      /dtype I64 cannot be written/,
    );
    await expectRejects(writeSafetensors(dest, [one('__metadata__')]), 'E_IO', dest, /reserved/);
    assert.deepEqual(fs.readdirSync(dir), []);
  });
});
