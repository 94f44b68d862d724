// The training loop's core (issue #10 §3): float32 master copies of the trainable weights (by training-graph
// name: plain weights by HF name, routed experts as per-expert fc1/fc2 slices), gradients accumulated over a
// batch of sequences with the layer-by-layer backward of the engine (the masters take the place of the
// engine's weights: WeightOverrides), global-norm clipping (its factor applied inside the optimizer's
// pass), and an optimizer step. The loss of a batch is the mean over all its trained targets (each sequence
// weighted by its number of targets, so packing does not change what is optimised), plus coef × the
// load-balancing loss weighted the same way. Deterministic:
// fixed order everywhere, float32 accumulation in that order, no randomness. The engine's own weights are
// never changed; annotation running on the same engine keeps seeing the model as loaded.
import { MoeError } from '../../protocol/moeError';
import { parseExpertSliceName } from '../graph/trainableMoeBlock';
import type { WeightUnit } from '../layerwise/layerwiseModel';
import type { MoeEngine } from '../moeEngine';
import { checkInputs, defaultActivationBytes, trainableGraphWeights } from '../training/computeGradients';
import type { F32Tensor } from '../training/gradientWeights';
import { withUnitWeights } from '../training/gradientWeights';
import { hfGradients } from '../training/hfGradients';
import { layerwiseGradients } from '../training/layerwiseGradients';
import { lowestTrainableLayer, type TrainableSet } from '../training/trainableSet';
import { clipScale } from './gradientClip';
import { ADAMW_DEFAULTS, type AdamWOptions, Optimizer, type OptimizerKind, type OptimizerState } from './optimizer';

export interface TrainerSettings {
  readonly trainable: TrainableSet;
  readonly optimizer: OptimizerKind;
  readonly adam?: AdamWOptions;
  /** Decoupled weight decay of matrices (tensors of 2 or more dimensions); vectors (norms, biases) get none. */
  readonly weightDecay: number;
  /** Maximum global gradient norm; 0 disables clipping. */
  readonly gradClip: number;
  readonly auxLossCoef: number;
  readonly zLossCoef?: number;
}

export interface TrainingSequenceInput {
  readonly ids: readonly number[];
  /** [T - 1]; default every target. */
  readonly lossMask?: Float32Array;
}

export interface StepResult {
  /** Steps taken, this one included. */
  readonly step: number;
  readonly lr: number;
  /** lmLoss + auxLossCoef · auxLoss + zLossCoef · zLoss, before the update. */
  readonly loss: number;
  readonly lmLoss: number;
  readonly auxLoss: number;
  /** Global gradient norm before clipping. */
  readonly gradNorm: number;
  readonly clipScale: number;
  /** Trained targets in the batch. */
  readonly targets: number;
  readonly tokens: number;
}

const EMBED = 'model.embed_tokens.weight';

/** The weight unit holding a training-graph weight ('embed' for the token embedding, read whole). */
function unitOf(name: string): WeightUnit | 'embed' {
  const slice = parseExpertSliceName(name);
  if (slice) return slice.layer;
  const m = /^model\.layers\.(\d+)\./.exec(name);
  if (m) return Number(m[1]);
  return name === EMBED ? 'embed' : 'head';
}

const maskOf = (s: TrainingSequenceInput): Float32Array => s.lossMask ?? new Float32Array(s.ids.length - 1).fill(1);
const targetsOf = (m: Float32Array): number => m.reduce((a, b) => a + b, 0);

export class ExpertTrainer {
  private constructor(
    private readonly engine: MoeEngine,
    private readonly settings: TrainerSettings,
    private readonly names: readonly string[],
    private readonly master: Map<string, F32Tensor>,
    private readonly optimizer: Optimizer,
  ) {}

  /** Gradient sums of steps with several sequences, by name, reused from step to step. */
  private readonly sums = new Map<string, Float32Array>();

  /**
   * Reads the trainable weights' current values into float32 masters (or takes `resume.master`, e.g. from a
   * run's checkpoint) and sets up the optimizer (from `resume.optimizer` when given).
   */
  static async create(engine: MoeEngine, settings: TrainerSettings, resume?: { readonly master?: ReadonlyMap<string, F32Tensor>; readonly optimizer?: OptimizerState }): Promise<ExpertTrainer> {
    const names = trainableGraphWeights(settings.trainable);
    if (names.length === 0) throw new MoeError('E_INPUT', 'nothing to train: the trainable set is empty');
    if (!(settings.weightDecay >= 0) || !Number.isFinite(settings.weightDecay)) throw new MoeError('E_INPUT', `--weight-decay must be a finite number >= 0 (got ${settings.weightDecay})`);
    if (!(settings.gradClip >= 0) || !Number.isFinite(settings.gradClip)) throw new MoeError('E_INPUT', `--grad-clip must be a finite number >= 0 (got ${settings.gradClip})`);
    const master = new Map<string, F32Tensor>();
    if (resume?.master) {
      for (const n of names) {
        const t = resume.master.get(n);
        if (!t) throw new MoeError('E_INPUT', `the saved training state has no values for ${n}`);
        master.set(n, { dims: [...t.dims], data: t.data.slice() });
      }
    } else {
      await readMasters(engine, names, master);
    }
    const optimizer = new Optimizer(settings.optimizer, settings.adam ?? ADAMW_DEFAULTS, resume?.optimizer);
    return new ExpertTrainer(engine, settings, names, master, optimizer);
  }

