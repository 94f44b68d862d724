// Before any weight is read: how the engine holds a model within its memory budget, and the longest
// sequence a forward pass may then take (`maxTokens`). A model that does not fit even streaming is refused
// with the numbers, instead of being loaded until the out-of-memory killer ends the process.
//
// The rule, in order (target = MODE_TOKENS, or the engine's cap when smaller):
// 1. A mode that runs from memory, on the longest of target, target/2, ... down to CACHED_MIN_TOKENS at
//    which one fits, resident before cached at each length: resident converts nothing, cached converts
//    each layer when it runs (in a worker, beside the compute).
// 2. Else streaming. Streaming reads every layer from disk on every pass (a budget that cannot hold the
//    weights leaves no page cache that could), so cached is kept over it down to CACHED_MIN_TOKENS, the
//    length of an ordinary prompt or profiling chunk: longer sequences never buy streaming. OLMoE-1B-7B at
//    the 20.4 GiB a 24 GB machine leaves is cached with a cap of about 1,600 tokens, not streamed at 4,096.
// 3. Below that, the fastest mode at the longest length that fits, down to MIN_TOKENS; else a refusal.
// Within the mode, float32 layers (not converted when they run) are kept as far as the cap stays at the
// target, or at what the mode reaches with none when that is less: they are not traded for sequences longer
// than MODE_TOKENS. What the budget leaves after them lengthens the cap up to the engine's own; the reason
// names the budget that runs the engine's whole cap.
import type { MemoryEstimate, MemoryMode } from '../../protocol/modelInfo';
import { MoeError } from '../../protocol/moeError';
import type { AvailableMemory } from '../model/availableMemory';
import type { Checkpoint } from '../model/checkpoint';
import type { ModelConfig } from '../model/modelConfig';
import { formatBytes } from './memoryBudget';
import { describePlan, refusalMessage } from './memoryPlanText';
import { checkpointMemoryUnits, type MemoryUnit } from './memoryUnits';
import { resolveBudget, type ResolvedBudget } from './resolveBudget';
import { attentionTokenCap, estimateWorkingSet, type WorkingSet } from './workingSet';

/** The sequence length modes and float32 layers are chosen for. */
export const MODE_TOKENS = 2048;
/** Cached mode is kept over streaming as long as it runs sequences at least this long. */
export const CACHED_MIN_TOKENS = 1024;
/** Below this a model is refused rather than run on ever shorter sequences. */
export const MIN_TOKENS = 128;

export interface MemoryPlan {
  readonly mode: MemoryMode;
  /** Decoder layers whose float32 copy is kept between runs (every layer when resident). */
  readonly f32Layers: ReadonlySet<number>;
  readonly budgetBytes: number;
  /** The peak for sequences of `maxTokens` tokens. */
  readonly estimate: MemoryEstimate;
  /** The longest sequence a forward pass may take within the budget (at most the engine's own cap). */
  readonly maxTokens: number;
  /** The engine's cap before the budget: min(context, what attention scores allow). */
  readonly capTokens: number;
  readonly reason: string;
  readonly budget: ResolvedBudget;
}

export interface PlanOptions {
  /** The user's budget in bytes; default: derived from the free memory. */
  readonly budgetBytes?: number;
  /** Free memory (default: availableMemory(), which honours MOE_WORKBENCH_AVAILABLE_MEMORY). */
  readonly available?: AvailableMemory;
  /** The engine's cap on a sequence's length; default attentionTokenCap(config). */
  readonly maxTokens?: number;
  /** The working set for a sequence length; default estimateWorkingSet. */
  readonly workingSet?: (tokens: number) => WorkingSet;
  /** Plan this mode only, never refusing (tests; the whole-model graph, resident): with exactly `f32Layers`. */
  readonly mode?: MemoryMode;
  /** With `mode` (cached, streaming): the layers the engine keeps as float32; default none. */
  readonly f32Layers?: ReadonlySet<number>;
  /** Named in a refusal (MoeError.file). */
  readonly modelDir?: string;
  /** Internal (budgetForCap's own plans): no budget advice in the reason. */
  readonly noAdvice?: boolean;
}

/** What a mode holds for weights with a given set of float32 layers. */
export interface WeightHolding {
  readonly f32Layers: ReadonlySet<number>;
  readonly storedBytes: number;
  readonly f32CacheBytes: number;
  readonly layerBufferBytes: number;
}

/**
 * Plans an opened checkpoint (stored sizes from its headers); throws the refusal. In MoeEngine.load, in place
 * of checkMemoryFor: pass `budgetBytes: opts.memoryBudget` and the engine's own cap as `maxTokens`; hold the
 * weights as `mode` says, keeping float32 copies of `f32Layers` (in streaming mode too: they are not read
 * again); refuse sequences longer than `maxTokens`; set `info.memory = memoryInfoOf(plan, numLayers)`.
 * Embeddings and head are not in `f32Layers`: outside resident mode they are converted when they run. A
 * layer-major batch may keep `(budgetBytes - estimate.peakBytes) / (4 * keptHiddenPerToken(c))` more
 * tokens of hidden states.
 */
