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
import { sourceRecord } from '../surgery/sourceRecord';
import { formatBytes } from '../memory/memoryBudget';
import { peakForTokens } from '../memory/memoryPlan';
import { estimateWorkingSet } from '../memory/workingSet';
import { availableMemory } from '../model/availableMemory';
import { isRecord, readJsonFile } from '../model/jsonFile';
import type { MoeEngine } from '../moeEngine';
import { trainableParameterCount } from '../training/trainableParameters';
import { prepareFinetuneData, prepareTrainable } from './finetunePreparation';
import { writeFinetunedAdapter, writeFinetunedCheckpoint } from './finetuneOutput';
import { FinetuneRun } from './finetuneRun';
import { growthComparison } from './growthComparison';
import { compareDocument, compareHeldOut } from './modelComparison';
import { routingDrift } from './routingDrift';
import { type FinetuneReport, finetuneReportHtml } from '../../report/finetuneReport';
import { checkSchedule } from './learningRate';
import { packTrainingData } from './trainingSequences';

export interface JobContext {
  readonly signal: AbortSignal;
  /** Stop: end after the step in progress and write what was trained (RequestContext.finish). */
  readonly finish?: AbortSignal;
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
  if (p.stateFile !== undefined) {
    const st = path.resolve(p.stateFile);
    if (st === out || st.startsWith(out + path.sep)) throw new MoeError('E_INPUT', `--state ${st} is inside --out ${out}: keep the run's state outside the checkpoint it writes`, st);
    if (fs.existsSync(st) && !fs.statSync(st).isFile()) throw new MoeError('E_INPUT', `--state ${st} is not a file`, st);
  }
  const schedule = checkSchedule({ kind: p.schedule, lr: p.lr, warmup: p.warmup, totalSteps: p.steps });
  const data = prepareFinetuneData(engine, p, ctx.signal);
  const { seqLen, heldOut, heldOutFrom } = data;
  const train = data.train;
  const batchTokens = p.batchTokens ?? 4 * seqLen;
  const general = p.generalData && p.generalData.length > 0 ? packTrainingData(engine.tokenizer, readCalibrationSet(p.generalData), seqLen, Infinity, ctx.signal).sequences.map((q) => ({ ids: q.ids, lossMask: q.lossMask })) : [];

  // What trains.
  const chosen = await prepareTrainable(engine, p, train, ctx);
  const { specs, method, trainable } = chosen;
  const selection = chosen.plan ? { method: chosen.plan.method, threshold: chosen.plan.threshold, experts: [...chosen.plan.selection], sequences: chosen.plan.sequences, tokens: chosen.plan.tokens } : undefined;
  const count = trainableParameterCount(c, trainable);
  if (count.trainable === 0) throw new MoeError('E_INPUT', 'the selection is empty: nothing would train');
  // Float32 master, AdamW's two moments and the gradient accumulator per trained parameter (SGD: two).
  const stateBytes = count.trainable * 4 * (p.optimizer === 'adamw' ? 4 : 2);
  // Beside the model's peak for this run's sequences: the plan's own peak is for the longest sequence the budget
  // allows, which for a long context stretches until it fills the budget (and would leave nothing here).
  const m = engine.info.memory;
  const spare = m ? m.budgetBytes - peakForTokens(m.estimate, estimateWorkingSet(c, seqLen)) : availableMemory().bytes / 2;
  if (stateBytes > spare) {
    throw new MoeError('E_INPUT', `training ${count.trainable.toLocaleString('en-US')} parameters with ${p.optimizer} holds about ${formatBytes(stateBytes)} (weights, gradients${p.optimizer === 'adamw' ? ', two moments' : ''} in float32) beside the model, but the memory budget leaves ${formatBytes(Math.max(0, spare))}: train fewer experts (a lower --threshold or a shorter --train list), use --optimizer sgd, or give a larger --memory-budget`);
  }
  const routersTrain = [...trainable.tensors].some((t) => /\.(gate|router\.layer)\.weight$/.test(t) && !/shared_expert_gate/.test(t));
  const auxLossCoef = routersTrain ? (p.auxLossCoef ?? configAuxCoef(src)) : 0;
  const evalEvery = p.evalEvery ?? Math.max(1, Math.round(p.steps / 10));

  // The run.
  // --state: resumed when the file exists (refused when its data or settings differ), saved after every
  // held-out evaluation and when the loop ends (atomically: a crash leaves the previous state).
  const stateFile = p.stateFile === undefined ? undefined : path.resolve(p.stateFile);
  const resumeFrom = stateFile !== undefined && fs.existsSync(stateFile) ? stateFile : undefined;
  const run = await FinetuneRun.create(engine, { trainable, optimizer: p.optimizer, weightDecay: p.weightDecay, gradClip: p.gradClip, auxLossCoef, schedule, batchTokens, seed: p.seed, evalEvery: p.noEval ? 0 : evalEvery }, train, heldOut, resumeFrom);
  const resumed = resumeFrom === undefined ? undefined : { file: resumeFrom, step: run.step };
  if (resumed) ctx.progress({ stage: 'resume', done: run.step, total: p.steps, message: `resuming from ${resumed.file} at step ${resumed.step}` });
  const t0 = performance.now();
  let tokens = 0;
  // Stop (ctx.finish) ends the loop after the step in progress; what follows runs as for a full run.
  while (!run.done && !ctx.finish?.aborted) {
    const r = await run.runStep(ctx.signal);
    tokens += r.tokens;
    if (stateFile !== undefined && r.evalLoss !== undefined) await run.save(stateFile);
    const seconds = (performance.now() - t0) / 1000;
    const tps = tokens / Math.max(1e-9, seconds);
    ctx.progress({ stage: 'train', done: r.step, total: p.steps, message: `step ${r.step}/${p.steps} loss ${r.loss.toFixed(4)}${r.evalLoss === undefined ? '' : ` held-out ${r.evalLoss.toFixed(4)}`} (${tps.toFixed(0)} tok/s)`, metrics: { step: r.step, loss: r.loss, lmLoss: r.lmLoss, ...(r.evalLoss === undefined ? {} : { evalLoss: r.evalLoss }), tokensPerSecond: tps, lr: r.lr, gradNorm: r.gradNorm } });
    // Queries (annotation of the text being edited) run between steps.
    await ctx.pause();
  }
  const seconds = (performance.now() - t0) / 1000;
  if (stateFile !== undefined && run.step > 0) await run.save(stateFile);
  if (run.step === 0) throw new MoeError('E_CANCELLED', 'stopped before the first step: nothing was trained, nothing written');
  const stoppedAt = run.step < p.steps ? run.step : undefined;
  const stopped = stoppedAt === undefined ? undefined : { afterStep: stoppedAt, of: p.steps };

