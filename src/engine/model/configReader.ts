// Typed, bounded reads of config.json keys. Every number is checked here before the engine sizes anything
// from it: a refusal names the file, the key and the value (issue #8: unbounded sizes crashed the process,
// degenerate values gave all-NaN output).
import { MoeError } from '../../protocol/moeError';

type Raw = Record<string, unknown>;

/**
 * Upper bound for any size key. Sizes are bound to the weight files later (configBounds.ts); this bound
 * only keeps the config's own bookkeeping small and every product of two sizes an exact integer.
 */
export const MAX_SIZE = 2 ** 31 - 1;
/** The config builds one record per layer before the weights are consulted; far above any real model (~160). */
export const MAX_LAYERS = 65536;

export class ConfigReader {
  constructor(
    readonly raw: Raw,
    readonly file: string,
  ) {}

  fail(msg: string, code: 'E_CONFIG' | 'E_UNSUPPORTED' = 'E_CONFIG'): never {
    throw new MoeError(code, `${this.file}: ${msg}`, this.file);
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  /** An integer in [min, max]; `def` when absent (required when `def` is undefined). */
  int(key: string, def?: number, min = 1, max = MAX_SIZE): number {
    const v = this.raw[key];
    if (v === undefined || v === null) {
      if (def === undefined) this.fail(`"${key}" is missing; it is required to build the model`);
      return def;
    }
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) this.fail(`"${key}" must be an integer from ${min} to ${max}, got ${show(v)}`);
    return v;
  }

  num(key: string, def: number): number {
    const v = this.raw[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(`"${key}" must be a finite number, got ${show(v)}`);
    return v;
  }

  /** A finite number > 0: epsilons, rope bases, multipliers and scales, where 0 or less gives NaN or nonsense. */
  positive(key: string, def: number): number {
    const v = this.num(key, def);
    if (!(v > 0)) this.fail(`"${key}" must be a number greater than 0, got ${show(v)}`);
    return v;
  }

  bool(key: string, def: boolean): boolean {
    const v = this.raw[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'boolean') this.fail(`"${key}" must be true or false, got ${show(v)}`);
    return v;
  }

  intList(key: string): number[] {
    const v = this.raw[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || !v.every((x) => Number.isSafeInteger(x) && (x as number) >= 0)) this.fail(`"${key}" must be a list of integers >= 0, got ${show(v)}`);
    return v as number[];
  }
}

/** A value as it appears in the file, shortened so a hostile value cannot flood the message. */
export function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
