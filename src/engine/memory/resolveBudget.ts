// The budget a plan works within: the user's (--memory-budget, moeWorkbench.memoryBudget), or one derived
// from the machine's free memory. Either way no more than is free: a plan beyond it would be carried out
// until the out-of-memory killer ends the process.
import { availableMemory, type AvailableMemory } from '../model/availableMemory';
import { formatBytes } from './memoryBudget';

/** Left to the rest of the machine when the budget is derived: a fixed part plus a share of what is free. */
export const DEFAULT_MARGIN_BYTES = 256 * 2 ** 20;
export const DEFAULT_MARGIN_SHARE = 0.1;

export interface ResolvedBudget {
  readonly bytes: number;
  /** True when the user gave the budget (it may still have been lowered to the free memory). */
  readonly explicit: boolean;
  /** True when the user's budget exceeded the free memory and was lowered to it. */
  readonly lowered: boolean;
  /** Where the figure comes from, for messages: "90% of the 9.5 GiB free (MemAvailable in /proc/meminfo) less 256 MiB". */
  readonly source: string;
  readonly available: AvailableMemory;
}

export function resolveBudget(explicit: number | undefined, available: AvailableMemory = availableMemory()): ResolvedBudget {
  const free = `${formatBytes(available.bytes)} free (${available.source})`;
  if (explicit !== undefined) {
    if (explicit <= available.bytes) return { bytes: explicit, explicit: true, lowered: false, source: 'the memory budget given', available };
    return { bytes: available.bytes, explicit: true, lowered: true, source: `the ${formatBytes(explicit)} memory budget given, lowered to the ${free}`, available };
  }
  const bytes = Math.max(0, Math.floor(available.bytes * (1 - DEFAULT_MARGIN_SHARE) - DEFAULT_MARGIN_BYTES));
  return { bytes, explicit: false, lowered: false, source: `${Math.round(100 * (1 - DEFAULT_MARGIN_SHARE))}% of the ${free} less ${formatBytes(DEFAULT_MARGIN_BYTES)}`, available };
}
