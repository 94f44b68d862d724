// What the model's tooltip says about memory: the mode the engine holds the weights in, why, and the
// estimated peak against the budget. Pure: no vscode import, so it is unit-tested in plain Node.
import { formatBytes } from '../../engine/memory/memoryBudget';
import type { ModelInfo } from '../../protocol/modelInfo';

/** "Memory: streaming: the 12.9 GiB … Peak about 7.9 GiB of the 8.0 GiB budget."; undefined from an engine without a plan. */
export function memorySentence(info: Pick<ModelInfo, 'memory'>): string | undefined {
  const m = info.memory;
  if (!m) return undefined;
  return `Memory: ${m.reason}. Peak about ${formatBytes(m.estimate.peakBytes)} of the ${formatBytes(m.budgetBytes)} budget (setting moeWorkbench.memoryBudget).`;
}