export function planCheckpointMemory(ckpt: Pick<Checkpoint, 'config' | 'tensors' | 'dir'>, opts: PlanOptions = {}): MemoryPlan {
  return planMemory(ckpt.config, checkpointMemoryUnits(ckpt), { modelDir: ckpt.dir, ...opts });
}

export function planMemory(c: ModelConfig, units: readonly MemoryUnit[], opts: PlanOptions = {}): MemoryPlan {
  const budget = resolveBudget(opts.budgetBytes, opts.available);
  const B = budget.bytes;
  const capTokens = Math.max(1, Math.min(opts.maxTokens ?? attentionTokenCap(c), c.contextLength));
  const working = opts.workingSet ?? ((t: number) => estimateWorkingSet(c, t));
  const peakOf = (h: WeightHolding, t: number): MemoryEstimate => estimateOf(h, working(t));
  const floor = Math.min(capTokens, CACHED_MIN_TOKENS);
  const target = Math.min(capTokens, MODE_TOKENS);
  const facts = (mode: MemoryMode, h: WeightHolding, maxTokens: number): MemoryPlan => {
    const estimate = peakOf(h, maxTokens);
    const forced = opts.mode !== undefined;
    const why = forced
      ? {}
      : {
          floorTokens: floor,
          targetTokens: target,
          ...(mode === 'streaming' ? { cachedPeakBytes: peakOf(holding('cached', units, 0), floor).peakBytes } : {}),
          ...(maxTokens < capTokens && !opts.noAdvice ? { fullCapBudgetBytes: budgetForCap(c, units, B, capTokens, opts) } : {}),
        };
    const reason = describePlan({ mode, units, numLayers: c.numLayers, holding: h, estimate, budget, maxTokens, capTokens, forced, ...why });
    return { mode, f32Layers: h.f32Layers, budgetBytes: B, estimate, maxTokens, capTokens, budget, reason };
  };
  const bottom = Math.min(capTokens, MIN_TOKENS);
  if (opts.mode) {
    // Forced (tests, the whole-model graph): exactly the float32 layers asked for; never refused.
    const all = new Set(units.flatMap((u) => (u.kind === 'layer' ? [u.layer!] : [])));
    const h = holdingOf(opts.mode, units, opts.mode === 'resident' ? all : (opts.f32Layers ?? new Set()));
    const fits = (t: number): boolean => peakOf(h, t).peakBytes <= B;
    if (fits(bottom)) return facts(opts.mode, h, longestFitting(bottom, capTokens, fits));
    const est = peakOf(h, bottom);
    return { ...facts(opts.mode, h, bottom), reason: `${opts.mode}: forced, beyond the budget (about ${formatBytes(est.peakBytes)} for ${bottom}-token sequences, budget ${formatBytes(B)})` };
  }
  const fitsAt = (h: WeightHolding, t: number): boolean => peakOf(h, t).peakBytes <= B;
  const steps = tokenSteps(capTokens);
  // First the modes that run from memory, on sequences of at least `floor`; then any mode, the fastest that
  // fits at the longest length (streaming, unless only very short sequences fit at all).
  const inMemory = ['resident', 'cached'] as const;
  const tries: [MemoryMode, number][] = [
    ...steps.filter((t) => t >= floor).flatMap((t) => inMemory.map((m): [MemoryMode, number] => [m, t])),
    ...steps.flatMap((t) => [...inMemory, 'streaming' as const].map((m): [MemoryMode, number] => [m, t])),
  ];
  for (const [mode, t] of tries) {
    const none = holding(mode, units, mode === 'resident' ? c.numLayers : 0);
    if (!fitsAt(none, t)) continue;
    if (mode === 'resident') return facts(mode, none, longestFitting(t, capTokens, (x) => fitsAt(none, x)));
    // Float32 layers as far as the cap stays at the target (or at what the mode reaches without any).
    const reach = longestFitting(t, Math.max(t, target), (x) => fitsAt(none, x));
    const h = bestHolding(mode, units, c.numLayers, (x) => fitsAt(x, reach)) ?? none;
    return facts(mode, h, longestFitting(reach, capTokens, (x) => fitsAt(h, x)));
  }
  const estimate = peakOf(holding('streaming', units, 0), bottom);
  throw new MoeError('E_UNSUPPORTED', refusalMessage({ modelDir: opts.modelDir, units, budget, estimate, tokens: bottom }), opts.modelDir);
}

/**
 * The smallest budget above `from` whose plan runs `cap`-token sequences, scanned upward in 64 steps to
 * the resident peak at `cap` (which always does): not bisected, because a larger budget can choose a faster
 * mode with a shorter cap (cached where streaming ran the whole context).
 */
function budgetForCap(c: ModelConfig, units: readonly MemoryUnit[], from: number, cap: number, opts: PlanOptions): number {
  const working = opts.workingSet ?? ((t: number) => estimateWorkingSet(c, t));
  const top = estimateOf(holding('resident', units, c.numLayers), working(cap)).peakBytes;
  const plenty = { bytes: Number.MAX_SAFE_INTEGER, source: 'budgetForCap' };
  const step = Math.max(2 ** 20, (top - from) / 64);
  for (let b = from + step; b < top; b += step) {
    try {
      const p = planMemory(c, units, { ...opts, budgetBytes: Math.ceil(b), available: plenty, noAdvice: true });
      if (p.maxTokens >= cap) return Math.ceil(b);
    } catch {
      // Refused at this budget: try a larger one.
    }
  }
  return top;
}

