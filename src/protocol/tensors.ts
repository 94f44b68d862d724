// Plain tensor shapes that cross the engine's IPC channel (class instances would lose their prototype;
// typed arrays survive V8 serialisation as typed arrays).

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
