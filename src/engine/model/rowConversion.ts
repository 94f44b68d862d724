// The conversion kernel of a block copy: rows of a stored tensor (F32, BF16 or F16) widened to float32 into
// strided positions of a destination, in one tight loop per row with no typed-array views made per row
// (per-row subarray() calls ran at ~0.13 G elements/s on the expert layout; this runs at memory speed).
// Where WebAssembly SIMD is available the engine converts 16-bit rows with widener.ts instead (faster);
// these loops remain the fallback, for F32, and the reference the kernel is tested against.
import { f16ToF32, type StorageDtype } from './dtype';

let f16Bits: Uint32Array | undefined;

/** float32 bit pattern of every half-precision pattern, as dtype.ts converts them (256 KiB, built once). */
export function f16BitsTable(): Uint32Array {
  if (!f16Bits) {
    const out = new Float32Array(65536);
    f16ToF32(Uint16Array.from({ length: 65536 }, (_, i) => i), out);
    f16Bits = new Uint32Array(out.buffer);
  }
  return f16Bits;
}

/**
 * dst[to + r * stride + j] = float32(src[from + r * rowLen + j]) for r < rows, j < rowLen. `src` is the
 * stored data (Float32Array for F32, Uint16Array for BF16/F16).
 */
export function copyRows(dtype: StorageDtype, src: Uint16Array | Float32Array, from: number, rowLen: number, rows: number, dst: Float32Array, to: number, stride: number): void {
  if (rows === 0 || rowLen === 0) return;
  const last = to + (rows - 1) * stride + rowLen;
  if (from + rows * rowLen > src.length || last > dst.length || to < 0 || from < 0) {
    throw new RangeError(`copyRows: ${rows} rows of ${rowLen} from ${from} (source ${src.length}) to ${to} stride ${stride} (destination ${dst.length})`);
  }
  if (dtype === 'F32') {
    const s = src as Float32Array;
    for (let r = 0; r < rows; r++) dst.set(s.subarray(from + r * rowLen, from + (r + 1) * rowLen), to + r * stride);
    return;
  }
  const s = src as Uint16Array;
  const d = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  if (dtype === 'BF16') {
    for (let r = 0; r < rows; r++) {
      const si = from + r * rowLen;
      const di = to + r * stride;
      for (let j = 0; j < rowLen; j++) d[di + j] = s[si + j]! << 16;
    }
    return;
  }
  const t = f16BitsTable();
  for (let r = 0; r < rows; r++) {
    const si = from + r * rowLen;
    const di = to + r * stride;
    for (let j = 0; j < rowLen; j++) d[di + j] = t[s[si + j]!]!;
  }
}
