// The memory budget a user gives (`--memory-budget 8GiB`, setting moeWorkbench.memoryBudget): parsed once
// here so the CLI, the extension and the engine agree on units. Binary units are powers of 1024, decimal
// ones powers of 1000; a plain number is bytes.
import { MoeError } from '../../protocol/moeError';

const UNITS: Readonly<Record<string, number>> = { '': 1, B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };

/** Bytes of a budget such as "8GiB", "512 MiB", "1.5GB" or "1000000000". `what` names the source in errors. */
export function parseMemoryBudget(text: string, what = '--memory-budget'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(text);
  const unit = m ? Object.keys(UNITS).find((u) => u.toLowerCase() === m[2]!.toLowerCase()) : undefined;
  if (!m || unit === undefined) {
    throw new MoeError('E_INPUT', `${what} "${text}" is not a memory size: give a number with GiB, MiB, GB, MB (or KiB, KB, TiB, TB), or plain bytes, e.g. 8GiB`);
  }
  const bytes = Math.floor(Number(m[1]) * UNITS[unit]!);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new MoeError('E_INPUT', `${what} "${text}" must be a positive size`);
  return bytes;
}

/** A byte count for messages: "12.8 GiB", "300 MiB" (one decimal in GiB: budgets differ by fractions of one). */
export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(bytes >= 100 * 2 ** 30 ? 0 : 1)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  if (bytes >= 2 ** 10) return `${(bytes / 2 ** 10).toFixed(0)} KiB`;
  return `${bytes} B`;
}
