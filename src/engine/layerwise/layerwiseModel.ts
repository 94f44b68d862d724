// Layer-wise execution of a decoder: the embedding lookup in JS, then one ONNX session per distinct layer
// shape (built for its template layer, see layerGraphs.ts) run layer after layer with that layer's weights
// as inputs, then the head. Outputs carry the whole-model graph's names (embeddings, hidden.L,
// router_logits.L, ..., final_norm, logits, logprobs), so a caller decodes either engine alike.
//
// Measured with onnxruntime-node 1.30 on this machine: InferenceSession.run() returns at once but does the
// work in a setImmediate callback *on the JS thread* (node_modules/onnxruntime-node/dist/backend.js) — a
// 100 ms JS busy loop started right after run() added its full 100 ms to the run (MatMul 512x2048x8192:
// 159 ms alone, 256 ms with the loop), and no 5 ms timer fired during a run. So weight conversion cannot
// overlap compute on the main thread; the next unit is prepared in a worker (model/conversionWorker.ts).
import { MoeError } from '../../protocol/moeError';
import type { GraphOutputs } from '../graph/decoderGraph';
import { weightOrExpertSlice } from '../model/expertSliceView';
import type { ModelConfig } from '../model/modelConfig';
import type { WeightTensor } from '../model/weightStore';
import { encodeModel, type ModelProto } from '../onnx/onnxProto';
import { type FeedTensor, OrtSession, type OutTensor } from '../runtime/ortSession';
import { ActivationSpill, type SpillOptions, type SpillRef } from './activationSpill';
import { buildHeadGraph, buildLayerGraph, layerTemplates, renameLayer } from './layerGraphs';
import { heldBytes } from './layerMajorBatches';

/** A unit of weights: decoder layer L, or the head (final norm and lm_head). */
export type WeightUnit = number | 'head';

/** The float32 weights of one unit while it runs, by engine name. */
export interface UnitWeights {
  get(name: string): WeightTensor;
}

/** What layer-wise execution needs from a weight store. */
export interface LayerWeights {
  /** Float32 weights of `unit`; valid until release(unit). `next` is the unit that will run after it. */
  acquire(unit: WeightUnit, next?: WeightUnit): Promise<UnitWeights>;
  release(unit: WeightUnit): void;
  /** Rows of model.embed_tokens.weight for `ids`, as float32 [T * H]. */
  embeddingRows(ids: Int32Array): Float32Array;
}

type Outs = Record<string, OutTensor>;

export class LayerwiseModel {
  private readonly sessions = new Map<string, Promise<OrtSession>>();
  private readonly templates: number[];

  constructor(
    private readonly config: ModelConfig,
    private readonly threads: number | undefined,
  ) {
    this.templates = layerTemplates(config);
  }

  /** Embeddings [T, H] of `ids` (times GraniteMoE's embedding multiplier, rounded to float32 as ORT's Mul does). */
  embed(ids: Int32Array, w: LayerWeights): Float32Array {
    const h = w.embeddingRows(ids);
    const m = this.config.embeddingMultiplier;
    if (m !== 1) for (let i = 0; i < h.length; i++) h[i] = Math.fround(h[i]! * m);
    return h;
  }

  /** Decoder layer L on `hidden` [T, H]: its output and its routing outputs (named for L). */
  async runLayer(L: number, hidden: Float32Array, w: LayerWeights, outputs: GraphOutputs, masks?: ReadonlyMap<string, Float32Array>, next?: WeightUnit): Promise<{ hidden: Float32Array; outs: Outs }> {
    const c = this.config;
    const tpl = this.templates[L]!;
    const variant = c.layers[L]!.kind === 'moe' ? { routing: outputs.routing, hidden: false, logits: false, expertNorms: !!outputs.expertNorms, routerMask: !!outputs.routerMask } : { routing: false, hidden: false, logits: false };
    const session = await this.session(`layer:${tpl}:${variantKey(variant)}`, () => buildLayerGraph(c, tpl, variant).build());
    const weights = await w.acquire(L, next);
    try {
      const T = hidden.length / c.hiddenSize;
      const feeds: Record<string, FeedTensor> = { hidden_in: { type: 'float32', data: hidden, dims: [T, c.hiddenSize] } };
      for (const name of session.inputNames) {
        if (name === 'hidden_in') continue;
        const real = renameLayer(name, tpl, L);
        const m = masks?.get(real);
        if (m) {
          feeds[name] = { type: 'float32', data: m, dims: [m.length] };
          continue;
        }
        const t = weightOrExpertSlice((n) => weights.get(n), real);
        feeds[name] = { type: 'float32', data: t.data, dims: t.dims };
      }
      const raw = await session.run(feeds);
      const outs: Outs = {};
      let next: Float32Array | undefined;
      for (const [name, t] of Object.entries(raw)) {
        if (name === 'hidden_out') next = t.data as Float32Array;
        else outs[renameLayer(name, tpl, L)] = t;
      }
      if (!next) throw new MoeError('E_INTERNAL', `layer ${L}: the layer graph returned no hidden_out`);
      return { hidden: next, outs };
    } finally {
      w.release(L);
    }
  }

