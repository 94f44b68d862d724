// The AdamW update as a WebAssembly SIMD module, assembled here from its bytes (no toolchain; the same
// approach as model/widenWasm.ts). A plain JS loop runs one element per iteration with a Math.fround after
// every operation; this runs four float32 lanes per instruction. wasm's f32 add/sub/mul/div/sqrt are
// IEEE-exact (round to nearest even, subnormals kept, no FMA contraction), and each float32 operation of
// the JS loop, done in float64 and then rounded, gives the same float32 (double rounding is harmless for
// + − × ÷ √ when 53 >= 2·24 + 2), so the module computes exactly what adamwJs (adamwKernel.ts) computes.
// One function, adamw(groups, wAt, gAt, mAt, vAt, clip, decay, b1, a1, b2, a2, bc2Sqrt, eps, stepSize), over
// `groups` runs of 4 elements of w, g, m, v at those byte offsets of the module's memory:
//   g' = (g + 0) · clip;  w = w · decay;  m = m·b1 + a1·g';  v = v·b2 + a2·(g'·g');
//   w = w − (stepSize·m) / (sqrt(v)/bc2Sqrt + eps)
// (decay 1 and clip 1 leave w and g unchanged bit for bit, so no branches are needed). The memory starts
// with ADAMW_BLOCK-element staging blocks for w, g, m, v (ADAMW_STAGING bytes); it can grow (memory.grow)
// so that the caller keeps moments in it for good (adamwKernel.ts).
// A second function, sumsq(groups, at, accAt), is the gradient norm's sum of squares (gradientClip.ts):
// over `groups` runs of 8 float32 at `at`, lane j of the 8 float64 sums at accAt (64 bytes, read at the
// start and written at the end, so a tensor is summed block by block) adds the square of entry j of each
// run, in order: f64x2.promote_low_f32x4 makes a float32 a float64 exactly, its square is exact (24 + 24
// bits), and f64 add is IEEE, so each lane is bit for bit the JS reference's sum.
import { SIMD, WASM_HEADER, type WasmModule, compileWasm, instantiateWasm, leb, mem, section, str } from '../wasm/wasmEncoding';

/** Elements per staging block: the staged blocks (256 KiB) stay in a core's L2 cache. */
export const ADAMW_BLOCK = 16 * 1024;
/** Byte offsets of the staging blocks of w, g, m, v; what lies past ADAMW_STAGING is the caller's. */
export const [W_AT, G_AT, M_AT, V_AT] = [0, 4, 8, 12].map((k) => k * ADAMW_BLOCK) as [number, number, number, number];
export const ADAMW_STAGING = 16 * ADAMW_BLOCK;
/** The memory's size in 64 KiB pages at the start: the staging blocks. */
const PAGES = ADAMW_STAGING / 65536;

// Opcodes (WebAssembly core and SIMD specifications).
const op = {
  block: 0x02, loop: 0x03, br: 0x0c, brIf: 0x0d, end: 0x0b,
  get: 0x20, set: 0x21, tee: 0x22, i32const: 0x41, i32eqz: 0x45, i32add: 0x6a, i32sub: 0x6b,
  load: [SIMD, 0x00], store: [SIMD, 0x0b], splat: [SIMD, 0x13],
  sqrt: [SIMD, 0xe3, 0x01], add: [SIMD, 0xe4, 0x01], sub: [SIMD, 0xe5, 0x01], mul: [SIMD, 0xe6, 0x01], div: [SIMD, 0xe7, 0x01],
};

// Parameters: 0 groups, 1..4 the byte addresses of w, g, m, v (advanced by 16 a group), 5..13 the float32
// scalars; then locals: 14..22 the splatted scalars, 23 zeros (a v128 local starts as zeros), 24..26 the
// lanes of g', m, v.
const GROUPS = 0;
const [WP, GP, MP, VP] = [1, 2, 3, 4];
const SCALARS = 5;
const [C, DECAY, B1, A1, B2, A2, BC2, EPS, SS] = [14, 15, 16, 17, 18, 19, 20, 21, 22];
const ZERO = 23;
const [G, M, V] = [24, 25, 26];
const i32 = (v: number): number[] => [op.i32const, ...leb(v)]; // small non-negative constants only
const advance = (p: number): number[] => [op.get, p, ...i32(16), op.i32add, op.set, p];

