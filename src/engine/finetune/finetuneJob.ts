// The `finetune` request (issue #10): data → packed sequences (chat prompts masked) → the trainable set
// (ESFT selection on the data and/or --train specs) → the run with held-out loss → the fine-tuned checkpoint
// (moe_workbench.json records base, data, selection, hyper-parameters, losses) with its expert adapter in
// `adapter/`, or the adapter alone. Everything that can be refused is refused before the first step; the
// source is never written; an interrupted run leaves nothing behind.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FinetuneParams, FinetuneResult, Progress } from '../../protocol/engineProtocol';
import { MoeError } from '../../protocol/moeError';
import { readCalibrationSet } from '../calibration/calibrationSet';
import { modelIdentity } from '../experts/modelIdentity';
import { TOOL } from '../experts/operationRecord';
import { formatBytes } from '../memory/memoryBudget';
import { availableMemory } from '../model/availableMemory';
import { isRecord, readJsonFile } from '../model/jsonFile';
import type { MoeEngine } from '../moeEngine';
import { trainableParameterCount } from '../training/trainableParameters';
import type { TrainableSet } from '../training/trainableSet';
import { resolveTrainSpecs } from '../training/trainSpec';
import { ESFT_DEFAULT_THRESHOLD } from './esftSelection';
import { esftPlan } from './esftPlan';
import type { TrainingSequenceInput } from './expertTrainer';
import { writeFinetunedAdapter, writeFinetunedCheckpoint } from './finetuneOutput';
import { FinetuneRun } from './finetuneRun';
import { routingDrift } from './routingDrift';
import { type FinetuneReport, finetuneReportHtml } from '../../report/finetuneReport';
import { checkSchedule } from './learningRate';
import { packTrainingData } from './trainingSequences';

export interface JobContext {
  readonly signal: AbortSignal;
  progress(p: Progress): void;
  pause(): Promise<void>;
}

/** HF's router_aux_loss_coef from config.json, else the transformers default of Mixtral/Qwen (0.001). */
function configAuxCoef(modelDir: string): number {
  try {
    const raw = readJsonFile(path.join(modelDir, 'config.json'), 'E_CONFIG');
    const v = isRecord(raw) ? raw['router_aux_loss_coef'] : undefined;
    return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0.001;
  } catch {
    return 0.001;
  }
}

function union(a: TrainableSet, b: TrainableSet): TrainableSet {
  const experts = new Map<number, Set<number>>();
  for (const s of [a, b]) for (const [L, es] of s.experts) experts.set(L, new Set([...(experts.get(L) ?? []), ...es]));
  return { tensors: new Set([...a.tensors, ...b.tensors]), experts };
}

function checkOut(outDir: string, modelDir: string): string {
  const out = path.resolve(outDir);
  const src = path.resolve(modelDir);
  if (out === src || out.startsWith(src + path.sep)) throw new MoeError('E_INPUT', `--out ${out} is inside the source model ${src}: choose a folder outside it`, out);
  if (fs.existsSync(out) && (!fs.statSync(out).isDirectory() || fs.readdirSync(out).length > 0)) throw new MoeError('E_INPUT', `--out ${out} already exists: choose a new folder`, out);
  return out;
}