  /** Final norm, lm_head and next-token log-probabilities of `ids` from the last layer's output. */
  async runHead(ids: Int32Array, hidden: Float32Array, w: LayerWeights, outputs: GraphOutputs): Promise<Outs> {
    const c = this.config;
    const variant = { routing: false, hidden: outputs.hidden, logits: outputs.logits };
    const session = await this.session(`head:${variantKey(variant)}`, () => buildHeadGraph(c, variant).build());
    // Next: layer 0 of the next forward pass (annotation, profiling and evaluation run many in a row).
    const weights = await w.acquire('head', c.layers.length > 0 ? 0 : undefined);
    try {
      const T = ids.length;
      const feeds: Record<string, FeedTensor> = {
        input_ids: { type: 'int64', data: BigInt64Array.from(ids, (i) => BigInt(i)), dims: [T] },
        hidden_in: { type: 'float32', data: hidden, dims: [T, c.hiddenSize] },
      };
      for (const name of session.inputNames) {
        if (name in feeds) continue;
        const t = weights.get(name);
        feeds[name] = { type: 'float32', data: t.data, dims: t.dims };
      }
      return await session.run(feeds);
    } finally {
      w.release('head');
    }
  }

  /** The whole forward pass of one sequence: every output the whole-model graph gives for `outputs`. */
  async forward(ids: Int32Array, w: LayerWeights, outputs: GraphOutputs, masks?: ReadonlyMap<string, Float32Array>): Promise<Outs> {
    const c = this.config;
    const H = c.hiddenSize;
    const T = ids.length;
    const all: Outs = {};
    let h = this.embed(ids, w);
    if (outputs.hidden) all['embeddings'] = { dims: [T, H], data: h };
    for (let L = 0; L < c.layers.length; L++) {
      const r = await this.runLayer(L, h, w, outputs, masks, L + 1 < c.layers.length ? L + 1 : 'head');
      Object.assign(all, r.outs);
      h = r.hidden;
      if (outputs.hidden) all[`hidden.${L}`] = { dims: [T, H], data: h };
    }
    Object.assign(all, await this.runHead(ids, h, w, outputs));
    return all;
  }

