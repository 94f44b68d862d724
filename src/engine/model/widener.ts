// Block copies of 16-bit rows into strided float32 positions through the wasm SIMD kernel (widenWasm.ts):
// each block of the source is brought into the module's memory (copied from a tensor held in memory, or
// read from the file straight there), widened there, where source and result stay in the core's cache,
// and copied out row segment by row segment with TypedArray.set (a memmove). The JS loops of
// rowConversion.ts convert one element per iteration (~0.8 G elements/s measured here); this runs at the
// speed of the copy out. The conversion worker (conversionWorker.ts) runs the same steps in its own thread.
import type { StorageDtype } from './dtype';
import { copyRows } from './rowConversion';
import { instantiateWiden, WIDEN_BLOCK, WIDEN_DST, type WasmModule, type WidenInstance } from './widenWasm';

/** Fills `block` with source elements [from, from + block.length) of the tensor being copied. */
export type BlockFill = (block: Uint16Array, from: number) => void;

/** One thread's kernel instance and the views of its memory. */
export class Widener {
  private readonly k: WidenInstance;
  private readonly src: Uint16Array;
  private readonly out: Float32Array;

  /** Throws where WebAssembly is unavailable (use widener() for the shared, optional one). */
  constructor(module?: WasmModule) {
    const k = instantiateWiden(module);
    if (!k) throw new Error('WebAssembly SIMD is unavailable');
    this.k = k;
    this.src = new Uint16Array(k.memory, 0, WIDEN_BLOCK);
    this.out = new Float32Array(k.memory, WIDEN_DST, WIDEN_BLOCK);
  }

  /**
   * dst[to + r * stride + j] = float32(element r * rowLen + j of the source) for r < rows, j < rowLen,
   * the source brought in block by block by `fill` (its `from` counts from the copy's first element).
   */
  rows(dtype: 'BF16' | 'F16', fill: BlockFill, rowLen: number, rows: number, dst: Float32Array, to: number, stride: number): void {
    const total = rowLen * rows;
    const last = to + (rows - 1) * stride + rowLen;
    if (rows > 0 && rowLen > 0 && (last > dst.length || to < 0)) throw new RangeError(`widen: ${rows} rows of ${rowLen} to ${to} stride ${stride} (destination ${dst.length})`);
    // Whole rows per block when they fit, so that a block is a few long segments.
    const block = rowLen <= WIDEN_BLOCK ? Math.floor(WIDEN_BLOCK / rowLen) * rowLen : WIDEN_BLOCK;
    const kernel = dtype === 'BF16' ? this.k.bf16 : this.k.f16;
    for (let e0 = 0; e0 < total; e0 += block) {
      const n = Math.min(block, total - e0);
      fill(this.src.subarray(0, n), e0);
      kernel(0, WIDEN_DST, (n + 7) >>> 3);
      if (stride === rowLen || rows === 1) {
        dst.set(this.out.subarray(0, n), to + e0);
        continue;
      }
      for (let e = e0; e < e0 + n; ) {
        const r = Math.floor(e / rowLen);
        const c = e - r * rowLen;
        const len = Math.min(rowLen - c, e0 + n - e);
        dst.set(this.out.subarray(e - e0, e - e0 + len), to + r * stride + c);
        e += len;
      }
    }
  }
}

let shared: Widener | null | undefined;

/** This thread's kernel, or undefined where WebAssembly SIMD is unavailable (the JS loops are used then). */
export function widener(): Widener | undefined {
  if (shared === undefined) {
    try {
      shared = new Widener();
    } catch {
      shared = null;
    }
  }
  return shared ?? undefined;
}

/** copyRows of rowConversion.ts through `w` (the JS loops without it, and for F32). */
export function copyRowsInto(w: Widener | undefined, dtype: StorageDtype, src: Uint16Array | Float32Array, from: number, rowLen: number, rows: number, dst: Float32Array, to: number, stride: number): void {
  if (!w || dtype === 'F32') {
    copyRows(dtype, src, from, rowLen, rows, dst, to, stride);
    return;
  }
  if (from < 0 || from + rows * rowLen > src.length) throw new RangeError(`widen: ${rows} rows of ${rowLen} from ${from} (source ${src.length})`);
  const s = src as Uint16Array;
  w.rows(dtype, (block, at) => block.set(s.subarray(from + at, from + at + block.length)), rowLen, rows, dst, to, stride);
}