export async function runFinetune(engine: MoeEngine, p: FinetuneParams, ctx: JobContext): Promise<FinetuneResult> {
  const c = engine.config;
  const src = engine.info.path;
  const out = checkOut(p.outDir, src);
  const schedule = checkSchedule({ kind: p.schedule, lr: p.lr, warmup: p.warmup, totalSteps: p.steps });
  const maxLen = Math.min(c.contextLength, engine.maxAttentionTokens);
  const seqLen = p.seqLen ?? Math.min(512, maxLen);
  if (!Number.isInteger(seqLen) || seqLen < 2 || seqLen > maxLen) throw new MoeError('E_INPUT', `--seq-len ${seqLen} must be an integer from 2 to ${maxLen} (the longest sequence this model takes here)`);
  const batchTokens = p.batchTokens ?? 4 * seqLen;
  if (p.threshold !== undefined && !(p.threshold > 0 && p.threshold <= 1)) throw new MoeError('E_INPUT', `--threshold must be a number in (0, 1] (got ${p.threshold})`);

  // Data.
  let train: TrainingSequenceInput[];
  let dataIdentity: unknown;
  if (p.ids) {
    if (p.data && p.data.length > 0) throw new MoeError('E_INPUT', 'give --data or --ids, not both');
    const bad = p.ids.findIndex((i) => !Number.isInteger(i) || i < 0 || i >= c.vocabSize);
    if (bad >= 0) throw new MoeError('E_INPUT', `token id ${p.ids[bad]} (position ${bad}) is outside the vocabulary (0..${c.vocabSize - 1})`);
    if (p.ids.length < 2) throw new MoeError('E_INPUT', `--ids holds ${p.ids.length} token(s); training needs at least 2`);
    if (p.ids.length > maxLen) throw new MoeError('E_INPUT', `--ids holds ${p.ids.length} tokens, more than this model takes in one pass (${maxLen})`);
    train = [{ ids: [...p.ids] }];
    dataIdentity = { ids: p.ids.length };
  } else {
    if (!p.data || p.data.length === 0) throw new MoeError('E_INPUT', 'no training data: give --data PATH... or --ids');
    const set = readCalibrationSet(p.data);
    const packed = packTrainingData(engine.tokenizer, set, seqLen, Infinity, ctx.signal);
    train = packed.sequences.map((q) => ({ ids: q.ids, lossMask: q.lossMask }));
    dataIdentity = { files: set.files, sha256: set.sha256, tokens: packed.tokens, sequences: packed.sequences.length, trainedTargets: packed.trainedTargets, chatRecords: packed.chatRecords };
  }
  let heldOut: TrainingSequenceInput[] = [];
  let heldOutFrom = 'none (--no-eval)';
  if (!p.noEval) {
    if (p.evalData && p.evalData.length > 0) {
      const set = readCalibrationSet(p.evalData);
      heldOut = packTrainingData(engine.tokenizer, set, seqLen, Infinity, ctx.signal).sequences.map((q) => ({ ids: q.ids, lossMask: q.lossMask }));
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

  const general = p.generalData && p.generalData.length > 0 ? packTrainingData(engine.tokenizer, readCalibrationSet(p.generalData), seqLen, Infinity, ctx.signal).sequences.map((q) => ({ ids: q.ids, lossMask: q.lossMask })) : [];

  // What trains.
  const specs = p.train ?? [];
  const method = p.select ?? (specs.length === 0 ? 'esft-token' : undefined);
  let trainable: TrainableSet = specs.length > 0 ? resolveTrainSpecs(specs, c) : { tensors: new Set(), experts: new Map() };
  let selection: unknown;
  if (method) {
    const threshold = p.threshold ?? ESFT_DEFAULT_THRESHOLD[method];
    ctx.progress({ stage: 'select', done: 0, total: train.length, message: `scoring experts (${method}) on ${train.length} sequences` });
    const plan = await esftPlan(engine, train.map((q) => q.ids), method, threshold, ctx.signal);
    trainable = union(trainable, plan.trainable);
    selection = { method, threshold, experts: [...plan.selection], sequences: plan.sequences, tokens: plan.tokens };
  }
  const count = trainableParameterCount(c, trainable);
  if (count.trainable === 0) throw new MoeError('E_INPUT', 'the selection is empty: nothing would train');
  // Float32 master, AdamW's two moments and the gradient accumulator per trained parameter (SGD: two).
  const stateBytes = count.trainable * 4 * (p.optimizer === 'adamw' ? 4 : 2);
  const m = engine.info.memory;
  const spare = m ? m.budgetBytes - m.estimate.peakBytes : availableMemory().bytes / 2;
  if (stateBytes > spare) {
    throw new MoeError('E_INPUT', `training ${count.trainable.toLocaleString('en-US')} parameters with ${p.optimizer} holds about ${formatBytes(stateBytes)} (weights, gradients${p.optimizer === 'adamw' ? ', two moments' : ''} in float32) beside the model, but the memory budget leaves ${formatBytes(Math.max(0, spare))}: train fewer experts (a lower --threshold or a shorter --train list), use --optimizer sgd, or give a larger --memory-budget`);
  }
  const routersTrain = [...trainable.tensors].some((t) => /\.(gate|router\.layer)\.weight$/.test(t) && !/shared_expert_gate/.test(t));
  const auxLossCoef = routersTrain ? (p.auxLossCoef ?? configAuxCoef(src)) : 0;
  const evalEvery = p.evalEvery ?? Math.max(1, Math.round(p.steps / 10));

  // The run.
  const run = await FinetuneRun.create(engine, { trainable, optimizer: p.optimizer, weightDecay: p.weightDecay, gradClip: p.gradClip, auxLossCoef, schedule, batchTokens, seed: p.seed, evalEvery: p.noEval ? 0 : evalEvery }, train, heldOut);
  const t0 = performance.now();
  let tokens = 0;
  while (!run.done) {
    const r = await run.runStep(ctx.signal);
    tokens += r.tokens;
    const seconds = (performance.now() - t0) / 1000;
    const tps = tokens / Math.max(1e-9, seconds);
    ctx.progress({ stage: 'train', done: r.step, total: p.steps, message: `step ${r.step}/${p.steps} loss ${r.loss.toFixed(4)}${r.evalLoss === undefined ? '' : ` held-out ${r.evalLoss.toFixed(4)}`} (${tps.toFixed(0)} tok/s)`, metrics: { step: r.step, loss: r.loss, lmLoss: r.lmLoss, ...(r.evalLoss === undefined ? {} : { evalLoss: r.evalLoss }), tokensPerSecond: tps, lr: r.lr, gradNorm: r.gradNorm } });
    // Queries (annotation of the text being edited) run between steps.
    await ctx.pause();
  }
  const seconds = (performance.now() - t0) / 1000;

  // Before and after, on held-out and general data: the engine's own weights are still the model as
  // loaded, so "before" is measured now, in the same passes that give the routing drift.
  const trainer = run.current;
  const heldBefore = heldOut.length > 0 ? await trainer.evaluate(heldOut, false, ctx.signal) : undefined;
  const heldAfter = heldOut.length > 0 ? await trainer.evaluate(heldOut, true, ctx.signal) : undefined;
  const evalBefore = heldBefore?.loss;
  const evalAfter = heldAfter?.loss;
  const generalBefore = general.length > 0 ? (await trainer.evaluate(general, false, ctx.signal)).loss : undefined;
  const generalAfter = general.length > 0 ? (await trainer.evaluate(general, true, ctx.signal)).loss : undefined;
  const topK = new Map(c.layers.flatMap((l, i) => (l.kind === 'moe' ? [[i, l.routing.topK] as [number, number]] : [])));
  const drift = heldBefore && heldAfter && topK.size > 0 ? routingDrift(heldBefore.topk, heldAfter.topk, topK) : [];
  const expertChanges = await run.current.expertChanges();

  // Output.
  const trained = run.current.hfTensors();
  const identity = modelIdentity(src);
  const hyper = { optimizer: p.optimizer, lr: p.lr, schedule: p.schedule, warmup: p.warmup, weightDecay: p.weightDecay, gradClip: p.gradClip, seqLen: seqLen, batchTokens, auxLossCoef, seed: p.seed, steps: p.steps };
  const training = { base: { dir: src, sha256: identity.sha256 }, data: dataIdentity, heldOut: heldOutFrom, selection, train: specs, trainable: { tensors: [...trainable.tensors].sort(), experts: [...trainable.experts].map(([L, es]) => [L, [...es].sort((a, b) => a - b)]) }, parameters: count, hyperParameters: hyper, history: run.history, evalBefore, evalAfter, generalBefore, generalAfter, seconds, tokensPerSecond: tokens / Math.max(1e-9, seconds) };
  const record = { format: 'moe-workbench.tensor-update', version: 1, createdAt: new Date().toISOString(), tool: TOOL, operation: 'finetune', source: { dir: src, sha256: identity.sha256 }, tensors: [...trained.keys()].sort(), training };
  const report: FinetuneReport = {
    format: 'moe-workbench.finetune-report',
    version: 1,
    createdAt: record.createdAt,
    model: { dir: src, sha256: identity.sha256 },
    output: { ...(p.adapterOnly ? {} : { checkpointDir: out }), adapterDir: p.adapterOnly ? out : path.join(out, 'adapter') },
    heldOut: heldOutFrom,
    ...(method ? { selection: selection as FinetuneReport['selection'] } : {}),
    trainable: { parameters: count.trainable, total: count.total, tensors: trained.size },
    hyperParameters: hyper,
    history: run.history,
    ...(evalBefore !== undefined && evalAfter !== undefined ? { heldOutLoss: { before: evalBefore, after: evalAfter } } : {}),
    ...(generalBefore !== undefined && generalAfter !== undefined ? { generalLoss: { before: generalBefore, after: generalAfter } } : {}),
    routingDrift: drift,
    expertChanges,
    tokensPerSecond: tokens / Math.max(1e-9, seconds),
    seconds,
  };
  ctx.progress({ stage: 'write', done: 0, total: 1, message: `writing ${out}` });
  if (p.adapterOnly) {
    await writeFinetunedAdapter(src, trainable, trained, out, training, ctx.signal);
  } else {
    await writeFinetunedCheckpoint(src, trainable, trained, out, record, {
      extraFiles: [
        { name: 'report.json', bytes: JSON.stringify(report, null, 2) + '\n' },
        { name: 'report.html', bytes: finetuneReportHtml(report) },
      ],
      signal: ctx.signal,
      onProgress: (q) => ctx.progress(q),
      pause: () => ctx.pause(),
      beforeCommit: async (tmp) => {
        await writeFinetunedAdapter(src, trainable, trained, path.join(tmp, 'adapter'), training, ctx.signal);
      },
    });
  }
  return {
    ...(p.adapterOnly ? {} : { checkpointDir: out }),
    adapterDir: p.adapterOnly ? out : path.join(out, 'adapter'),
    steps: run.step,
    trainedTensors: [...trained.keys()].sort(),
    trainableParameters: count.trainable,
    totalParameters: count.total,
    experts: [...trainable.experts].map(([L, es]) => [L, [...es].sort((a, b) => a - b)] as const).sort((a, b) => a[0] - b[0]),
    history: run.history.map((h) => ({ step: h.step, loss: h.loss, lmLoss: h.lmLoss, lr: h.lr, tokens: h.tokens, ...(h.evalLoss === undefined ? {} : { evalLoss: h.evalLoss }) })),
    ...(evalBefore === undefined ? {} : { evalBefore }),
    ...(evalAfter === undefined ? {} : { evalAfter }),
    ...(generalBefore === undefined ? {} : { generalBefore }),
    ...(generalAfter === undefined ? {} : { generalAfter }),
    heldOut: heldOutFrom,
    routingDrift: drift.map((d) => ({ layer: d.layer, jaccard: d.jaccard })),
    tokensPerSecond: tokens / Math.max(1e-9, seconds),
    seconds,
  };
}