/** MODE_TOKENS (or the cap, when smaller), then halving down to MIN_TOKENS. */
function tokenSteps(cap: number): number[] {
  const top = Math.min(cap, MODE_TOKENS);
  const bottom = Math.min(cap, MIN_TOKENS);
  const out: number[] = [];
  for (let t = top; t > bottom; t = Math.floor(t / 2)) out.push(t);
  out.push(bottom);
  return out;
}

/** The largest length in [from, to] that fits (peaks grow with length; `from` fits). */
function longestFitting(from: number, to: number, fits: (t: number) => boolean): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The mode's holding with the most float32 layers that fits, or undefined when none does. */
function bestHolding(mode: MemoryMode, units: readonly MemoryUnit[], numLayers: number, fits: (h: WeightHolding) => boolean): WeightHolding | undefined {
  if (mode === 'resident') {
    const h = holding('resident', units, numLayers);
    return fits(h) ? h : undefined;
  }
  for (let n = numLayers; n >= 0; n--) {
    const h = holding(mode, units, n);
    if (fits(h)) return h;
  }
  return undefined;
}

/** What `mode` holds with the `n` lowest layers (beyond those that are free) kept as float32. */
export function holding(mode: MemoryMode, units: readonly MemoryUnit[], n: number): WeightHolding {
  const chosen = new Set<number>();
  for (const u of units) {
    if (chosen.size >= n) break;
    if (u.kind === 'layer' && !(mode === 'cached' && storedIsF32(u))) chosen.add(u.layer!);
  }
  return holdingOf(mode, units, chosen);
}

/**
 * A unit stored as F32 runs from its stored copy in cached mode: a float32 layer at no extra cost, no
 * buffer (a tied head too, when the embedding matrix it multiplies by is F32).
 */
function storedIsF32(u: MemoryUnit): boolean {
  return u.dtypes.length > 0 && u.dtypes.every((d) => d === 'F32');
}

/** What `mode` holds with the layers in `chosen` kept as float32 (resident: everything, whatever `chosen`). */
export function holdingOf(mode: MemoryMode, units: readonly MemoryUnit[], chosen: ReadonlySet<number>): WeightHolding {
  const layers = units.filter((u) => u.kind === 'layer');
  if (mode === 'resident') {
    return { f32Layers: new Set(layers.map((u) => u.layer!)), storedBytes: 0, f32CacheBytes: sum(units, (u) => u.f32Bytes - u.sharedF32Bytes), layerBufferBytes: 0 };
  }
  const free = new Set(mode === 'cached' ? units.filter(storedIsF32) : []);
  const kept = new Set<number>();
  let extra = 0;
  for (const u of layers) {
    if (free.has(u)) kept.add(u.layer!);
    else if (chosen.has(u.layer!)) {
      kept.add(u.layer!);
      extra += u.f32Bytes;
    }
  }
  // Converted when they run: every unit neither kept nor free, into one of two buffers (current, next);
  // streaming adds the read block of the main thread and of each conversion worker.
  const converted = units.filter((u) => !free.has(u) && !(u.kind === 'layer' && kept.has(u.layer!)));
  const largest = converted.reduce((m, u) => Math.max(m, u.f32Bytes), 0);
  // F32 strided reads use one block per converting thread: the main thread and up to two conversion workers.
  const blocks = mode === 'streaming' ? 3 * converted.reduce((m, u) => Math.max(m, u.readBlockBytes), 0) : 0;
  const buffers = (converted.length === 0 ? 0 : converted.length === 1 ? largest : 2 * largest) + blocks;
  return { f32Layers: kept, storedBytes: mode === 'cached' ? sum(units, (u) => u.storedBytes) : 0, f32CacheBytes: extra, layerBufferBytes: buffers };
}

/** The peak of a plan's weight holding (from its estimate) with another working set, e.g. a run's own sequence length. */
export function peakForTokens(e: Pick<MemoryEstimate, 'storedBytes' | 'f32CacheBytes' | 'layerBufferBytes'>, w: WorkingSet): number {
  return e.storedBytes + e.f32CacheBytes + e.layerBufferBytes + w.activationBytes + w.attentionBytes + w.runtimeBytes;
}

function estimateOf(h: WeightHolding, w: WorkingSet): MemoryEstimate {
  const peakBytes = peakForTokens(h, w);
  return { storedBytes: h.storedBytes, f32CacheBytes: h.f32CacheBytes, layerBufferBytes: h.layerBufferBytes, activationBytes: w.activationBytes, attentionBytes: w.attentionBytes, runtimeBytes: w.runtimeBytes, peakBytes, tokens: w.tokens };
}

function sum(units: readonly MemoryUnit[], f: (u: MemoryUnit) => number): number {
  return units.reduce((a, u) => a + f(u), 0);
}
