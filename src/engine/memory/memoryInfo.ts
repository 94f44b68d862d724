// The plan as ModelInfo reports it (inspect, the extension's status): figures and the sentence, no sets.
import type { ModelMemory } from '../../protocol/modelInfo';
import type { MemoryPlan } from './memoryPlan';

export function memoryInfoOf(plan: MemoryPlan, numLayers: number): ModelMemory {
  return {
    mode: plan.mode,
    budgetBytes: plan.budgetBytes,
    f32Layers: plan.f32Layers.size,
    numLayers,
    maxTokens: plan.maxTokens,
    estimate: plan.estimate,
    reason: plan.reason,
  };
}
