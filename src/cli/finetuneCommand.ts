// `moe-workbench finetune`: trains the chosen experts (ESFT selection on the data by default), routers or
// shared experts on the user's data and writes the checkpoint and its adapter. Flags are checked before
// the model loads; what needs the model (layers, experts, sequence length) the engine checks before the
// first step. --json prints one object per step, then the summary.
import * as path from 'node:path';
import type { EngineClient } from '../host/engineClient';
import type { FinetuneParams, Progress } from '../protocol/engineProtocol';
import { MoeError } from '../protocol/moeError';
import { parseTrainSpec } from '../engine/training/trainSpec';
import { UsageError } from './expertCommands';
import { DECIMAL, parseIdList } from './flagValues';

export interface FinetuneFlags {
  readonly data?: readonly string[] | undefined;
  readonly ids?: string | undefined;
  readonly out?: string | undefined;
  readonly train?: readonly string[] | undefined;
  readonly select?: string | undefined;
  readonly threshold?: string | undefined;
  readonly steps?: string | undefined;
  readonly lr?: string | undefined;
  readonly optimizer?: string | undefined;
  readonly schedule?: string | undefined;
  readonly warmup?: string | undefined;
  readonly 'weight-decay'?: string | undefined;
  readonly 'grad-clip'?: string | undefined;
  readonly 'seq-len'?: string | undefined;
  readonly 'batch-tokens'?: string | undefined;
  readonly 'aux-loss-coef'?: string | undefined;
  readonly seed?: string | undefined;
  readonly 'eval-data'?: readonly string[] | undefined;
  readonly 'general-data'?: readonly string[] | undefined;
  readonly 'no-eval'?: boolean | undefined;
  readonly 'adapter-only'?: boolean | undefined;
  readonly state?: string | undefined;
  readonly json?: boolean | undefined;
}

function decimal(flag: string, v: string | undefined, dflt: number, check: (x: number) => boolean, what: string): number {
  if (v === undefined) return dflt;
  const x = Number(v);
  if (!DECIMAL.test(v.trim()) || !Number.isFinite(x) || !check(x)) throw new UsageError(`--${flag} "${v}": ${what}`);
  return x;
}

function integer(flag: string, v: string | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(Number(v)) || Number(v) < min) throw new UsageError(`--${flag} "${v}": an integer >= ${min}`);
  return Number(v);
}

