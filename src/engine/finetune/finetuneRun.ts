// A fine-tuning run (issue #10 §3): the step loop over the training sequences — a seeded permutation per
// epoch, each step taking sequences until it holds `batchTokens` tokens (gradient accumulation), the
// learning rate from the schedule, held-out loss every `evalEvery` steps — with its state saved to one
// file (masters, optimizer moments, step, data cursor, loss history) from which a resumed run continues
// exactly as the uninterrupted one would have. Same seed, settings and data → the same bytes.
import * as fs from 'node:fs';
import { MoeError } from '../../protocol/moeError';
import type { MoeEngine } from '../moeEngine';
import { openSafetensors } from '../model/safetensors';
import { writeSafetensors } from '../model/safetensorsWriter';
import type { F32Tensor } from '../training/gradientWeights';
import { ExpertTrainer, type StepResult, type TrainerSettings, type TrainingSequenceInput } from './expertTrainer';
import { learningRateAt, type Schedule } from './learningRate';
import type { AdamMoments } from './optimizer';

export interface RunSettings extends TrainerSettings {
  readonly schedule: Schedule;
  /** Tokens per optimizer step (sequences are accumulated until they reach it; at least one per step). */
  readonly batchTokens: number;
  readonly seed: number;
  /** Held-out loss every this many steps (and after the last); 0: never. */
  readonly evalEvery: number;
}

/** What the history keeps of a step: its figures, and the held-out loss when it was evaluated. */
export type StepRecord = Pick<StepResult, 'step' | 'lr' | 'loss' | 'lmLoss' | 'auxLoss' | 'gradNorm' | 'tokens'> & { readonly evalLoss?: number };

interface Cursor {
  readonly epoch: number;
  readonly index: number;
}

const STATE_FORMAT = 'moe-workbench.finetune-state';