  /**
   * Several sequences layer-major: every sequence passes layer L before any passes L + 1, so each unit's
   * weights are converted (or read) once for the batch instead of once per sequence. Sequences are held in
   * memory, in order, while their held bytes (heldBytes) fit `memoryBytes` (the first always); the hidden states and layer
   * outputs of the others are spilled to disk between layers and read back for their turn. Each sequence's
   * outputs go to `onResult` (in order) as soon as its head has run, with the milliseconds its runs took,
   * and are not kept. Whatever was spilled is removed before this returns or throws.
   */
  async forwardMany(seqs: readonly Int32Array[], w: LayerWeights, outputs: GraphOutputs, opts: ManyOptions): Promise<void> {
    const c = this.config;
    const H = c.hiddenSize;
    const limit = opts.memoryBytes ?? Infinity;
    let resident = 0;
    const states: (SeqState | undefined)[] = seqs.map((ids, i) => {
      const b = heldBytes(c, ids.length, outputs);
      // The first always: the memory plan's peak counts one sequence's activations.
      const inMemory = i === 0 || resident + b <= limit;
      if (inMemory) resident += b;
      return { inMemory, h: undefined, outs: new Map(), runMs: 0 };
    });
    const spill = new ActivationSpill(opts.spill);
    const cancelled = (): void => {
      if (opts.signal?.aborted) throw new MoeError('E_CANCELLED', 'cancelled');
    };
    try {
      for (let L = 0; L < c.layers.length; L++) {
        for (const [i, ids] of seqs.entries()) {
          cancelled();
          const s = states[i]!;
          const T = ids.length;
          let h: Float32Array;
          if (s.h === undefined) {
            // Embedded at its first turn: nothing of a sequence is held before it runs.
            h = this.embed(ids, w);
            if (outputs.hidden) s.outs.set('embeddings', hold(s, spill, { dims: [T, H], data: h }));
          } else h = take(spill, s.h, !outputs.hidden) as Float32Array;
          const t0 = performance.now();
          const r = await this.runLayer(L, h, w, outputs, opts.masks, L + 1 < c.layers.length ? L + 1 : 'head');
          s.runMs += performance.now() - t0;
          for (const [name, t] of Object.entries(r.outs)) s.outs.set(name, hold(s, spill, t));
          s.h = hold(s, spill, { dims: [T, H], data: r.hidden });
          if (outputs.hidden) s.outs.set(`hidden.${L}`, s.h);
        }
      }
      for (const [i, ids] of seqs.entries()) {
        cancelled();
        const s = states[i]!;
        const outs: Outs = {};
        for (const [name, t] of s.outs) outs[name] = { dims: t.dims, data: take(spill, t, true) };
        // With hidden states captured, the last one was read back among the outputs.
        const last = outputs.hidden ? outs[`hidden.${c.layers.length - 1}`]?.data : undefined;
        const h = s.h === undefined ? this.embed(ids, w) : ((last ?? take(spill, s.h, true)) as Float32Array);
        const t0 = performance.now();
        Object.assign(outs, await this.runHead(ids, h, w, outputs));
        s.runMs += performance.now() - t0;
        states[i] = undefined; // the caller owns the outputs now
        await opts.onResult(i, outs, s.runMs);
      }
    } finally {
      spill.dispose();
    }
  }

  private session(key: string, build: () => ModelProto): Promise<OrtSession> {
    let s = this.sessions.get(key);
    if (!s) {
      s = OrtSession.create(encodeModel(build()), this.threads === undefined ? {} : { threads: this.threads });
      s.catch(() => this.sessions.delete(key));
      this.sessions.set(key, s);
    }
    return s;
  }

  async dispose(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await (await s.catch(() => undefined))?.release();
  }
}

export interface ManyOptions {
  readonly masks?: ReadonlyMap<string, Float32Array>;
  /** Checked before every sequence's run of a layer (E_CANCELLED). */
  readonly signal?: AbortSignal;
  /** Bytes of sequences held in memory between layers (default: no limit); the others are spilled. */
  readonly memoryBytes?: number;
  readonly spill?: SpillOptions;
  /** A sequence's outputs once its head has run; must not call into the engine (it is busy). */
  readonly onResult: (i: number, outs: Outs, runMs: number) => void | Promise<void>;
}

/** A tensor held between layers: in memory (`data`) or spilled (`ref`). */
interface Held {
  readonly dims: readonly number[];
  readonly data?: Float32Array | BigInt64Array;
  readonly ref?: SpillRef;
}

interface SeqState {
  readonly inMemory: boolean;
  /** The last layer's output (undefined before layer 0). */
  h: Held | undefined;
  readonly outs: Map<string, Held>;
  runMs: number;
}

function hold(s: SeqState, spill: ActivationSpill, t: OutTensor): Held {
  return s.inMemory ? t : { dims: t.dims, ref: spill.write(t.data) };
}

/** The array of `t`, read back when spilled (its slot released when `last`: nothing reads it again). */
function take(spill: ActivationSpill, t: Held, last: boolean): Float32Array | BigInt64Array {
  if (t.data) return t.data;
  const a = spill.read(t.ref!);
  if (last) spill.release(t.ref!);
  return a;
}

function variantKey(o: GraphOutputs): string {
  return `${+o.routing}${+o.hidden}${+o.logits}${+!!o.expertNorms}${+!!o.routerMask}`;
}
