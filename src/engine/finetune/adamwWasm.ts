// The AdamW update as a WebAssembly SIMD module, assembled here from its bytes (no toolchain; the same
// approach as model/widenWasm.ts). A plain JS loop runs one element per iteration with a Math.fround after
// every operation; this runs four float32 lanes per instruction. wasm's f32 add/sub/mul/div/sqrt are
// IEEE-exact (round to nearest even, subnormals kept, no FMA contraction), and each float32 operation of
// the JS loop, done in float64 and then rounded, gives the same float32 (double rounding is harmless for
// + − × ÷ √ when 53 >= 2·24 + 2), so the module computes exactly what adamwJs (adamwStep.ts) computes.
// One function, adamw(groups, clip, decay, b1, a1, b2, a2, bc2Sqrt, eps, stepSize), over `groups` runs of
// 4 elements of the blocks w, g, m, v in the module's memory (ADAMW_BLOCK elements each, at byte offsets
// 0, 4·B, 8·B, 12·B):
//   g' = (g + 0) · clip;  w = w · decay;  m = m·b1 + a1·g';  v = v·b2 + a2·(g'·g');
//   w = w − (stepSize·m) / (sqrt(v)/bc2Sqrt + eps)
// (decay 1 and clip 1 leave w and g unchanged bit for bit, so no branches are needed).
import { SIMD, WASM_HEADER, compileWasm, instantiateWasm, leb, mem, section, str } from '../wasm/wasmEncoding';

/** Elements per block: the four blocks (256 KiB) stay in a core's L2 cache. */
export const ADAMW_BLOCK = 16 * 1024;
const PAGES = (ADAMW_BLOCK * 16) / 65536;

// Opcodes (WebAssembly core and SIMD specifications).
const op = {
  block: 0x02, loop: 0x03, br: 0x0c, brIf: 0x0d, end: 0x0b,
  get: 0x20, set: 0x21, tee: 0x22, i32const: 0x41, i32eqz: 0x45, i32add: 0x6a, i32sub: 0x6b,
  load: [SIMD, 0x00], store: [SIMD, 0x0b], splat: [SIMD, 0x13],
  sqrt: [SIMD, 0xe3, 0x01], add: [SIMD, 0xe4, 0x01], sub: [SIMD, 0xe5, 0x01], mul: [SIMD, 0xe6, 0x01], div: [SIMD, 0xe7, 0x01],
};

// Parameters 0..9, then locals: 10 the byte offset in the blocks, 11..19 the splatted parameters 1..9,
// 20 zeros (a v128 local starts as zeros), 21..23 the lanes of g', m, v.
const GROUPS = 0;
const P = 10;
const [C, DECAY, B1, A1, B2, A2, BC2, EPS, SS] = [11, 12, 13, 14, 15, 16, 17, 18, 19];
const ZERO = 20;
const [G, M, V] = [21, 22, 23];
const [W_AT, G_AT, M_AT, V_AT] = [0, 4, 8, 12].map((k) => k * ADAMW_BLOCK);
const i32 = (v: number): number[] => [op.i32const, ...leb(v)]; // small non-negative constants only

const body = [
  ...[1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((k) => [op.get, k, ...op.splat, op.set, C + k - 1]),
  op.block, 0x40, op.loop, 0x40,
  op.get, GROUPS, op.i32eqz, op.brIf, 1,
  // g' = (g + 0) · clip: -0 becomes +0, as the trainer's float32 accumulation 0 + g gave
  op.get, P, ...op.load, ...mem(G_AT), op.get, ZERO, ...op.add, op.get, C, ...op.mul, op.set, G,
  // m = m·b1 + a1·g'
  op.get, P,
  op.get, P, ...op.load, ...mem(M_AT), op.get, B1, ...op.mul, op.get, A1, op.get, G, ...op.mul, ...op.add,
  op.tee, M, ...op.store, ...mem(M_AT),
  // v = v·b2 + a2·(g'·g')
  op.get, P,
  op.get, P, ...op.load, ...mem(V_AT), op.get, B2, ...op.mul, op.get, A2, op.get, G, op.get, G, ...op.mul, ...op.mul, ...op.add,
  op.tee, V, ...op.store, ...mem(V_AT),
  // w = w·decay − (stepSize·m) / (sqrt(v)/bc2Sqrt + eps)
  op.get, P,
  op.get, P, ...op.load, ...mem(W_AT), op.get, DECAY, ...op.mul,
  op.get, SS, op.get, M, ...op.mul,
  op.get, V, ...op.sqrt, op.get, BC2, ...op.div, op.get, EPS, ...op.add,
  ...op.div, ...op.sub,
  ...op.store, ...mem(W_AT),
  op.get, P, ...i32(16), op.i32add, op.set, P,
  op.get, GROUPS, ...i32(1), op.i32sub, op.set, GROUPS,
  op.br, 0, op.end, op.end,
];

let bytes: Uint8Array | undefined;

/** The module's bytes (built once). */
export function adamwWasmBytes(): Uint8Array {
  if (bytes) return bytes;
  const V128 = 0x7b;
  const I32 = 0x7f;
  const F32 = 0x7d;
  const code = [2, 1, I32, 14, V128, ...body, op.end];
  bytes = new Uint8Array([
    ...WASM_HEADER,
    ...section(1, [1, 0x60, 10, I32, ...new Array<number>(9).fill(F32), 0]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0x00, ...leb(PAGES)]),
    ...section(7, [2, ...str('mem'), 0x02, 0, ...str('adamw'), 0x00, 0]),
    ...section(10, [1, ...leb(code.length), ...code]),
  ]);
  return bytes;
}

/** The exported function and memory of one instance. */
export interface AdamWInstance {
  readonly memory: ArrayBuffer;
  readonly adamw: (groups: number, clip: number, decay: number, b1: number, a1: number, b2: number, a2: number, bc2Sqrt: number, eps: number, stepSize: number) => void;
}

/** A fresh instance, or undefined where WebAssembly SIMD is unavailable. */
export function instantiateAdamW(): AdamWInstance | undefined {
  const e = instantiateWasm(compileWasm(adamwWasmBytes())) as { mem: { buffer: ArrayBuffer }; adamw: AdamWInstance['adamw'] } | undefined;
  return e ? { memory: e.mem.buffer, adamw: e.adamw } : undefined;
}
