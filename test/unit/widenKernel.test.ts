// The wasm SIMD widening kernel (src/engine/model/widenWasm.ts, widener.ts) against the reference
// conversions of dtype.ts, bit for bit, for every 16-bit pattern of BF16 and F16 (NaNs with their payloads
// and signs, ±inf, subnormals, ±0 among them), in contiguous and strided row copies whose rows straddle
// the kernel's blocks; through the three places that use it: a tensor held in memory (cached mode), a
// safetensors file read block by block (streaming), and the conversion worker (both sources).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConversionWorker } from '../../src/engine/model/conversionWorker';
import { bf16ToF32, f16ToF32 } from '../../src/engine/model/dtype';
import { DiskSource, HeldSource, type Located, type StoredTensor } from '../../src/engine/model/tensorSource';
import type { RowCopy } from '../../src/engine/model/unitTensors';
import { copyRowsInto, Widener } from '../../src/engine/model/widener';
import { compileWiden, WIDEN_BLOCK } from '../../src/engine/model/widenWasm';

const DTYPES = ['BF16', 'F16'] as const;
/** Every pattern once, then again shifted so that no lane always sees the same pattern. */
const PATTERNS = Uint16Array.from({ length: 4 * 65536 + 1000 }, (_, i) => (i < 65536 ? i : (i * 7 + 3) & 0xffff));

function reference(dtype: 'BF16' | 'F16', src: Uint16Array): Uint32Array {
  const out = new Float32Array(src.length);
  (dtype === 'BF16' ? bf16ToF32 : f16ToF32)(src, out);
  return new Uint32Array(out.buffer);
}

/** The copies checked: contiguous, and strided rows as in the experts' fc1 layout (gate rows interleaved). */
function copies(n: number): { name: string; k: Omit<RowCopy, 'hf'>; dstLen: number }[] {
  const rowLen = 2048;
  const rows = Math.floor((n - 5) / rowLen);
  const long = WIDEN_BLOCK + 333; // rows longer than the kernel's block (two of them)
  return [
    { name: 'contiguous, odd length', k: { from: 0, rowLen: n, rows: 1, to: 3, stride: n }, dstLen: n + 3 },
    { name: 'strided rows of 2048', k: { from: 5, rowLen, rows, to: rowLen, stride: 2 * rowLen }, dstLen: 2 * rowLen * rows + rowLen },
    { name: 'strided rows longer than a block', k: { from: 1, rowLen: long, rows: Math.floor((n - 1) / long), to: 0, stride: long + 9 }, dstLen: (long + 9) * Math.floor((n - 1) / long) },
  ];
}

/** dst as the reference conversion and plain strided copy give it (untouched elements stay 0x5a5a5a5a). */
function expected(dtype: 'BF16' | 'F16', src: Uint16Array, k: Omit<RowCopy, 'hf'>, dstLen: number): Uint32Array {
  const conv = reference(dtype, src);
  const out = new Uint32Array(dstLen).fill(0x5a5a5a5a);
  for (let r = 0; r < k.rows; r++) out.set(conv.subarray(k.from + r * k.rowLen, k.from + (r + 1) * k.rowLen), k.to + r * k.stride);
  return out;
}

function assertBits(actual: Float32Array, want: Uint32Array, what: string): void {
  const got = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) assert.fail(`${what}: element ${i} is 0x${got[i]!.toString(16)}, expected 0x${want[i]!.toString(16)}`);
}

const fresh = (n: number): Float32Array<ArrayBuffer> => new Float32Array(new Uint32Array(n).fill(0x5a5a5a5a).buffer);