function oneOf<T extends string>(flag: string, v: string | undefined, dflt: T, allowed: readonly T[]): T {
  if (v === undefined) return dflt;
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${flag} "${v}": one of ${allowed.join(', ')}`);
  return v as T;
}

/** The request the flags ask for; UsageError naming the flag and value when they are malformed. */
export function finetuneParams(v: FinetuneFlags): FinetuneParams {
  if (!v.out) throw new UsageError('--out DIR is required');
  const hasData = (v.data?.length ?? 0) > 0;
  if (hasData === (v.ids !== undefined)) throw new UsageError('give exactly one of --data PATH... and --ids 1,2,3');
  let ids: number[] | undefined;
  if (v.ids !== undefined) {
    ids = parseIdList(v.ids);
    if (!ids) throw new UsageError(`--ids must be comma-separated non-negative integers, got "${v.ids}"`);
  }
  for (const spec of v.train ?? []) {
    try {
      parseTrainSpec(spec);
    } catch (e) {
      if (e instanceof MoeError) throw new UsageError(e.message);
      throw e;
    }
  }
  const steps = integer('steps', v.steps, 100, 1);
  const seqLen = v['seq-len'] === undefined ? undefined : integer('seq-len', v['seq-len'], 512, 2);
  const batchTokens = v['batch-tokens'] === undefined ? undefined : integer('batch-tokens', v['batch-tokens'], 0, 1);
  const select = v.select === undefined ? undefined : oneOf('select', v.select, 'esft-token', ['esft-token', 'esft-gate'] as const);
  const threshold = v.threshold === undefined ? undefined : decimal('threshold', v.threshold, 0, (x) => x > 0 && x <= 1, 'a number in (0, 1]');
  const auxLossCoef = v['aux-loss-coef'] === undefined ? undefined : decimal('aux-loss-coef', v['aux-loss-coef'], 0, (x) => x >= 0, 'a finite number >= 0');
  return {
    outDir: path.resolve(v.out),
    ...(hasData ? { data: v.data!.map((d) => path.resolve(d)) } : {}),
    ...(ids ? { ids } : {}),
    ...(v.train && v.train.length > 0 ? { train: v.train } : {}),
    ...(select ? { select } : {}),
    ...(threshold === undefined ? {} : { threshold }),
    steps,
    lr: decimal('lr', v.lr, 1e-4, (x) => x > 0, 'a number > 0 (e.g. 1e-4)'),
    optimizer: oneOf('optimizer', v.optimizer, 'adamw', ['adamw', 'sgd'] as const),
    schedule: oneOf('schedule', v.schedule, 'cosine', ['constant', 'cosine'] as const),
    warmup: integer('warmup', v.warmup, Math.min(10, Math.floor(steps / 10)), 0),
    weightDecay: decimal('weight-decay', v['weight-decay'], 0.1, (x) => x >= 0, 'a finite number >= 0 (0 disables)'),
    gradClip: decimal('grad-clip', v['grad-clip'], 1, (x) => x >= 0, 'a finite number >= 0 (0 disables)'),
    ...(seqLen === undefined ? {} : { seqLen }),
    ...(batchTokens === undefined ? {} : { batchTokens }),
    ...(auxLossCoef === undefined ? {} : { auxLossCoef }),
    seed: integer('seed', v.seed, 0, 0),
    ...(v['eval-data'] && v['eval-data'].length > 0 ? { evalData: v['eval-data'].map((d) => path.resolve(d)) } : {}),
    ...(v['general-data'] && v['general-data'].length > 0 ? { generalData: v['general-data'].map((d) => path.resolve(d)) } : {}),
    ...(v['no-eval'] ? { noEval: true } : {}),
    ...(v['adapter-only'] ? { adapterOnly: true } : {}),
    ...(v.state !== undefined ? { stateFile: path.resolve(v.state) } : {}),
  };
}

/** What the CLI knows of a running finetune: the last step it reported (for the Ctrl-C message). */
export interface FinetuneWatch {
  lastStep: number;
  training: boolean;
}

/** What the first Ctrl-C during a finetune says it does. */
export function finetuneStopMessage(w: FinetuneWatch): string {
  return w.training
    ? `stopping after step ${w.lastStep + 1}: the model trained so far is written; Ctrl-C again to cancel and write nothing`
    : 'stopping: training ends before its first step (nothing is written) or, when it is done, writes as usual; Ctrl-C again to cancel and write nothing';
}

interface Ctx {
  readonly client: EngineClient;
  readonly signal: AbortSignal;
  /** Stop: the engine ends after the step in progress and writes what was trained. */
  readonly finish?: AbortSignal;
  readonly watch?: FinetuneWatch;
  readonly onProgress: ((p: Progress) => void) | undefined;
  readonly write: (s: string) => void;
}

export async function finetuneCommand(ctx: Ctx, params: FinetuneParams, json: boolean): Promise<number> {
  const onProgress = (p: Progress): void => {
    if (ctx.watch) {
      ctx.watch.training = p.stage === 'train' || p.stage === 'resume';
      if (ctx.watch.training) ctx.watch.lastStep = p.done;
    }
    if (json && p.stage === 'train' && p.metrics) {
      const m = p.metrics;
      ctx.write(JSON.stringify({ step: m['step'], loss: m['loss'], ...(m['evalLoss'] === undefined ? {} : { evalLoss: m['evalLoss'] }), tokensPerSecond: m['tokensPerSecond'] }));
      return;
    }
    ctx.onProgress?.(p);
  };
  const r = await ctx.client.request('finetune', params, { signal: ctx.signal, onProgress, ...(ctx.finish ? { finish: ctx.finish } : {}) });
  if (json) {
    ctx.write(JSON.stringify({ summary: r }));
    return 0;
  }
  const pct = (100 * r.trainableParameters) / r.totalParameters;
  ctx.write(`trained     ${r.trainableParameters.toLocaleString('en-US')} of ${r.totalParameters.toLocaleString('en-US')} parameters (${pct.toFixed(pct < 1 ? 3 : 1)}%), ${r.trainedTensors.length} tensors`);
  if (r.experts.length > 0) ctx.write(`experts     ${r.experts.map(([L, es]) => `${L}:[${es.join(',')}]`).join(' ')}`);
  if (r.stoppedAt !== undefined) ctx.write(`stopped     by the user after step ${r.stoppedAt} of ${params.steps}: the model trained so far is written`);
  ctx.write(`steps       ${r.steps} in ${r.seconds.toFixed(1)} s (${r.tokensPerSecond.toFixed(0)} tokens/s)`);
  const last = r.history.at(-1);
  if (last) ctx.write(`train loss  ${r.history[0]!.lmLoss.toFixed(4)} -> ${last.lmLoss.toFixed(4)}`);
  if (r.evalBefore !== undefined && r.evalAfter !== undefined) ctx.write(`held-out    ${r.evalBefore.toFixed(4)} -> ${r.evalAfter.toFixed(4)} (${r.heldOut})`);
  if (r.top1Agreement !== undefined && r.meanKl !== undefined) ctx.write(`next token  top-1 agreement base vs trained ${(100 * r.top1Agreement).toFixed(1)}%, mean KL ${r.meanKl.toPrecision(3)} nats (held-out)`);
  if (r.generalBefore !== undefined && r.generalAfter !== undefined) ctx.write(`general     ${r.generalBefore.toFixed(4)} -> ${r.generalAfter.toFixed(4)}`);
  if (r.routingDrift.length > 0) ctx.write(`routing     Jaccard of held-out top-k sets, before vs after: ${r.routingDrift.map((d) => `L${d.layer} ${d.jaccard.toFixed(3)}`).join(', ')}`);
  if (r.checkpointDir) ctx.write(`checkpoint  ${r.checkpointDir} (report.html, report.json)`);
  ctx.write(`adapter     ${r.adapterDir}${r.checkpointDir ? '' : ' (report.html, report.json)'}`);
  return 0;
}
