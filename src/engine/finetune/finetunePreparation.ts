// What a fine-tuning trains on and what it trains, shared by the `finetune` job and its preview
// (`finetunePlan`): the data read and packed into sequences (chat prompts masked), the held-out split, and
// the trainable set (ESFT selection on the training sequences ∪ the --train specs). Everything here is
// refused the same way in both: bad data, a sequence length beyond the model, a malformed threshold.
import type { FinetuneParams, Progress } from '../../protocol/engineProtocol';
import { MoeError } from '../../protocol/moeError';
import { readCalibrationSet } from '../calibration/calibrationSet';
import type { MoeEngine } from '../moeEngine';
import type { TrainableSet } from '../training/trainableSet';
import { trainSpecContext } from '../grow/addedExperts';
import { resolveTrainSpecs } from '../training/trainSpec';
import { esftPlan, type EsftPlan } from './esftPlan';
import { ESFT_DEFAULT_THRESHOLD, type EsftMethod } from './esftSelection';
import type { TrainingSequenceInput } from './expertTrainer';
import { packTrainingData } from './trainingSequences';

export type FinetuneDataParams = Pick<FinetuneParams, 'data' | 'ids' | 'seqLen' | 'evalData' | 'noEval'>;
export type FinetuneSelectionParams = Pick<FinetuneParams, 'train' | 'select' | 'threshold'>;

export interface FinetuneData {
  readonly seqLen: number;
  /** The training files ([] for --ids). */
  readonly files: readonly string[];
  /** Training sequences, after the held-out split. */
  readonly train: readonly TrainingSequenceInput[];
  readonly heldOut: readonly TrainingSequenceInput[];
  /** Where the held-out data came from (FinetuneResult.heldOut). */
  readonly heldOutFrom: string;
  /** The data's identity, as moe_workbench.json records it (figures before the split). */
  readonly identity: unknown;
  readonly chatRecords: number;
}

export interface FinetuneSelection {
  /** The --train specs as given. */
  readonly specs: readonly string[];
  /** The ESFT method used (explicit, or the default when there are no specs). */
  readonly method?: EsftMethod;
  readonly plan?: EsftPlan;
  /** selection ∪ specs. */
  readonly trainable: TrainableSet;
}

const asInput = (q: { ids: readonly number[]; lossMask: Float32Array }): TrainingSequenceInput => ({ ids: q.ids, lossMask: q.lossMask });

/** The longest sequence this engine trains on in one pass. */
export function longestSequence(engine: MoeEngine): number {
  return Math.min(engine.config.contextLength, engine.maxAttentionTokens);
}