describe('wasm widening kernel', () => {
  it('compiles and instantiates here', () => assert.ok(compileWiden() && new Widener()));

  it('names the edge values it is exact on (spot checks of the exhaustive tests below)', () => {
    const w = new Widener();
    const cases: [dtype: 'BF16' | 'F16', bits: number, f32: number][] = [
      ['BF16', 0x8000, 0x80000000], // -0
      ['BF16', 0x7f80, 0x7f800000], // +inf
      ['BF16', 0xff80, 0xff800000], // -inf
      ['BF16', 0x7f81, 0x7f810000], // signalling NaN, payload kept
      ['BF16', 0xffc1, 0xffc10000], // negative quiet NaN
      ['BF16', 0x0001, 0x00010000], // smallest subnormal
      ['F16', 0x8000, 0x80000000], // -0
      ['F16', 0x7c00, 0x7f800000], // +inf
      ['F16', 0xfc00, 0xff800000], // -inf
      ['F16', 0x7c01, 0x7f802000], // signalling NaN, payload kept
      ['F16', 0xfe00, 0xffc00000], // negative quiet NaN
      ['F16', 0x0001, 0x33800000], // smallest subnormal: 2^-24
      ['F16', 0x83ff, 0xb87fc000], // largest negative subnormal
      ['F16', 0x0400, 0x38800000], // smallest normal: 2^-14
      ['F16', 0x7bff, 0x477fe000], // 65504
    ];
    for (const [dtype, bits, f32] of cases) {
      const dst = new Float32Array(1);
      copyRowsInto(w, dtype, Uint16Array.of(bits), 0, 1, 1, dst, 0, 1);
      assert.equal(new Uint32Array(dst.buffer)[0], f32, `${dtype} 0x${bits.toString(16)}`);
    }
  });

  for (const dtype of DTYPES) {
    for (const c of copies(PATTERNS.length)) {
      it(`${dtype}, tensor in memory, ${c.name}: every pattern as the reference`, () => {
        const dst = fresh(c.dstLen);
        copyRowsInto(new Widener(), dtype, PATTERNS, c.k.from, c.k.rowLen, c.k.rows, dst, c.k.to, c.k.stride);
        assertBits(dst, expected(dtype, PATTERNS, c.k, c.dstLen), `${dtype} ${c.name}`);
      });
    }
  }
});

describe('sources converting through the kernel', () => {
  let dir: string;
  const where = new Map<string, Located>();
  const held = new Map<string, StoredTensor>();
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-widen-'));
    // A safetensors file with one tensor per dtype, both holding every pattern.
    const bytes = PATTERNS.length * 2;
    const header: Record<string, unknown> = {};
    DTYPES.forEach((dtype, i) => (header[dtype] = { dtype, shape: [PATTERNS.length], data_offsets: [i * bytes, (i + 1) * bytes] }));
    let text = JSON.stringify(header);
    text = text.padEnd(Math.ceil(text.length / 8) * 8, ' ');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(text.length));
    const file = path.join(dir, 'model.safetensors');
    const data = Buffer.from(PATTERNS.buffer, PATTERNS.byteOffset, bytes);
    fs.writeFileSync(file, Buffer.concat([len, Buffer.from(text), data, data]));
    DTYPES.forEach((dtype, i) => {
      where.set(dtype, { path: file, dtype, byteOffset: 8 + text.length + i * bytes, elements: PATTERNS.length });
      const shared = new Uint16Array(new SharedArrayBuffer(bytes));
      shared.set(PATTERNS);
      held.set(dtype, { dtype, data: shared });
    });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A DiskSource over the test file (its constructor takes what openCheckpoint gives). */
  const disk = (): DiskSource =>
    new DiskSource({ tensors: new Map([...where].map(([name, l]) => [name, { file: { path: l.path }, entry: { dtype: l.dtype, byteOffset: l.byteOffset, byteLength: l.elements * 2 } }])) } as never);

  for (const dtype of DTYPES) {
    for (const c of copies(PATTERNS.length)) {
      const k: RowCopy = { hf: dtype, ...c.k };
      const want = (): Uint32Array => expected(dtype, PATTERNS, c.k, c.dstLen);
      it(`${dtype}, ${c.name}: held in memory (cached mode)`, () => {
        const dst = fresh(c.dstLen);
        new HeldSource(held).copy(k, dst, 0);
        assertBits(dst, want(), 'held');
      });
      it(`${dtype}, ${c.name}: read from the file (streaming)`, () => {
        const d = disk();
        try {
          const dst = fresh(c.dstLen);
          d.copy(k, dst, 0);
          assertBits(dst, want(), 'file');
        } finally {
          d.close();
        }
      });
      for (const from of ['held', 'file'] as const) {
        it(`${dtype}, ${c.name}: the conversion worker, ${from === 'held' ? 'held in memory' : 'read from the file'}`, async () => {
          const worker = new ConversionWorker(from === 'held' ? held : new Map(), from === 'file' ? where : new Map());
          try {
            const r = await worker.fill(fresh(c.dstLen).buffer, [{ copies: [k], at: 0 }]);
            assert.equal(r.error, undefined);
            assertBits(new Float32Array(r.buffer!), want(), `worker (${from})`);
          } finally {
            await worker.close();
          }
        });
      }
    }
  }
});
