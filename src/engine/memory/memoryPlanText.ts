// The sentences a user reads about a memory plan: which mode and why (inspect, the status tooltip), and a
// refusal naming the numbers and what to change.
import type { MemoryEstimate, MemoryMode } from '../../protocol/modelInfo';
import { formatBytes } from './memoryBudget';
import type { WeightHolding } from './memoryPlan';
import type { MemoryUnit } from './memoryUnits';
import type { ResolvedBudget } from './resolveBudget';

export interface PlanFacts {
  readonly mode: MemoryMode;
  readonly units: readonly MemoryUnit[];
  readonly numLayers: number;
  readonly holding: WeightHolding;
  readonly estimate: MemoryEstimate;
  readonly budget: ResolvedBudget;
  readonly maxTokens: number;
  readonly capTokens: number;
  /** The caller chose the mode (tests): say what it does, not why the budget chose it. */
  readonly forced?: boolean;
  /** Streaming: what cached mode would need with sequences of `floorTokens` (why it was not chosen). */
  readonly cachedPeakBytes?: number;
  /** Cached mode is preferred over streaming down to sequences of this length (CACHED_MIN_TOKENS). */
  readonly floorTokens?: number;
  /** The length modes are chosen for (MODE_TOKENS, or the cap when smaller). */
  readonly targetTokens?: number;
  /** When maxTokens < capTokens: the smallest budget whose plan runs capTokens-token sequences. */
  readonly fullCapBudgetBytes?: number;
}

export function describePlan(f: PlanFacts): string {
  const stored = `${formatBytes(total(f.units, (u) => u.storedBytes))} of ${dtypeLabel(f.units)} weights`;
  const budget = `the ${formatBytes(f.budget.bytes)} memory budget`;
  const e = f.estimate;
  const working = e.activationBytes + e.attentionBytes + e.runtimeBytes;
  const n = f.holding.f32Layers.size;
  let s: string;
  if (f.forced) {
    const what = { resident: 'every layer keeps its float32 copy', cached: `the weights are held as stored, ${n} of ${f.numLayers} layers keep a float32 copy, the others are converted when they run`, streaming: `each layer is read from disk when it runs (${n} of ${f.numLayers} layers keep a float32 copy)` };
    s = `${f.mode}, forced: ${what[f.mode]}`;
  } else if (f.mode === 'resident') {
    s = `resident: the ${stored} fit in ${budget} as float32 (${formatBytes(total(f.units, (u) => u.f32Bytes - u.sharedF32Bytes))}) with ${formatBytes(working)} of working memory; every layer keeps its float32 copy`;
  } else if (f.mode === 'cached') {
    s = `cached: the ${stored} are held as stored, but as float32 (${formatBytes(total(f.units, (u) => u.f32Bytes - u.sharedF32Bytes))}) they exceed ${budget}; ${n} of ${f.numLayers} layers keep a float32 copy, the others are converted when they run`;
  } else {
    const why = f.cachedPeakBytes !== undefined && f.floorTokens !== undefined ? ` with ${f.floorTokens}-token sequences (held as stored they would need about ${formatBytes(f.cachedPeakBytes)})` : ` next to ${formatBytes(e.layerBufferBytes + working)} of layer buffers and working memory`;
    s = `streaming: the ${stored} do not fit in ${budget}${why}; each layer is read from disk when it runs` + (n > 0 ? ` (${n} of ${f.numLayers} layers keep a float32 copy)` : '');
  }
  if (f.maxTokens < f.capTokens) {
    s += `; sequences are limited to ${f.maxTokens} tokens (${f.capTokens} without the budget`;
    if (f.mode === 'cached' && f.floorTokens !== undefined && f.maxTokens < (f.targetTokens ?? f.capTokens)) {
      s += `; cached mode is kept rather than streaming, which reads every layer from disk on each pass, while sequences of ${f.floorTokens} tokens fit`;
    }
    if (f.fullCapBudgetBytes !== undefined) s += `; a --memory-budget of about ${budgetText(f.fullCapBudgetBytes)} allows ${f.capTokens}`;
    s += ')';
  }
  if (f.budget.lowered) s += ` (${f.budget.source})`;
  else if (!f.budget.explicit) s += ` (budget: ${f.budget.source})`;
  return s;
}

export interface RefusalFacts {
  readonly modelDir: string | undefined;
  readonly units: readonly MemoryUnit[];
  readonly budget: ResolvedBudget;
  /** The leanest plan: streaming, no float32 layer, the shortest sequences. */
  readonly estimate: MemoryEstimate;
  readonly tokens: number;
}

export function refusalMessage(f: RefusalFacts): string {
  const e = f.estimate;
  const largest = f.units.reduce((m, u) => Math.max(m, u.f32Bytes), 0);
  const working = e.activationBytes + e.attentionBytes + e.runtimeBytes;
  const lowered = f.budget.lowered;
  const source = f.budget.explicit && !lowered ? '' : ` (${f.budget.source})`;
  const atLeast = `${Math.ceil((e.peakBytes / 2 ** 30) * 2) / 2}GiB`;
  const change = lowered || !f.budget.explicit
    ? `Free memory (the budget cannot exceed what is free), or give a --memory-budget (setting moeWorkbench.memoryBudget) of at least ${atLeast} on a machine that has it.`
    : `Give a larger --memory-budget (setting moeWorkbench.memoryBudget), at least ${atLeast}.`;
  return (
    `${f.modelDir ? `${f.modelDir}: ` : ''}this model cannot run within the ${formatBytes(f.budget.bytes)} memory budget${source}: ` +
    `even streaming, which holds no weights in memory, needs about ${formatBytes(e.peakBytes)}: two float32 buffers for its largest layer ` +
    `(${formatBytes(largest)} each) and ${formatBytes(working)} of working memory (activations, ONNX Runtime's arenas) for ${f.tokens}-token sequences. ${change}`
  );
}

/** A budget to give, rounded up to a tenth of a GiB: "23.6GiB". */
function budgetText(bytes: number): string {
  return `${(Math.ceil((bytes / 2 ** 30) * 10) / 10).toFixed(1)}GiB`;
}

function total(units: readonly MemoryUnit[], f: (u: MemoryUnit) => number): number {
  return units.reduce((a, u) => a + f(u), 0);
}

/** "BF16", or "BF16 and F32" for a mixed checkpoint. */
function dtypeLabel(units: readonly MemoryUnit[]): string {
  const all = [...new Set(units.flatMap((u) => u.dtypes))].sort();
  return all.length <= 1 ? (all[0] ?? 'F32') : `${all.slice(0, -1).join(', ')} and ${all.at(-1)}`;
}