/** Reads, packs and splits the data; refuses what cannot train, naming the file or value. */
export function prepareFinetuneData(engine: MoeEngine, p: FinetuneDataParams, signal?: AbortSignal): FinetuneData {
  const c = engine.config;
  const maxLen = longestSequence(engine);
  const seqLen = p.seqLen ?? Math.min(512, maxLen);
  if (!Number.isInteger(seqLen) || seqLen < 2 || seqLen > maxLen) throw new MoeError('E_INPUT', `--seq-len ${seqLen} must be an integer from 2 to ${maxLen} (the longest sequence this model takes here)`);

  let train: TrainingSequenceInput[];
  let identity: unknown;
  let files: readonly string[] = [];
  let chatRecords = 0;
  if (p.ids) {
    if (p.data && p.data.length > 0) throw new MoeError('E_INPUT', 'give --data or --ids, not both');
    const bad = p.ids.findIndex((i) => !Number.isInteger(i) || i < 0 || i >= c.vocabSize);
    if (bad >= 0) throw new MoeError('E_INPUT', `token id ${p.ids[bad]} (position ${bad}) is outside the vocabulary (0..${c.vocabSize - 1})`);
    if (p.ids.length < 2) throw new MoeError('E_INPUT', `--ids holds ${p.ids.length} token(s); training needs at least 2`);
    if (p.ids.length > maxLen) throw new MoeError('E_INPUT', `--ids holds ${p.ids.length} tokens, more than this model takes in one pass (${maxLen})`);
    train = [{ ids: [...p.ids] }];
    identity = { ids: p.ids.length };
  } else {
    if (!p.data || p.data.length === 0) throw new MoeError('E_INPUT', 'no training data: give --data PATH... or --ids');
    const set = readCalibrationSet(p.data);
    const packed = packTrainingData(engine.tokenizer, set, seqLen, Infinity, signal);
    train = packed.sequences.map(asInput);
    files = set.files;
    chatRecords = packed.chatRecords;
    identity = { files: set.files, sha256: set.sha256, tokens: packed.tokens, sequences: packed.sequences.length, trainedTargets: packed.trainedTargets, chatRecords: packed.chatRecords };
  }

  let heldOut: TrainingSequenceInput[] = [];
  let heldOutFrom = 'none (--no-eval)';
  if (!p.noEval) {
    if (p.evalData && p.evalData.length > 0) {
      const set = readCalibrationSet(p.evalData);
      heldOut = packTrainingData(engine.tokenizer, set, seqLen, Infinity, signal).sequences.map(asInput);
      heldOutFrom = `--eval-data ${set.files.join(', ')} (sha256 ${set.sha256.slice(0, 12)})`;
    } else if (train.length >= 2) {
      heldOut = train.filter((_, i) => i % 10 === 9 || (train.length < 10 && i === train.length - 1));
      train = train.filter((q) => !heldOut.includes(q));
      heldOutFrom = train.length + heldOut.length >= 10 ? `every 10th training sequence (${heldOut.length} of ${heldOut.length + train.length})` : `the last training sequence (1 of ${heldOut.length + train.length})`;
    } else {
      heldOut = train;
      heldOutFrom = 'the training sequence itself (only one sequence was given)';
    }
  }
  return { seqLen, files, train, heldOut, heldOutFrom, identity, chatRecords };
}

function union(a: TrainableSet, b: TrainableSet): TrainableSet {
  const experts = new Map<number, Set<number>>();
  for (const s of [a, b]) for (const [L, es] of s.experts) experts.set(L, new Set([...(experts.get(L) ?? []), ...es]));
  return { tensors: new Set([...a.tensors, ...b.tensors]), experts };
}

/**
 * The trainable set: the --train specs resolved against the model, ∪ the ESFT selection scored on `train`
 * (with --select, or by default when no spec is given). May be empty: the caller decides whether that is
 * an error (finetune refuses it; the preview shows it).
 */
export async function prepareTrainable(engine: MoeEngine, p: FinetuneSelectionParams, train: readonly TrainingSequenceInput[], ctx: { readonly signal?: AbortSignal; progress?(p: Progress): void; pause?(): Promise<void> }): Promise<FinetuneSelection> {
  if (p.threshold !== undefined && !(p.threshold > 0 && p.threshold <= 1)) throw new MoeError('E_INPUT', `--threshold must be a number in (0, 1] (got ${p.threshold})`);
  const specs = p.train ?? [];
  const method = p.select ?? (specs.length === 0 ? 'esft-token' : undefined);
  let trainable: TrainableSet = specs.length > 0 ? resolveTrainSpecs(specs, engine.config, trainSpecContext(engine.info.path, specs)) : { tensors: new Set(), experts: new Map() };
  if (!method) return { specs, trainable };
  const threshold = p.threshold ?? ESFT_DEFAULT_THRESHOLD[method];
  ctx.progress?.({ stage: 'select', done: 0, total: train.length, message: `scoring experts (${method}) on ${train.length} sequences` });
  const message = `scoring experts (${method}) on ${train.length} sequences`;
  const plan = await esftPlan(
    engine,
    train.map((q) => q.ids),
    method,
    threshold,
    ctx.signal,
    {
      progress: (done, total) => ctx.progress?.({ stage: 'select', done, total, message }),
      ...(ctx.pause ? { pause: () => ctx.pause!() } : {}),
    },
  );
  trainable = union(trainable, plan.trainable);
  return { specs, method, plan, trainable };
}
