// The engine: a loaded checkpoint (config, weights, tokenizer) plus ONNX sessions built from it. Weights,
// graph construction and execution stay separate: the WeightStore owns the numbers (held as the memory
// plan says: resident, cached or streaming), buildDecoderGraph / the layer graphs the computation,
// OrtSession the execution; sessions take the weights as inputs. Resident weights run as one whole-model
// graph; otherwise the model runs layer by layer (layerwise/layerwiseModel.ts), each unit's weights
// converted or read when it runs.
import type { Capture, ForwardResult, HiddenStates, LayerRouting, TokenSpan } from '../protocol/engineProtocol';
import type { ModelInfo } from '../protocol/modelInfo';
import { MoeError } from '../protocol/moeError';
import type { F32Matrix } from '../protocol/tensors';
import { buildDecoderGraph, type GraphOutputs } from './graph/decoderGraph';
import { openCheckpoint } from './model/checkpoint';
import { weightOrExpertSlice } from './model/expertSliceView';
import { memoryInfoOf } from './memory/memoryInfo';
import { planCheckpointMemory } from './memory/memoryPlan';
import { attentionTokenCap } from './memory/workingSet';
import type { ModelConfig } from './model/modelConfig';
import { type LoadOptions, type WeightMode, WeightStore } from './model/weightStore';
import { LAYER_MAJOR_BATCH_BYTES } from './layerwise/layerMajorBatches';
import { LayerwiseModel } from './layerwise/layerwiseModel';
import { describeCheckpoint } from './modelInfo';
import { encodeModel } from './onnx/onnxProto';
import { softmaxEntropy } from './routingStats';
import { type FeedTensor, OrtSession, type OutTensor } from './runtime/ortSession';
import { loadTokenizer, type ModelTokenizer } from './tokenizer/tokenizer';

/** Attention scores are materialised per layer ([heads, T, T] floats); refuse prompts that would not fit. */
const MAX_ATTENTION_BYTES = 2 ** 31;

export interface EngineOptions extends LoadOptions {
  readonly threads?: number;
  /**
   * How forward passes run. 'whole-graph': the model as one ONNX graph over every float32 weight (needs
   * resident weights); 'layer-wise': one session per layer shape, fed layer by layer. Default: whole-graph
   * when the plan keeps every weight resident, layer-wise otherwise. Both give bitwise the same outputs
   * (test/engine/layerwise.test.ts); whole-graph is faster when everything fits, because each session run
   * has a fixed cost (measured on the bench model: layer-wise +6% CPU time at T = 128, +7% at T = 512, with
   * ORT's thread spinning off; +16% / +9% with it on), and resident mode has nothing to convert per layer.
   */
  readonly execution?: 'whole-graph' | 'layer-wise';
  /**
   * Tests and benchmarks: how weights are held, instead of what the memory plan chooses (the plan is then
   * made for this mode and never refuses), and the layers that keep a float32 copy (default none).
   */
  readonly weightMode?: WeightMode;
  readonly f32Layers?: ReadonlySet<number>;
  /** Tests and benchmarks: false converts every unit on the main thread when it runs (no worker). */
  readonly prefetch?: boolean;
  /** Bytes the engine may hold; default: derived from the machine's free memory (issue #9). */
  readonly memoryBudget?: number;
}

export interface ForwardOptions {
  /** Per MoE layer, experts masked out of the router (their logits set to -inf before softmax/top-k). */
  readonly maskedExperts?: ReadonlyMap<number, readonly number[]>;
  /** forwardBatch: checked between layers, so a long layer-major batch can be cancelled (E_CANCELLED). */
  readonly signal?: AbortSignal;
}

export interface BatchOptions extends ForwardOptions {
  /** Bytes of activations a layer-major batch keeps in memory (default layerMajorBatchBytes); the rest is spilled to disk. */
  readonly activationBytes?: number;
}

