// Safetensors dtypes and exact, allocation-free conversions between float32 and the 16-bit weight formats.
// All conversions work on bit patterns through Uint32Array views, so they are exact and keep NaN signs.

/** The dtypes the engine can load as weights (everything is computed in float32). */
export type StorageDtype = 'F32' | 'F16' | 'BF16';
export const STORAGE_DTYPES: readonly StorageDtype[] = ['F32', 'F16', 'BF16'];

/**
 * Element size in bits of every dtype the safetensors format defines. Bits rather than bytes because the
 * format also has sub-byte types (F4, F6_*), which we must recognise in a header even though we never read them.
 * A Map, not an object literal, so hostile names like "__proto__" or "toString" can never look like a dtype.
 */
const DTYPE_BITS: ReadonlyMap<string, number> = new Map<string, number>([
  ['BOOL', 8],
  ['F4', 4],
  ['F6_E2M3', 6],
  ['F6_E3M2', 6],
  ['U8', 8],
  ['I8', 8],
  ['F8_E5M2', 8],
  ['F8_E4M3', 8],
  ['F8_E8M0', 8],
  ['I16', 16],
  ['U16', 16],
  ['F16', 16],
  ['BF16', 16],
  ['I32', 32],
  ['U32', 32],
  ['F32', 32],
  ['C64', 64],
  ['F64', 64],
  ['I64', 64],
  ['U64', 64],
]);

/** Bits per element of a safetensors dtype, or undefined when the dtype is not one the format defines. */
export function dtypeBits(dtype: string): number | undefined {
  return DTYPE_BITS.get(dtype);
}

/** All dtype names the format defines (for error messages). */
export function knownDtypes(): string[] {
  return [...DTYPE_BITS.keys()];
}

export function isStorageDtype(dtype: string): dtype is StorageDtype {
  return dtype === 'F32' || dtype === 'F16' || dtype === 'BF16';
}

/** Bytes per element of a weight dtype. */
export function storageElementBytes(dtype: StorageDtype): 2 | 4 {
  return dtype === 'F32' ? 4 : 2;
}

// Typed arrays use the platform's byte order, safetensors is little-endian. Every platform Node ships
// on is little-endian; readers check this flag rather than silently producing garbage elsewhere.
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function u32View(a: Float32Array, n: number): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, n);
}

function checkLengths(fn: string, srcLen: number, dstLen: number): void {
  if (dstLen < srcLen) throw new RangeError(`${fn}: destination holds ${dstLen} elements, source has ${srcLen}`);
}

/** bfloat16 is the top half of a float32, so widening is a shift: exact for every pattern. */
export function bf16ToF32(src: Uint16Array, dst: Float32Array): void {
  const n = src.length;
  checkLengths('bf16ToF32', n, dst.length);
  const d = u32View(dst, n);
  for (let i = 0; i < n; i++) d[i] = src[i] << 16;
}

let f16Table: Uint32Array | undefined;

/** float32 bit pattern of every half-precision bit pattern; built once (256 KiB), then a lookup per element. */
function halfToFloatBitsTable(): Uint32Array {
  if (f16Table) return f16Table;
  const t = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    let mant = h & 0x3ff;
    let bits: number;
    if (exp === 0x1f) {
      bits = sign | 0x7f800000 | (mant << 13); // inf, or NaN with its payload kept
    } else if (exp !== 0) {
      bits = sign | ((exp + 112) << 23) | (mant << 13); // rebias 15 -> 127
    } else if (mant === 0) {
      bits = sign; // signed zero
    } else {
      // Subnormal half: normalise the mantissa; every half subnormal is a normal float32.
      let e = 113; // exponent of 2^-14 in float32 bias, decremented per shift
      while ((mant & 0x400) === 0) {
        mant <<= 1;
        e--;
      }
      bits = sign | (e << 23) | ((mant & 0x3ff) << 13);
    }
    t[h] = bits >>> 0;
  }
  f16Table = t;
  return t;
}

/** Exact half -> float32 for every pattern, including subnormals, infinities and NaN. */
export function f16ToF32(src: Uint16Array, dst: Float32Array): void {
  const n = src.length;
  checkLengths('f16ToF32', n, dst.length);
  const t = halfToFloatBitsTable();
  const d = u32View(dst, n);
  for (let i = 0; i < n; i++) d[i] = t[src[i]];
}

/** float32 -> bfloat16 with round-to-nearest-even; NaN stays NaN (quieted, sign and top payload kept). */
export function f32ToBf16(src: Float32Array, dst: Uint16Array): void {
  const n = src.length;
  checkLengths('f32ToBf16', n, dst.length);
  const s = u32View(src, n);
  for (let i = 0; i < n; i++) {
    const u = s[i];
    if ((u & 0x7fffffff) > 0x7f800000) {
      // Rounding could carry a NaN into inf; truncate and force the quiet bit instead.
      dst[i] = (u >>> 16) | 0x0040;
    } else {
      // Adding 0x7fff plus the lowest kept bit rounds half-way cases to even. Cannot exceed 2^32 here.
      dst[i] = (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
    }
  }
}

/** float32 -> half with round-to-nearest-even, overflow to inf, gradual underflow to subnormals and zero. */
export function f32ToF16(src: Float32Array, dst: Uint16Array): void {
  const n = src.length;
  checkLengths('f32ToF16', n, dst.length);
  const s = u32View(src, n);
  for (let i = 0; i < n; i++) {
    const u = s[i];
    const sign = (u >>> 16) & 0x8000;
    const a = u & 0x7fffffff;
    if (a >= 0x7f800000) {
      // inf stays inf; NaN keeps its top payload bits and gets the quiet bit so it cannot become inf.
      dst[i] = a === 0x7f800000 ? sign | 0x7c00 : sign | 0x7e00 | ((a >>> 13) & 0x3ff);
    } else if (a >= 0x477ff000) {
      // >= 65520: half-way between 65504 (max half) and 65536 or beyond; ties to even -> inf.
      dst[i] = sign | 0x7c00;
    } else if (a >= 0x38800000) {
      // Normal half range (>= 2^-14): rebias the exponent (127 -> 15) and round the 13 dropped bits.
      const r = a - 0x38000000;
      dst[i] = sign | ((r + 0xfff + ((r >>> 13) & 1)) >>> 13);
    } else if (a > 0x33000000) {
      // Subnormal half: value / 2^-24, rounded to nearest even. a > 2^-25 so the result is at least 1 ulp.
      const e = a >>> 23;
      const m = (a & 0x7fffff) | 0x800000;
      const shift = 126 - e; // 14..24
      let q = m >>> shift;
      const rem = m & ((1 << shift) - 1);
      const half = 1 << (shift - 1);
      if (rem > half || (rem === half && (q & 1) === 1)) q++; // may carry into the smallest normal: still right
      dst[i] = sign | q;
    } else {
      dst[i] = sign; // <= 2^-25 rounds to (signed) zero; exactly 2^-25 is a tie and zero is even
    }
  }
}