/** mulberry32: a small, well-mixed 32-bit generator; the permutation of an epoch depends on (seed, epoch) only. */
function permutation(n: number, seed: number, epoch: number): number[] {
  let a = (seed ^ Math.imul(epoch + 1, 0x9e3779b9)) >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/** What must match for a saved state to be resumed (the data and every setting that changes the result). */
function fingerprint(s: RunSettings, train: readonly TrainingSequenceInput[]): string {
  let h = 0x811c9dc5;
  const mix = (x: number): void => {
    h = Math.imul(h ^ x, 0x01000193) >>> 0;
  };
  for (const q of train) {
    mix(q.ids.length);
    for (const id of q.ids) mix(id);
    if (q.lossMask) for (const m of q.lossMask) mix(m === 0 ? 0 : 1);
  }
  const settings = { ...s, trainable: { tensors: [...s.trainable.tensors].sort(), experts: [...s.trainable.experts].map(([L, es]) => [L, [...es].sort((a, b) => a - b)]).sort((a, b) => (a[0] as number) - (b[0] as number)) } };
  return `${h.toString(16)}|${JSON.stringify(settings)}`;
}

export class FinetuneRun {
  private cursor: Cursor;
  private order: number[];

  private constructor(
    private readonly trainer: ExpertTrainer,
    private readonly settings: RunSettings,
    private readonly train: readonly TrainingSequenceInput[],
    private readonly heldOut: readonly TrainingSequenceInput[],
    cursor: Cursor,
    readonly history: StepRecord[],
  ) {
    this.cursor = cursor;
    this.order = permutation(train.length, settings.seed, cursor.epoch);
  }

  /** A new run, or the continuation of the one saved at `resumeFrom` (refused when its data or settings differ). */
  static async create(engine: MoeEngine, settings: RunSettings, train: readonly TrainingSequenceInput[], heldOut: readonly TrainingSequenceInput[], resumeFrom?: string): Promise<FinetuneRun> {
    if (train.length === 0) throw new MoeError('E_INPUT', 'the training data holds no sequence');
    if (!Number.isInteger(settings.batchTokens) || settings.batchTokens < 1) throw new MoeError('E_INPUT', `--batch-tokens must be an integer >= 1 (got ${settings.batchTokens})`);
    if (!Number.isInteger(settings.evalEvery) || settings.evalEvery < 0) throw new MoeError('E_INPUT', `the evaluation interval must be an integer >= 0 (got ${settings.evalEvery})`);
    if (!Number.isSafeInteger(settings.seed)) throw new MoeError('E_INPUT', `--seed must be an integer (got ${settings.seed})`);
    if (!resumeFrom) return new FinetuneRun(await ExpertTrainer.create(engine, settings), settings, train, heldOut, { epoch: 0, index: 0 }, []);
    const st = readState(resumeFrom, fingerprint(settings, train));
    const trainer = await ExpertTrainer.create(engine, settings, { master: st.master, optimizer: { kind: settings.optimizer, step: st.step, moments: st.moments } });
    return new FinetuneRun(trainer, settings, train, heldOut, st.cursor, st.history);
  }

  get step(): number {
    return this.trainer.step;
  }

  get done(): boolean {
    return this.trainer.step >= this.settings.schedule.totalSteps;
  }

  get current(): ExpertTrainer {
    return this.trainer;
  }

  /** The sequences of the next step, advancing the cursor. */
  private nextBatch(): TrainingSequenceInput[] {
    const out: TrainingSequenceInput[] = [];
    let tokens = 0;
    while (out.length === 0 || tokens < this.settings.batchTokens) {
      if (this.cursor.index >= this.order.length) {
        this.cursor = { epoch: this.cursor.epoch + 1, index: 0 };
        this.order = permutation(this.train.length, this.settings.seed, this.cursor.epoch);
      }
      const q = this.train[this.order[this.cursor.index]!]!;
      this.cursor = { ...this.cursor, index: this.cursor.index + 1 };
      out.push(q);
      tokens += q.ids.length;
      // One pass over the data at most per step: a batch larger than the data takes the data once.
      if (out.length >= this.train.length) break;
    }
    return out;
  }

  /** Runs one step (and the held-out evaluation when it is due); returns its record. */
  async runStep(signal?: AbortSignal): Promise<StepRecord & { readonly result: StepResult }> {
    if (this.done) throw new MoeError('E_INPUT', `the run has already taken its ${this.settings.schedule.totalSteps} steps`);
    const lr = learningRateAt(this.settings.schedule, this.trainer.step);
    const r = await this.trainer.trainStep(this.nextBatch(), lr, signal);
    const due = this.heldOut.length > 0 && this.settings.evalEvery > 0 && (r.step % this.settings.evalEvery === 0 || r.step === this.settings.schedule.totalSteps);
    const evalLoss = due ? (await this.trainer.evalLoss(this.heldOut, signal)).loss : undefined;
    const rec: StepRecord = { step: r.step, lr, loss: r.loss, lmLoss: r.lmLoss, auxLoss: r.auxLoss, gradNorm: r.gradNorm, tokens: r.tokens, ...(evalLoss === undefined ? {} : { evalLoss }) };
    this.history.push(rec);
    return { ...rec, result: r };
  }

  /** Saves the run's state to `file` (atomically: a reader sees the old state or the new one, never a mix). */
  async save(file: string): Promise<void> {
    const opt = this.trainer.optimizerState();
    const tensors: { name: string; dtype: 'F32'; shape: readonly number[]; data: Float32Array }[] = [];
    for (const [n, t] of this.trainer.masters) {
      tensors.push({ name: `w:${n}`, dtype: 'F32', shape: t.dims, data: t.data });
      const m = opt.moments.get(n);
      if (m) tensors.push({ name: `m:${n}`, dtype: 'F32', shape: t.dims, data: m.m }, { name: `v:${n}`, dtype: 'F32', shape: t.dims, data: m.v });
    }
    const meta = { format: STATE_FORMAT, step: String(opt.step), cursor: JSON.stringify(this.cursor), fingerprint: fingerprint(this.settings, this.train), history: JSON.stringify(this.history) };
    await writeSafetensors(file, tensors, meta);
  }
}

function readState(file: string, want: string): { step: number; cursor: Cursor; history: StepRecord[]; master: Map<string, F32Tensor>; moments: Map<string, AdamMoments> } {
  if (!fs.existsSync(file)) throw new MoeError('E_INPUT', `no saved training state at ${file}`, file);
  const f = openSafetensors(file);
  try {
    const m = f.metadata;
    if (m['format'] !== STATE_FORMAT) throw new MoeError('E_INPUT', `${file} is not a saved fine-tuning state`, file);
    if (m['fingerprint'] !== want) throw new MoeError('E_INPUT', `${file} was saved by a run with other data or settings; resume with the same data and settings, or start a new run`, file);
    const step = Number(m['step']);
    const cursor = JSON.parse(m['cursor'] ?? 'null') as Cursor;
    const history = JSON.parse(m['history'] ?? '[]') as StepRecord[];
    if (!Number.isInteger(step) || step < 0 || !cursor || !Number.isInteger(cursor.epoch) || !Number.isInteger(cursor.index) || !Array.isArray(history)) throw new MoeError('E_INPUT', `${file}: the saved step, cursor or history is malformed`, file);
    const master = new Map<string, F32Tensor>();
    const mm = new Map<string, Float32Array>();
    const vv = new Map<string, Float32Array>();
    for (const [name, e] of f.tensors) {
      const kind = name.slice(0, 2);
      const n = name.slice(2);
      const data = f.readF32(name);
      if (kind === 'w:') master.set(n, { dims: e.shape, data });
      else if (kind === 'm:') mm.set(n, data);
      else if (kind === 'v:') vv.set(n, data);
    }
    const moments = new Map<string, AdamMoments>();
    for (const [n, m1] of mm) moments.set(n, { m: m1, v: vv.get(n) ?? new Float32Array(m1.length) });
    return { step, cursor, history, master, moments };
  } finally {
    f.close();
  }
}
