// A WebAssembly SIMD module that widens 16-bit floats to float32, assembled here from its bytes (no
// toolchain). V8 runs wasm SIMD as SSE/AVX code, where a plain JS loop runs one element per iteration.
// Both functions take (src, dst, groups): `groups` runs of 8 elements, src 16 bytes and dst 32 bytes
// apart, in the module's own memory (exported as "mem"); callers round a block up to whole groups.
// - bf16: each element's 16 bits become the top half of a float32 (a byte shuffle against zeros).
// - f16: exact for every pattern: the exponent and mantissa (h & 0x7fff) << 13 read as float32 and
//   multiplied by 2^112 rebias normals and normalise subnormals exactly (a product by a power of two;
//   wasm keeps subnormals, it never flushes them); inf/NaN (h & 0x7fff >= 0x7c00) get the all-ones
//   exponent with their payload kept; then the sign. Bit for bit what dtype.ts's f16ToF32 gives.
import { SIMD, WASM_HEADER, type WasmModule, compileWasm, instantiateWasm, leb, mem, section, str } from '../wasm/wasmEncoding';

/** Elements per block: 16-bit source (256 KiB) and float32 destination (512 KiB) stay in a core's L2. */
export const WIDEN_BLOCK = 128 * 1024;
/** Byte offset of the destination block in the module's memory (the source block starts at 0). */
export const WIDEN_DST = WIDEN_BLOCK * 2;
/** Bytes of one instance's memory. */
export const WIDEN_BYTES = WIDEN_BLOCK * 6;
const PAGES = WIDEN_BYTES / 65536;

// Opcodes (WebAssembly core and SIMD specifications).
const op = {
  block: 0x02, loop: 0x03, br: 0x0c, brIf: 0x0d, end: 0x0b,
  get: 0x20, set: 0x21, i32const: 0x41, i32eqz: 0x45, i32add: 0x6a, i32sub: 0x6b,
  load: [SIMD, 0x00], store: [SIMD, 0x0b], const: [SIMD, 0x0c], shuffle: [SIMD, 0x0d], splat: [SIMD, 0x11],
  and: [SIMD, 0x4e], or: [SIMD, 0x50], geU: [SIMD, 0x40],
  extendLowU: [SIMD, 0xa9, 0x01], extendHighU: [SIMD, 0xaa, 0x01], shl: [SIMD, 0xab, 0x01], fmul: [SIMD, 0xe6, 0x01],
};
const SRC = 0;
const DST = 1;
const N = 2;
const i32 = (v: number): number[] => [op.i32const, ...sleb(v)];
function sleb(v: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
}

/** for (; groups; groups--, src += 16, dst += 32) body */
const loop8 = (body: number[]): number[] => [
  op.block, 0x40, op.loop, 0x40,
  op.get, N, op.i32eqz, op.brIf, 1,
  ...body,
  op.get, SRC, ...i32(16), op.i32add, op.set, SRC,
  op.get, DST, ...i32(32), op.i32add, op.set, DST,
  op.get, N, ...i32(1), op.i32sub, op.set, N,
  op.br, 0, op.end, op.end,
];

// bf16: bytes [0, 0, lo, hi] per output lane: 16-bit lanes of (zeros, source) interleaved, in the exact
// pattern of punpcklwd/punpckhwd so that V8 emits one instruction (indices >= 16 pick the source).
const zeros = [...op.const, ...new Array<number>(16).fill(0)];
const half = (first: number): number[] => [0, 1, 2, 3].flatMap((j) => [first + 2 * j, first + 2 * j + 1, 16 + first + 2 * j, 17 + first + 2 * j]);
const bf16Body = loop8([
  op.get, DST, ...zeros, op.get, SRC, ...op.load, ...mem(0), ...op.shuffle, ...half(0), ...op.store, ...mem(0),
  op.get, DST, ...zeros, op.get, SRC, ...op.load, ...mem(0), ...op.shuffle, ...half(8), ...op.store, ...mem(16),
]);

// f16: locals 3 = lanes being converted, 4..8 = splatted constants.
const X = 3;
const [M7FFF, M7C00, MAGIC, INF, M8000] = [4, 5, 6, 7, 8];
const splat = (local: number, v: number): number[] => [...i32(v | 0), ...op.splat, op.set, local];
const f16Lanes = (extend: number[]): number[] => [
  op.get, SRC, ...op.load, ...mem(0), ...extend, op.set, X,
  op.get, X, op.get, M7FFF, ...op.and, ...i32(13), ...op.shl, op.get, MAGIC, ...op.fmul,
  op.get, X, op.get, M7FFF, ...op.and, op.get, M7C00, ...op.geU, op.get, INF, ...op.and, ...op.or,
  op.get, X, op.get, M8000, ...op.and, ...i32(16), ...op.shl, ...op.or,
];
const f16Body = [
  ...splat(M7FFF, 0x7fff), ...splat(M7C00, 0x7c00), ...splat(MAGIC, 0x77800000), ...splat(INF, 0x7f800000), ...splat(M8000, 0x8000),
  ...loop8([op.get, DST, ...f16Lanes(op.extendLowU), ...op.store, ...mem(0), op.get, DST, ...f16Lanes(op.extendHighU), ...op.store, ...mem(16)]),
];

const func = (locals: number[], body: number[]): number[] => {
  const code = [...locals, ...body, op.end];
  return [...leb(code.length), ...code];
};

let bytes: Uint8Array | undefined;

/** The module's bytes (built once). */
export function widenWasmBytes(): Uint8Array {
  if (bytes) return bytes;
  const V128 = 0x7b;
  const I32 = 0x7f;
  bytes = new Uint8Array([
    ...WASM_HEADER,
    ...section(1, [1, 0x60, 3, I32, I32, I32, 0]),
    ...section(3, [2, 0, 0]),
    ...section(5, [1, 0x00, ...leb(PAGES)]),
    ...section(7, [3, ...str('mem'), 0x02, 0, ...str('bf16'), 0x00, 0, ...str('f16'), 0x00, 1]),
    ...section(10, [2, ...func([0], bf16Body), ...func([1, 6, V128], f16Body)]),
  ]);
  return bytes;
}

export type { WasmModule };

/** The exported functions and memory of one instance. */
export interface WidenInstance {
  readonly memory: ArrayBuffer;
  readonly bf16: (src: number, dst: number, groups: number) => void;
  readonly f16: (src: number, dst: number, groups: number) => void;
}

/** The kernel compiled, or undefined where WebAssembly (SIMD) is unavailable. */
export function compileWiden(): WasmModule | undefined {
  return compileWasm(widenWasmBytes());
}

/** A fresh instance (each thread has its own memory), or undefined where wasm SIMD is unavailable. */
export function instantiateWiden(module?: WasmModule): WidenInstance | undefined {
  const e = instantiateWasm(module ?? compileWiden()) as { mem: { buffer: ArrayBuffer }; bf16: WidenInstance['bf16']; f16: WidenInstance['f16'] } | undefined;
  return e ? { memory: e.mem.buffer, bf16: e.bf16, f16: e.f16 } : undefined;
}
