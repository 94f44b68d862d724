// Plain tensor shapes that cross postMessage (class instances would lose their prototype). The typed
// arrays' buffers go in the transfer list.

export interface F32Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
}

export interface I32Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Int32Array;
}

/** Row r of a matrix as a plain array (for JSON output). */
export function rowOf(m: F32Matrix | I32Matrix, r: number): number[] {
  return Array.from(m.data.subarray(r * m.cols, (r + 1) * m.cols));
}

/** Every buffer reachable from a value, for postMessage's transfer list (each buffer once). */
export function transferablesOf(value: unknown, out: Set<ArrayBuffer> = new Set()): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer) out.add(value.buffer);
  } else if (Array.isArray(value)) {
    for (const v of value) transferablesOf(v, out);
  } else if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) transferablesOf(v, out);
  }
  return [...out];
}