const body = [
  ...[0, 1, 2, 3, 4, 5, 6, 7, 8].flatMap((k) => [op.get, SCALARS + k, ...op.splat, op.set, C + k]),
  op.block, 0x40, op.loop, 0x40,
  op.get, GROUPS, op.i32eqz, op.brIf, 1,
  // g' = (g + 0) · clip: -0 becomes +0, as the trainer's float32 accumulation 0 + g gave
  op.get, GP, ...op.load, ...mem(0), op.get, ZERO, ...op.add, op.get, C, ...op.mul, op.set, G,
  // m = m·b1 + a1·g'
  op.get, MP,
  op.get, MP, ...op.load, ...mem(0), op.get, B1, ...op.mul, op.get, A1, op.get, G, ...op.mul, ...op.add,
  op.tee, M, ...op.store, ...mem(0),
  // v = v·b2 + a2·(g'·g')
  op.get, VP,
  op.get, VP, ...op.load, ...mem(0), op.get, B2, ...op.mul, op.get, A2, op.get, G, op.get, G, ...op.mul, ...op.mul, ...op.add,
  op.tee, V, ...op.store, ...mem(0),
  // w = w·decay − (stepSize·m) / (sqrt(v)/bc2Sqrt + eps)
  op.get, WP,
  op.get, WP, ...op.load, ...mem(0), op.get, DECAY, ...op.mul,
  op.get, SS, op.get, M, ...op.mul,
  op.get, V, ...op.sqrt, op.get, BC2, ...op.div, op.get, EPS, ...op.add,
  ...op.div, ...op.sub,
  ...op.store, ...mem(0),
  ...advance(WP), ...advance(GP), ...advance(MP), ...advance(VP),
  op.get, GROUPS, ...i32(1), op.i32sub, op.set, GROUPS,
  op.br, 0, op.end, op.end,
];

// sumsq: parameters 0 groups, 1 the address of the floats, 2 the address of the sums; locals 3..6 the
// lanes (0,1) (2,3) (4,5) (6,7) as f64x2, 7 four floats.
const f64x2 = { promoteLow: [SIMD, 0x5f], add: [SIMD, 0xf0, 0x01], mul: [SIMD, 0xf2, 0x01] };
/** i8x16.shuffle moving lanes 2, 3 of a f32x4 to 0, 1. */
const HIGH_HALF = [SIMD, 0x0d, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];
const [AT, ACC] = [1, 2];
const LANES = [3, 4, 5, 6];
const X = 7;
const addSquare = (lane: number, half: number[]): number[] => [
  op.get, lane, op.get, X, ...half, ...f64x2.promoteLow, op.tee, X + 1, op.get, X + 1, ...f64x2.mul, ...f64x2.add, op.set, lane,
];
const sumsqBody = [
  ...LANES.flatMap((l, k) => [op.get, ACC, ...op.load, ...mem(16 * k), op.set, l]),
  op.block, 0x40, op.loop, 0x40,
  op.get, GROUPS, op.i32eqz, op.brIf, 1,
  op.get, AT, ...op.load, ...mem(0), op.set, X,
  ...addSquare(LANES[0]!, []), ...addSquare(LANES[1]!, [op.get, X, ...HIGH_HALF]),
  op.get, AT, ...op.load, ...mem(16), op.set, X,
  ...addSquare(LANES[2]!, []), ...addSquare(LANES[3]!, [op.get, X, ...HIGH_HALF]),
  op.get, AT, ...i32(32), op.i32add, op.set, AT,
  op.get, GROUPS, ...i32(1), op.i32sub, op.set, GROUPS,
  op.br, 0, op.end, op.end,
  ...LANES.flatMap((l, k) => [op.get, ACC, op.get, l, ...op.store, ...mem(16 * k)]),
];

let bytes: Uint8Array | undefined;
let compiled: WasmModule | null | undefined;

/** The module's bytes (built once). */
export function adamwWasmBytes(): Uint8Array {
  if (bytes) return bytes;
  const V128 = 0x7b;
  const I32 = 0x7f;
  const F32 = 0x7d;
  const code = [1, 13, V128, ...body, op.end];
  const code2 = [1, 6, V128, ...sumsqBody, op.end];
  bytes = new Uint8Array([
    ...WASM_HEADER,
    ...section(1, [2, 0x60, 14, ...new Array<number>(5).fill(I32), ...new Array<number>(9).fill(F32), 0, 0x60, 3, I32, I32, I32, 0]),
    ...section(3, [2, 0, 1]),
    ...section(5, [1, 0x00, ...leb(PAGES)]),
    ...section(7, [3, ...str('mem'), 0x02, 0, ...str('adamw'), 0x00, 0, ...str('sumsq'), 0x00, 1]),
    ...section(10, [2, ...leb(code.length), ...code, ...leb(code2.length), ...code2]),
  ]);
  return bytes;
}

/** The exported function and memory of one instance. */
export interface AdamWInstance {
  /** The memory (its buffer is replaced, and views of the old one detached, by every grow). */
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  readonly adamw: (groups: number, wAt: number, gAt: number, mAt: number, vAt: number, clip: number, decay: number, b1: number, a1: number, b2: number, a2: number, bc2Sqrt: number, eps: number, stepSize: number) => void;
  readonly sumsq: (groups: number, at: number, accAt: number) => void;
}

/** A fresh instance, or undefined where WebAssembly SIMD is unavailable. */
export function instantiateAdamW(): AdamWInstance | undefined {
  if (compiled === undefined) compiled = compileWasm(adamwWasmBytes()) ?? null;
  const e = instantiateWasm(compiled ?? undefined) as { mem: AdamWInstance['memory']; adamw: AdamWInstance['adamw']; sumsq: AdamWInstance['sumsq'] } | undefined;
  return e ? { memory: e.mem, adamw: e.adamw, sumsq: e.sumsq } : undefined;
}
