// The whole-model engine's check before any weight is read: it holds every weight as float32, so it can run
// a model only as the memory plan's resident mode does. Figures come from the plan (working set, budget from
// --memory-budget or the free memory). Retire this once MoeEngine.load acts on the plan's modes itself.
import { MoeError } from '../../protocol/moeError';
import { formatBytes } from '../memory/memoryBudget';
import { planMemory, type MemoryPlan } from '../memory/memoryPlan';
import { memoryUnits } from '../memory/memoryUnits';
import { availableMemory, type AvailableMemory } from './availableMemory';
import type { ModelConfig } from './modelConfig';

/** The resident plan for `c`, or E_UNSUPPORTED naming what it needs, the budget, and what to change. */
export function checkMemoryFor(c: ModelConfig, modelDir: string, available: AvailableMemory = availableMemory(), budgetBytes?: number): MemoryPlan {
  // Resident holds float32 whatever the files store, so stored sizes do not enter this plan.
  const units = memoryUnits(c, (_name, elements) => ({ dtype: 'F32', bytes: elements * 4 }));
  const plan = planMemory(c, units, { modelDir, available, mode: 'resident', ...(budgetBytes === undefined ? {} : { budgetBytes }) });
  const e = plan.estimate;
  if (e.peakBytes <= plan.budgetBytes) return plan;
  const working = e.activationBytes + e.attentionBytes + e.runtimeBytes;
  throw new MoeError(
    'E_UNSUPPORTED',
    `${modelDir}: the model needs about ${formatBytes(e.peakBytes)} of memory (${formatBytes(e.f32CacheBytes)} of float32 weights + ${formatBytes(working)} working memory for ${e.tokens}-token sequences), ` +
      `but the memory budget is ${formatBytes(plan.budgetBytes)} (${plan.budget.source}). This engine holds every weight in memory as float32: give a larger --memory-budget (setting moeWorkbench.memoryBudget), free memory, or use a smaller model.`,
    modelDir,
  );
}