  get step(): number {
    return this.optimizer.step;
  }

  /**
   * One optimizer step on `batch` at learning rate `lr`. A non-finite loss or gradient stops the run with
   * E_NUMERIC before anything is updated: the weights stay those of the last good step.
   */
  async trainStep(batch: readonly TrainingSequenceInput[], lr: number, signal?: AbortSignal): Promise<StepResult> {
    if (batch.length === 0) throw new MoeError('E_INPUT', 'a training step needs at least one sequence');
    const { trainable, auxLossCoef, zLossCoef = 0 } = this.settings;
    const c = this.engine.config;
    const masks = batch.map((s) => checkInputs(this.engine, s.ids, { trainable, lossMask: maskOf(s), auxLossCoef, zLossCoef }));
    const total = masks.reduce((n, m) => n + targetsOf(m), 0);
    const grads = new Map<string, Float32Array>();
    let lmLoss = 0;
    let auxLoss = 0;
    let zLoss = 0;
    const wrt = new Set(this.names);
    const lowest = lowestTrainableLayer(trainable, c.numLayers);
    for (const [i, s] of batch.entries()) {
      const w = Math.fround(targetsOf(masks[i]!) / total);
      const r = await layerwiseGradients(this.engine, {
        ids: s.ids,
        lossMask: masks[i]!,
        auxCoef: auxLossCoef,
        zCoef: zLossCoef,
        wrt,
        lowest,
        activationBytes: defaultActivationBytes(this.engine, s.ids.length),
        overrides: this.master,
        step: () => {
          if (signal?.aborted) throw new MoeError('E_CANCELLED', 'training cancelled');
        },
        done: async (gs) => {
          for (const [name, g] of gs) this.accumulate(grads, name, g, w, batch.length === 1);
        },
      });
      lmLoss += w * r.lmLoss;
      auxLoss += w * r.auxLoss;
      zLoss += w * r.zLoss;
    }
    const loss = lmLoss + auxLossCoef * auxLoss + zLossCoef * zLoss;
    const ordered = this.names.map((n) => grads.get(n) ?? new Float32Array(this.master.get(n)!.data.length));
    const clip = clipScale(ordered, this.settings.gradClip);
    if (!Number.isFinite(loss) || !Number.isFinite(clip.norm)) {
      throw new MoeError('E_NUMERIC', `training stopped at step ${this.optimizer.step + 1}: the ${Number.isFinite(loss) ? 'gradient norm' : 'loss'} is ${Number.isFinite(loss) ? clip.norm : loss}; the weights are those of step ${this.optimizer.step} (try a lower --lr)`);
    }
    // The clip factor is applied inside the optimizer's pass (fround(g · scale), as clipGradients would).
    this.optimizer.apply(
      this.names.map((name, k) => {
        const m = this.master.get(name)!;
        return { name, param: m.data, grad: ordered[k]!, weightDecay: m.dims.length >= 2 ? this.settings.weightDecay : 0 };
      }),
      lr,
      clip.scale,
    );
    return { step: this.optimizer.step, lr, loss, lmLoss, auxLoss, gradNorm: clip.norm, clipScale: clip.scale, targets: total, tokens: batch.reduce((n, s) => n + s.ids.length, 0) };
  }

  /**
   * Adds w · g to the step's gradient of `name`: a[k] = fround(a[k] + fround(w · g[k])) from a = 0, in
   * batch order. A step of one sequence (w = 1) takes g itself: 0 + fround(1 · g) is g except that -0
   * becomes +0, and the optimizer counts -0 as +0 (adamwKernel.ts), so the update is the same bit for bit
   * without an 805 MB copy. Several sequences sum into buffers kept across steps (not reallocated).
   */
  private accumulate(grads: Map<string, Float32Array>, name: string, g: Float32Array, w: number, single: boolean): void {
    const f = Math.fround;
    const a = grads.get(name);
    if (!a && single && w === 1) {
      grads.set(name, g);
      return;
    }
    let b = this.sums.get(name);
    if (!b || b.length !== g.length) this.sums.set(name, (b = new Float32Array(g.length)));
    if (a && a.length !== g.length) throw new MoeError('E_INTERNAL', `${name}: gradients of ${a.length} and ${g.length} entries`);
    if (!a) for (let k = 0; k < g.length; k++) b[k] = f(0 + f(w * g[k]!));
    else if (a !== b) for (let k = 0; k < g.length; k++) b[k] = f(a[k]! + 0 + f(w * g[k]!)); // a: the taken g of an earlier delivery
    else for (let k = 0; k < g.length; k++) b[k] = f(b[k]! + f(w * g[k]!));
    grads.set(name, b);
  }