export class MoeEngine {
  private readonly sessions = new Map<string, Promise<OrtSession>>();
  private readonly layerwise: LayerwiseModel | undefined;
  /** Forward passes run one at a time: units converted when they run share the weight store's buffer. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly info: ModelInfo,
    readonly config: ModelConfig,
    readonly weights: WeightStore,
    readonly tokenizer: ModelTokenizer,
    private readonly threads: number | undefined,
    layerWise: boolean,
    /** The longest sequence the memory plan leaves room for. */
    private readonly planTokens: number,
    /** What the budget leaves beside the plan's peak: room for a layer-major batch's activations. */
    private readonly spareBytes: number,
  ) {
    this.layerwise = layerWise ? new LayerwiseModel(config, threads) : undefined;
  }

  /**
   * Opens, validates and loads a checkpoint folder, holding its weights as the memory plan says (resident,
   * cached or streaming within opts.memoryBudget, or the default budget from the free memory); refuses,
   * before any weight is read, a model that does not fit even streaming.
   */
  static async load(modelDir: string, opts: EngineOptions = {}): Promise<MoeEngine> {
    const ckpt = openCheckpoint(modelDir);
    try {
      const c = ckpt.config;
      // The whole-model graph needs every float32 weight. A forced mode is for tests and benchmarks.
      const forced: WeightMode | undefined = opts.execution === 'whole-graph' ? 'resident' : opts.weightMode;
      const plan = planCheckpointMemory(ckpt, { ...(opts.memoryBudget === undefined ? {} : { budgetBytes: opts.memoryBudget }), maxTokens: attentionTokenCap(c), ...(forced ? { mode: forced } : {}), ...(forced && opts.f32Layers ? { f32Layers: opts.f32Layers } : {}) });
      const tokenizer = loadTokenizer(ckpt.dir);
      const info: ModelInfo = { ...describeCheckpoint(ckpt), memory: memoryInfoOf(plan, c.numLayers) };
      const f32Layers = forced ? plan.f32Layers : (opts.f32Layers ?? plan.f32Layers);
      const weights = await WeightStore.load(ckpt, { mode: plan.mode, f32Layers, ...(opts.prefetch === undefined ? {} : { prefetch: opts.prefetch }) }, opts);
      const layerWise = opts.execution === undefined ? plan.mode !== 'resident' : opts.execution === 'layer-wise';
      return new MoeEngine(info, c, weights, tokenizer, opts.threads, layerWise, plan.maxTokens, Math.max(0, plan.budgetBytes - plan.estimate.peakBytes));
    } finally {
      ckpt.close();
    }
  }

  /** Runs the model on one sequence of token ids. */
  forward(ids: readonly number[], capture: Capture, opts: ForwardOptions = {}): Promise<ForwardResult> {
    return this.serialized(() => this.forwardNow(ids, capture, opts));
  }

  /**
   * Several sequences at once, layer-major (all pass layer L before L + 1) when weights are converted or
   * read per unit (cached, streaming): each unit is prepared once per batch. Results equal forward() on
   * each sequence. Every result is held until the end: for large batches use forwardEach.
   */
  async forwardBatch(seqs: readonly (readonly number[])[], capture: Capture, opts: BatchOptions = {}): Promise<ForwardResult[]> {
    const out: ForwardResult[] = [];
    await this.forwardEach(seqs, capture, (i, r) => {
      out[i] = r;
    }, opts);
    return out;
  }

  /**
   * forwardBatch delivering each sequence's result to `onResult` (in order) as soon as its head has run,
   * keeping none: the batch holds activations only, in memory up to opts.activationBytes (default
   * layerMajorBatchBytes) and spilled to disk beyond. `onResult` must not call the engine (it is busy).
   */
  forwardEach(seqs: readonly (readonly number[])[], capture: Capture, onResult: (i: number, r: ForwardResult) => void | Promise<void>, opts: BatchOptions = {}): Promise<void> {
    return this.serialized(async () => {
      if (!this.layerwise) {
        for (const [i, ids] of seqs.entries()) await onResult(i, await this.forwardNow(ids, capture, opts));
        return;
      }
      for (const ids of seqs) this.checkIds(ids);
      const mask = opts.maskedExperts && opts.maskedExperts.size > 0 ? this.routerMasks(opts.maskedExperts) : undefined;
      const outputs = graphOutputs(capture, !!mask);
      const ids32 = seqs.map((ids) => Int32Array.from(ids));
      await this.layerwise.forwardMany(ids32, this.weights, outputs, {
        ...(mask ? { masks: mask } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
        memoryBytes: opts.activationBytes ?? this.layerMajorBatchBytes,
        onResult: (i, outs, runMs) => onResult(i, this.decode(ids32[i]!, outs, capture, runMs)),
      });
    });
  }

  /**
   * Bytes of activations a layer-major batch may hold in memory: what the memory budget leaves beside the
   * plan's peak, at most LAYER_MAJOR_BATCH_BYTES (a batch of one sequence is always allowed); sequences
   * beyond it are spilled to disk (layerwise/activationSpill.ts).
   */
  get layerMajorBatchBytes(): number {
    return Math.min(LAYER_MAJOR_BATCH_BYTES, this.spareBytes);
  }

  /** Whether a batch of sequences gains from forwardBatch: weights are converted or read per unit. */
  get prefersLayerMajor(): boolean {
    return !!this.layerwise && this.weights.mode !== 'resident';
  }

  private serialized<T>(f: () => Promise<T>): Promise<T> {
    const run = this.queue.then(f, f);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async forwardNow(ids: readonly number[], capture: Capture, opts: ForwardOptions): Promise<ForwardResult> {
    this.checkIds(ids);
    const mask = opts.maskedExperts && opts.maskedExperts.size > 0 ? this.routerMasks(opts.maskedExperts) : undefined;
    const outputs = graphOutputs(capture, !!mask);
    if (this.layerwise) {
      const t0 = performance.now();
      const out = await this.layerwise.forward(Int32Array.from(ids), this.weights, outputs, mask);
      return this.decode(Int32Array.from(ids), out, capture, performance.now() - t0);
    }
    const session = await this.session(outputs);
    const feeds: Record<string, FeedTensor> = { input_ids: { type: 'int64', data: BigInt64Array.from(ids, (i) => BigInt(i)), dims: [ids.length] } };
    for (const name of session.inputNames) {
      if (name === 'input_ids') continue;
      const m = mask?.get(name);
      if (m) {
        feeds[name] = { type: 'float32', data: m, dims: [m.length] };
        continue;
      }
      const w = weightOrExpertSlice((n) => this.weights.get(n), name);
      feeds[name] = { type: 'float32', data: w.data, dims: w.dims };
    }
    const t0 = performance.now();
    const out = await session.run(feeds);
    const runMs = performance.now() - t0;
    return this.decode(Int32Array.from(ids), out, capture, runMs);
  }

  /** router_mask.L inputs: 0 for kept experts, -inf for masked ones, for every MoE layer. */
  private routerMasks(masked: ReadonlyMap<number, readonly number[]>): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const L of masked.keys()) {
      if (this.config.layers[L]?.kind !== 'moe') throw new MoeError('E_INPUT', `layer ${L} is not an MoE layer of this model`);
    }
    this.config.layers.forEach((l, L) => {
      if (l.kind !== 'moe') return;
      const E = l.routing.numExperts;
      const m = new Float32Array(E);
      for (const e of masked.get(L) ?? []) {
        if (!Number.isInteger(e) || e < 0 || e >= E) throw new MoeError('E_INPUT', `layer ${L}: expert ${e} does not exist (0..${E - 1})`);
        m[e] = -Infinity;
      }
      const kept = m.reduce((n, v) => n + (v === 0 ? 1 : 0), 0);
      if (kept < l.routing.topK) throw new MoeError('E_INPUT', `layer ${L}: masking leaves ${kept} experts, fewer than top-k = ${l.routing.topK}`);
      out.set(`router_mask.${L}`, m);
    });
    return out;
  }

  /**
   * A prompt text's tokens, refusing one longer than a forward pass takes before tokenising it whole: only
   * a prefix holding the first tokens past the limit is tokenised (a 41 MB prompt took 70 s and 6 GB).
   */
  encodePrompt(text: string): TokenSpan[] {
    const c = this.config;
    const limit = Math.min(c.contextLength, this.maxAttentionTokens);
    const { tokens, complete } = this.tokenizer.encodeHead(text, limit);
    if (complete) return tokens;
    const covered = tokens.at(-1)?.end ?? 0;
    const why = limit === c.contextLength ? `the model's context of ${c.contextLength} tokens (max_position_embeddings in config.json)` : `the ${limit} tokens this engine runs attention over in one pass for this model`;
    throw new MoeError('E_INPUT', `the prompt (${text.length} characters) is longer than ${why}: its first ${limit} tokens cover only ${covered} characters. Prompts are not chunked: shorten it.`);
  }

  /**
   * The longest prompt one forward pass takes: attention scores ([heads, T, T] floats) must fit, and the
   * activations must fit in the memory budget beside the weights (the plan's maxTokens).
   */
  get maxAttentionTokens(): number {
    return Math.min(Math.floor(Math.sqrt(MAX_ATTENTION_BYTES / 4 / this.config.numHeads)), this.planTokens);
  }

  private checkIds(ids: readonly number[]): void {
    const c = this.config;
    if (ids.length === 0) throw new MoeError('E_INPUT', 'the prompt is empty: there is no token to run');
    const bad = ids.findIndex((i) => !Number.isInteger(i) || i < 0 || i >= c.vocabSize);
    if (bad >= 0) throw new MoeError('E_INPUT', `token id ${ids[bad]} at position ${bad} is outside the vocabulary (0..${c.vocabSize - 1})`);
    if (ids.length > c.contextLength) {
      throw new MoeError('E_INPUT', `the prompt has ${ids.length} tokens, more than the model's context of ${c.contextLength} (max_position_embeddings in config.json). Prompts are not chunked: shorten it.`);
    }
    if (ids.length > this.maxAttentionTokens) {
      const max = this.maxAttentionTokens;
      const why = max === this.planTokens && this.info.memory ? `within its memory budget (${this.info.memory.reason})` : 'in one pass of attention';
      throw new MoeError('E_INPUT', `the prompt has ${ids.length} tokens; this engine handles at most ${max} tokens for this model ${why}. Shorten it.`);
    }
  }

  private session(outputs: GraphOutputs): Promise<OrtSession> {
    const key = `forward|${+outputs.routing}${+outputs.hidden}${+outputs.logits}${+!!outputs.expertNorms}${+!!outputs.routerMask}`;
    return this.cachedSession(key, () => encodeModel(buildDecoderGraph(this.config, outputs).build()));
  }

  /**
   * A session over a graph built elsewhere in the engine (the gradient graphs of src/engine/training/),
   * created once per key with the engine's thread count and released by releaseSessions() or dispose().
   */
  cachedSession(key: string, build: () => Uint8Array): Promise<OrtSession> {
    let s = this.sessions.get(key);
    if (!s) {
      s = OrtSession.create(build(), this.threads === undefined ? {} : { threads: this.threads });
      s.catch(() => this.sessions.delete(key));
      this.sessions.set(key, s);
    }
    return s;
  }

  /** Releases the cached sessions whose key starts with `prefix` (e.g. a training run's graphs). */
  async releaseSessions(prefix: string): Promise<void> {
    for (const [key, s] of [...this.sessions]) {
      if (!key.startsWith(prefix)) continue;
      this.sessions.delete(key);
      await (await s.catch(() => undefined))?.release();
    }
  }

  private decode(ids: Int32Array, out: Record<string, OutTensor>, capture: Capture, runMs: number): ForwardResult {
    const T = ids.length;
    const f32 = (name: string): Float32Array => {
      const t = out[name];
      if (!t || !(t.data instanceof Float32Array)) throw new MoeError('E_INTERNAL', `graph output ${name} is missing`);
      return t.data;
    };
    const mat = (name: string, cols: number): F32Matrix => ({ rows: T, cols, data: f32(name) });
    const logprobs = f32('logprobs');
    let sum = 0;
    for (const v of logprobs) sum += v;
    const routing: LayerRouting[] = [];
    if (capture.routing || capture.expertNorms) {
      this.config.layers.forEach((l, L) => {
        if (l.kind !== 'moe') return;
        const E = l.routing.numExperts;
        const K = l.routing.topK;
        const logits = f32(`router_logits.${L}`);
        const idx = out[`topk_experts.${L}`]?.data;
        if (!(idx instanceof BigInt64Array)) throw new MoeError('E_INTERNAL', `graph output topk_experts.${L} is missing`);
        const gate = out[`shared_expert_gate.${L}`]?.data;
        routing.push({
          layer: L,
          routerLogits: { rows: T, cols: E, data: logits },
          experts: { rows: T, cols: K, data: Int32Array.from(idx, Number) },
          weights: mat(`topk_weights.${L}`, K),
          entropy: softmaxEntropy(logits, T, E),
          ...(gate instanceof Float32Array ? { sharedExpertGate: gate } : {}),
          ...(capture.expertNorms ? { expertNorms: mat(`expert_norms.${L}`, E) } : {}),
        });
      });
    }
    const H = this.config.hiddenSize;
    const hidden: HiddenStates | undefined = capture.hidden
      ? { embeddings: mat('embeddings', H), layers: this.config.layers.map((_, L) => mat(`hidden.${L}`, H)), finalNorm: mat('final_norm', H) }
      : undefined;
    return {
      ids,
      logprobs,
      loss: T > 1 ? -sum / (T - 1) : NaN,
      routing,
      ...(hidden ? { hidden } : {}),
      ...(capture.logits ? { logits: mat('logits', this.config.vocabSize) } : {}),
      runMs,
    };
  }

  async dispose(): Promise<void> {
    await this.queue;
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await (await s.catch(() => undefined))?.release();
    await this.layerwise?.dispose();
    await this.weights.close();
  }
}

function graphOutputs(capture: Capture, routerMask: boolean): GraphOutputs {
  return { routing: capture.routing || !!capture.expertNorms, hidden: capture.hidden, logits: capture.logits, expertNorms: !!capture.expertNorms, routerMask };
}