  // Before and after, on held-out and general data: the engine's own weights are still the model as
  // loaded, so "before" is measured now, in the same passes (sequence by sequence) that give the routing
  // drift, the next-token agreement and the KL.
  const trainer = run.current;
  const held = heldOut.length > 0 ? await compareHeldOut(engine, trainer.masters, heldOut, ctx.signal) : undefined;
  const heldBefore = held?.before;
  const heldAfter = held?.after;
  const nextToken = held && held.before.targets > 0 ? { top1Agreement: held.top1Agreement, meanKl: held.meanKl } : undefined;
  const document = p.document !== undefined ? await compareDocument(engine, trainer.masters, p.document, ctx.signal) : undefined;
  const evalBefore = heldBefore?.loss;
  const evalAfter = heldAfter?.loss;
  const generalBefore = general.length > 0 ? (await trainer.evaluate(general, false, ctx.signal)).loss : undefined;
  const generalAfter = general.length > 0 ? (await trainer.evaluate(general, true, ctx.signal)).loss : undefined;
  const topK = new Map(c.layers.flatMap((l, i) => (l.kind === 'moe' ? [[i, l.routing.topK] as [number, number]] : [])));
  const drift = heldBefore && heldAfter && topK.size > 0 ? routingDrift(heldBefore.topk, heldAfter.topk, topK) : [];
  const expertChanges = await run.current.expertChanges();
  // A grown model (upcycle / add-experts record): its new parts before/after, from the passes above.
  const growth = await growthComparison(engine, trainer.masters, held, ctx.signal);

  // Output.
  const trained = run.current.hfTensors();
  const identity = modelIdentity(src);
  const hyper = { optimizer: p.optimizer, lr: p.lr, schedule: p.schedule, warmup: p.warmup, weightDecay: p.weightDecay, gradClip: p.gradClip, seqLen: seqLen, batchTokens, auxLossCoef, seed: p.seed, steps: p.steps };
  const training = { base: { dir: src, sha256: identity.sha256 }, data: data.identity, heldOut: heldOutFrom, selection, train: specs, trainable: { tensors: [...trainable.tensors].sort(), experts: [...trainable.experts].map(([L, es]) => [L, [...es].sort((a, b) => a - b)]) }, parameters: count, hyperParameters: hyper, history: run.history, ...(stopped ? { stopped } : {}), ...(resumed ? { resumedFrom: resumed } : {}), evalBefore, evalAfter, ...(nextToken ?? {}), generalBefore, generalAfter, seconds, tokensPerSecond: tokens / Math.max(1e-9, seconds) };
  // The source's own record travels along: its experts' origins (pruned, merged, added) still hold.
  const previous = sourceRecord(src);
  const record = { format: 'moe-workbench.tensor-update', version: 1, createdAt: new Date().toISOString(), tool: TOOL, operation: 'finetune', source: { dir: src, sha256: identity.sha256 }, tensors: [...trained.keys()].sort(), training, ...(previous === undefined ? {} : { previous }) };
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
    ...(stopped ? { stopped } : {}),
    history: run.history,
    ...(evalBefore !== undefined && evalAfter !== undefined ? { heldOutLoss: { before: evalBefore, after: evalAfter } } : {}),
    ...(nextToken ? { nextToken } : {}),
    ...(generalBefore !== undefined && generalAfter !== undefined ? { generalLoss: { before: generalBefore, after: generalAfter } } : {}),
    routingDrift: drift,
    expertChanges,
    ...(growth ? { growth } : {}),
    tokensPerSecond: tokens / Math.max(1e-9, seconds),
    seconds,
  };
  ctx.progress({ stage: 'write', done: 0, total: 1, message: `writing ${out}` });
  // The report goes where the run's output is: the checkpoint folder, or the adapter folder with --adapter-only.
  const reportFiles = [
    { name: 'report.json', bytes: JSON.stringify(report, null, 2) + '\n' },
    { name: 'report.html', bytes: finetuneReportHtml(report) },
  ];
  if (p.adapterOnly) {
    await writeFinetunedAdapter(src, trainable, trained, out, training, ctx.signal, reportFiles);
  } else {
    await writeFinetunedCheckpoint(src, trainable, trained, out, record, {
      extraFiles: reportFiles,
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
    ...(stoppedAt === undefined ? {} : { stoppedAt }),
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
    ...(nextToken ?? {}),
    ...(document ? { document } : {}),
    tokensPerSecond: tokens / Math.max(1e-9, seconds),
    seconds,
  };
}