  /** Mean next-token loss over the trained targets of `seqs` with the current weights (forward only). */
  async evalLoss(seqs: readonly TrainingSequenceInput[], signal?: AbortSignal): Promise<{ readonly loss: number; readonly targets: number }> {
    const r = await this.evaluate(seqs, true, signal);
    return { loss: r.loss, targets: r.targets };
  }

  /**
   * Forward passes over `seqs` with the trained weights (`trained`) or the engine's own (the model as
   * loaded): the mean loss over trained targets, and each sequence's chosen experts per MoE layer.
   */
  async evaluate(seqs: readonly TrainingSequenceInput[], trained: boolean, signal?: AbortSignal): Promise<{ readonly loss: number; readonly targets: number; readonly topk: ReadonlyMap<number, BigInt64Array>[] }> {
    const c = this.engine.config;
    let sum = 0;
    let targets = 0;
    const topk: ReadonlyMap<number, BigInt64Array>[] = [];
    for (const s of seqs) {
      const mask = maskOf(s);
      const n = targetsOf(mask);
      if (n === 0) {
        topk.push(new Map());
        continue;
      }
      const r = await layerwiseGradients(this.engine, {
        ids: s.ids,
        lossMask: mask,
        auxCoef: 0,
        zCoef: 0,
        wrt: new Set(),
        lowest: c.numLayers,
        activationBytes: 0,
        ...(trained ? { overrides: this.master } : {}),
        step: () => {
          if (signal?.aborted) throw new MoeError('E_CANCELLED', 'evaluation cancelled');
        },
        done: async () => {},
      });
      sum += r.lmLoss * n;
      targets += n;
      topk.push(r.topk);
    }
    return { loss: targets === 0 ? Number.NaN : sum / targets, targets, topk };
  }

  /** Per trained routed expert, ‖W − W₀‖ / ‖W₀‖ over its fc1 and fc2 (W₀: the engine's weights, unchanged). */
  async expertChanges(): Promise<{ readonly layer: number; readonly expert: number; readonly relative: number }[]> {
    const original = new Map<string, F32Tensor>();
    await readMasters(this.engine, this.names, original);
    const acc = new Map<string, { layer: number; expert: number; d: number; w: number }>();
    for (const n of this.names) {
      const slice = parseExpertSliceName(n);
      if (!slice) continue;
      const key = `${slice.layer}:${slice.expert}`;
      const a = acc.get(key) ?? { layer: slice.layer, expert: slice.expert, d: 0, w: 0 };
      const now = this.master.get(n)!.data;
      const was = original.get(n)!.data;
      for (let i = 0; i < now.length; i++) {
        a.d += (now[i]! - was[i]!) ** 2;
        a.w += was[i]! ** 2;
      }
      acc.set(key, a);
    }
    return [...acc.values()].sort((x, y) => x.layer - y.layer || x.expert - y.expert).map((a) => ({ layer: a.layer, expert: a.expert, relative: a.w > 0 ? Math.sqrt(a.d / a.w) : Math.sqrt(a.d) }));
  }

  /** The current values by training-graph name (views: copy before changing). */
  get masters(): ReadonlyMap<string, F32Tensor> {
    return this.master;
  }

  optimizerState(): OptimizerState {
    return this.optimizer.state();
  }

  /**
   * The trained values by Hugging Face tensor name and shape. Fused expert tensors (Granite) hold only the
   * trained experts' rows here (zeros elsewhere): trainedTensorUpdates fills the rest from the checkpoint.
   */
  hfTensors(): Map<string, F32Tensor> {
    return hfGradients(this.engine.config, this.settings.trainable, (g) => this.master.get(g)!.data);
  }
}

async function readMasters(engine: MoeEngine, names: readonly string[], out: Map<string, F32Tensor>): Promise<void> {
  const byUnit = new Map<WeightUnit | 'embed', string[]>();
  for (const n of names) {
    const u = unitOf(n);
    byUnit.set(u, [...(byUnit.get(u) ?? []), n]);
  }
  for (const [unit, list] of byUnit) {
    if (unit === 'embed') {
      const t = engine.weights.get(EMBED);
      out.set(EMBED, { dims: [...t.dims], data: t.data.slice() });
      continue;
    }
    await withUnitWeights(engine, unit, undefined, async (read) => {
      for (const n of list) {
        const t = read(n);
        out.set(n, { dims: [...t.dims], data: t.data.slice() });
      }
    });
  }
}
