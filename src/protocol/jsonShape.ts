// Checking untrusted JSON (profiles, reports) against the shapes of this protocol, one value at a time,
// so that a refusal names the JSON path of the first bad value and what was expected there, e.g.
// `layers[2].reapSum[5]: expected a finite number, got "x"`. Pure; callers add the file name.

/** A value that does not have the expected shape; `path` is where it is in the document. */
export class ShapeError extends Error {
  /** `gotText`, when given, describes what was found instead of the value itself (e.g. "6 bytes"). */
  constructor(
    readonly path: string,
    readonly expected: string,
    readonly got: unknown,
    gotText?: string,
  ) {
    super(`${path || '(top level)'}: expected ${expected}, got ${gotText ?? describeValue(got)}`);
    this.name = 'ShapeError';
  }
}

/** A short, printable description of a JSON value for error messages. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing (the key is missing)';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object' && v !== null) return 'an object';
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}…` : s;
}

/** `base.key` or `base[i]`. */
export function childPath(base: string, key: string | number): string {
  return typeof key === 'number' ? `${base}[${key}]` : base ? `${base}.${key}` : key;
}

export function expectRecord(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ShapeError(path, 'an object', v);
  return v as Record<string, unknown>;
}

export function expectString(v: unknown, path: string): string {
  if (typeof v !== 'string') throw new ShapeError(path, 'a string', v);
  return v;
}

export function expectBoolean(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') throw new ShapeError(path, 'true or false', v);
  return v;
}

/** A finite number within [min, max]. */
export function expectNumber(v: unknown, path: string, min = -Infinity, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ShapeError(path, 'a finite number', v);
  if (v < min || v > max) throw new ShapeError(path, rangeText('a number', min, max), v);
  return v;
}

/** A safe integer within [min, max]. */
export function expectInteger(v: unknown, path: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new ShapeError(path, rangeText('an integer', min, max), v);
  return v;
}

/** An array, of exactly `length` items when given. */
export function expectArray(v: unknown, path: string, length?: number, what = 'items'): unknown[] {
  if (!Array.isArray(v)) throw new ShapeError(path, length === undefined ? 'an array' : `an array of ${length} ${what}`, v);
  if (length !== undefined && v.length !== length) throw new ShapeError(path, `an array of ${length} ${what}`, v);
  return v;
}

/** Every item of an array checked by `item` (which gets the item's path). */
export function expectArrayOf<T>(v: unknown, path: string, item: (x: unknown, path: string) => T, length?: number, what?: string): T[] {
  return expectArray(v, path, length, what).map((x, i) => item(x, childPath(path, i)));
}

/** `check` applied to `v[key]` unless the key is absent. */
export function optionalField<T>(v: Record<string, unknown>, key: string, path: string, check: (x: unknown, path: string) => T): T | undefined {
  return v[key] === undefined ? undefined : check(v[key], childPath(path, key));
}

function rangeText(what: string, min: number, max: number): string {
  const hasMin = min > -Number.MAX_SAFE_INTEGER;
  const hasMax = max < Number.MAX_SAFE_INTEGER;
  if (hasMin && hasMax) return `${what} from ${min} to ${max}`;
  if (hasMin) return `${what} >= ${min}`;
  if (hasMax) return `${what} <= ${max}`;
  return what;
}
