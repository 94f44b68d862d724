// Micro-benchmark of the 16-bit -> float32 conversion kernels (weights converted when a layer runs, issue
// #9 §1): G elements/s from a 16-bit tensor in memory into a float32 buffer far larger than the caches
// (the layer buffers are 1.7 GB at OLMoE's shape), on one thread. Prints; asserts nothing.
//   node --import tsx scripts/bench/conversionKernels.ts [elements, default 64M]
import { performance } from 'node:perf_hooks';
import { copyRowsInto, Widener } from '../../src/engine/model/widener';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The JS loops the engine used before the wasm kernel: one element per iteration. */
function jsBf16(s: Uint16Array, d: Uint32Array): void {
  for (let i = 0; i < s.length; i++) d[i] = s[i]! << 16;
}
function jsF16(t: Uint32Array, s: Uint16Array, d: Uint32Array): void {
  for (let i = 0; i < s.length; i++) d[i] = t[s[i]!]!;
}
/** Two BF16 elements per 32-bit load. */
function jsBf16Pairs(s: Uint32Array, d: Uint32Array): void {
  for (let j = 0, i = 0; j < s.length; j++, i += 2) {
    const w = s[j]!;
    d[i] = w << 16;
    d[i + 1] = w & 0xffff0000;
  }
}

export function conversionKernelRows(n = 64 * 2 ** 20, runs = 5): [string, string][] {
  const src = new Uint16Array(n);
  for (let i = 0; i < n; i++) src[i] = (i * 40503) & 0xffff;
  const dst = new Float32Array(n);
  dst.fill(1); // touched once: the engine reuses its layer buffers
  const d32 = new Uint32Array(dst.buffer);
  const table = new Uint32Array(65536).map((_, h) => h * 3);
  const w = new Widener();
  const time = (f: () => void): number => {
    f();
    const ts: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      f();
      ts.push(performance.now() - t0);
    }
    return median(ts);
  };
  const rate = (ms: number): string => `${(n / ms / 1e6).toFixed(2)} G elements/s (${ms.toFixed(0)} ms)`;
  const rows: [string, string][] = [];
  const label = `${(n / 2 ** 20).toFixed(0)}M elements`;
  rows.push([`BF16 -> F32 ${label}, JS loop (before)`, rate(time(() => jsBf16(src, d32)))]);
  rows.push([`BF16 -> F32 ${label}, JS loop, 2 per 32-bit load`, rate(time(() => jsBf16Pairs(new Uint32Array(src.buffer), d32)))]);
  rows.push([`BF16 -> F32 ${label}, wasm SIMD (after)`, rate(time(() => copyRowsInto(w, 'BF16', src, 0, n, 1, dst, 0, n)))]);
  const held = new Uint16Array(new SharedArrayBuffer(n * 2));
  held.set(src);
  rows.push([`BF16 -> F32 ${label}, wasm SIMD, source in a SharedArrayBuffer (cached mode)`, rate(time(() => copyRowsInto(w, 'BF16', held, 0, n, 1, dst, 0, n)))]);
  rows.push([`BF16 -> F32 ${label}, JS loop, source in a SharedArrayBuffer`, rate(time(() => jsBf16(held, d32)))]);
  rows.push([`F16 -> F32 ${label}, JS table (before)`, rate(time(() => jsF16(table, src, d32)))]);
  rows.push([`F16 -> F32 ${label}, wasm SIMD (after)`, rate(time(() => copyRowsInto(w, 'F16', src, 0, n, 1, dst, 0, n)))]);
  // The expert layout: gate rows at every other row of fc1 (rows of 2048, OLMoE's hidden size).
  const H = 2048;
  const rows2 = Math.floor(n / H / 2);
  rows.push([`BF16 -> F32 strided rows of ${H} (fc1 layout), wasm SIMD`, rate(time(() => copyRowsInto(w, 'BF16', src, 0, H, rows2, dst, 0, 2 * H)) * 2)]);
  const f = new Float32Array(n).fill(2);
  rows.push([`float32 copy ${label} (TypedArray.set: the memory's floor)`, rate(time(() => dst.set(f)))]);
  return rows;
}

if (require.main === module) {
  const rows = conversionKernelRows(process.argv[2] ? Number(process.argv[2]) : undefined);
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n'));
}
