// `moe-workbench upcycle`: a dense checkpoint (llama, qwen3) into an MoE (mixtral, qwen3_moe) by copy,
// noise, drop or split experts (issue #11 §1). A file operation run in the CLI process, like apply-adapter:
// flags are checked first (UsageError), then the engine checks the model against them (MoeError), and the
// result's logits are compared to the dense model's before the folder is committed (unless --no-eval).
import * as path from 'node:path';
import type { Progress } from '../protocol/engineProtocol';
import { openCheckpoint } from '../engine/model/checkpoint';
import { describeCheckpoint } from '../engine/modelInfo';
import { DROP_MODES, ROUTER_INITS, UPCYCLE_DEFAULTS, UPCYCLE_METHODS, type UpcycleOptions } from '../engine/upcycle/upcyclePlan';
import type { UpcycleRecord } from '../engine/upcycle/upcycleRecord';
import { writeUpcycled } from '../engine/upcycle/writeUpcycled';
import { upcycleReportFiles } from '../engine/upcycle/upcycleReportFiles';
import { UsageError } from './expertCommands';
import { DECIMAL, parseIdList } from './flagValues';

/** The flags only upcycle reads, for cli.ts's parseArgs options (model, out, method, ratio, data, seed, no-eval, json are shared). */
export const UPCYCLE_FLAG_OPTIONS = {
  experts: { type: 'string' },
  'top-k': { type: 'string' },
  'noise-std': { type: 'string' },
  'drop-mode': { type: 'string' },
  router: { type: 'string' },
  layers: { type: 'string' },
} as const;

export interface UpcycleFlags {
  readonly model?: string | undefined;
  readonly out?: string | undefined;
  readonly experts?: string | undefined;
  readonly 'top-k'?: string | undefined;
  readonly method?: string | undefined;
  readonly ratio?: string | undefined;
  readonly 'noise-std'?: string | undefined;
  readonly 'drop-mode'?: string | undefined;
  readonly router?: string | undefined;
  readonly data?: readonly string[] | undefined;
  readonly layers?: string | undefined;
  readonly seed?: string | undefined;
  readonly 'no-eval'?: boolean | undefined;
  readonly json?: boolean | undefined;
}

export interface UpcycleRequest {
  readonly model: string;
  readonly out: string;
  readonly options: UpcycleOptions;
  readonly data: readonly string[];
  readonly evaluate: boolean;
}

/** An integer flag in [min, max], or undefined when absent; UsageError naming the flag otherwise (add-experts reads its flags the same way). */
export function integer(flag: string, v: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v.trim()) || Number(v) < min || Number(v) > max) throw new UsageError(`--${flag} "${v}": an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ' up'}`);
  return Number(v);
}

/** A decimal flag passing `check`, or undefined when absent. */
export function decimal(flag: string, v: string | undefined, check: (x: number) => boolean, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!DECIMAL.test(v.trim()) || !Number.isFinite(Number(v)) || !check(Number(v))) throw new UsageError(`--${flag} "${v}": ${what}`);
  return Number(v);
}

/** One of `allowed`, or undefined when absent. */
export function oneOf<T extends string>(flag: string, v: string | undefined, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${flag} "${v}": one of ${allowed.join(', ')}`);
  return v as T;
}

/** The request the flags ask for; UsageError naming the flag when one is missing, malformed or does not apply. */
export function upcycleRequest(v: UpcycleFlags): UpcycleRequest {
  if (!v.model) throw new UsageError('--model DIR is required (a dense llama or qwen3 checkpoint)');
  if (!v.out) throw new UsageError('--out DIR is required');
  const experts = integer('experts', v.experts, 1);
  const topK = integer('top-k', v['top-k'], 1);
  if (experts === undefined) throw new UsageError('--experts E is required (experts per MoE layer)');
  if (topK === undefined) throw new UsageError('--top-k K is required (experts per token)');
  const method = oneOf('method', v.method, UPCYCLE_METHODS) ?? UPCYCLE_DEFAULTS.method;
  if (v.ratio !== undefined && method !== 'noise' && method !== 'drop') throw new UsageError(`--ratio applies to --method noise and drop, not ${method}`);
  if (v['noise-std'] !== undefined && method !== 'noise') throw new UsageError(`--noise-std applies to --method noise, not ${method}`);
  if (v['drop-mode'] !== undefined && method !== 'drop') throw new UsageError(`--drop-mode applies to --method drop, not ${method}`);
  const ratio = decimal('ratio', v.ratio, (x) => x > 0 && x <= 1, 'a fraction of neurons in (0, 1]') ?? UPCYCLE_DEFAULTS.ratio;
  const noiseStd = decimal('noise-std', v['noise-std'], (x) => x >= 0, 'a standard deviation >= 0') ?? UPCYCLE_DEFAULTS.noiseStd;
  const dropMode = oneOf('drop-mode', v['drop-mode'], DROP_MODES) ?? UPCYCLE_DEFAULTS.dropMode;
  const router = oneOf('router', v.router, ROUTER_INITS) ?? UPCYCLE_DEFAULTS.router;
  const data = (v.data ?? []).map((d) => path.resolve(d));
  if (router === 'kmeans' && data.length === 0) throw new UsageError('--router kmeans needs --data PATH... (the hidden states it clusters)');
  if (router !== 'kmeans' && method !== 'split' && data.length > 0) throw new UsageError('--data is used by --router kmeans and --method split (balanced k-means over neuron activations) only');
  let layers: UpcycleOptions['layers'] = 'all';
  if (v.layers !== undefined && v.layers !== 'all') {
    const ids = parseIdList(v.layers);
    if (!ids) throw new UsageError(`--layers "${v.layers}": all, or comma-separated decoder layer indices (e.g. 1,3,5)`);
    layers = ids;
  }
  const seed = integer('seed', v.seed, 0, 0xffffffff) ?? UPCYCLE_DEFAULTS.seed;
  return { model: path.resolve(v.model), out: path.resolve(v.out), options: { experts, topK, method, ratio, noiseStd, dropMode, router, layers, seed, ...(data.length > 0 ? { data } : {}) }, data, evaluate: !v['no-eval'] };
}

export interface UpcycleIo {
  readonly write: (line: string) => void;
  readonly signal?: AbortSignal;
  readonly onProgress?: ((p: Progress) => void) | undefined;
}

/** A parameter count for a summary line (1.23M, 4.56B). */
export const millions = (n: number): string => (n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n.toLocaleString('en-US'));

/** Total and active-per-token parameters of the checkpoint at `dir`. */
export function parametersOf(dir: string): { total: number; active: number } {
  const c = openCheckpoint(dir);
  try {
    const info = describeCheckpoint(c);
    return { total: info.totalParams, active: info.activeParams };
  } finally {
    c.close();
  }
}

function methodText(r: UpcycleRecord): string {
  const s = r.settings;
  switch (r.method) {
    case 'copy':
      return 'copy (every expert the dense MLP)';
    case 'noise':
      return `noise (N(0, ${s.noiseStd}²) on ${s.ratio} of each expert's neurons)`;
    case 'drop':
      return `drop (${s.ratio} of each expert's neurons re-drawn, ${s.dropMode} index sets)`;
    case 'split':
      return `split (the dense neurons partitioned into ${s.experts} experts, ${s.partition === 'balanced-kmeans' ? `balanced k-means over their activations on ${r.data?.tokens.toLocaleString('en-US')} --data tokens` : 'at random'})`;
  }
}

/** Runs the command; returns the exit code (errors are thrown: UsageError → 2, MoeError → 1 in cli.ts). */
export async function upcycleCommand(v: UpcycleFlags, io: UpcycleIo): Promise<number> {
  const req = upcycleRequest(v);
  const { written, record, plan } = await writeUpcycled(req.model, req.out, req.options, { evaluate: req.evaluate, reportFiles: (r) => upcycleReportFiles(req.model, path.resolve(req.out), r).files, ...(io.signal ? { signal: io.signal } : {}), ...(io.onProgress ? { onProgress: io.onProgress } : {}) });
  const before = parametersOf(req.model);
  const after = parametersOf(written.dir);
  if (v.json) {
    io.write(JSON.stringify({ dir: written.dir, files: written.files, bytes: written.bytes, parameters: { before: before.total, after: after.total, activePerToken: after.active }, record }));
    return 0;
  }
  io.write(`upcycled    ${record.source.modelType} → ${record.target.modelType}: ${record.settings.experts} experts, top-${record.settings.topK}, MoE layers ${plan.moeLayers.join(',')}`);
  io.write(`method      ${methodText(record)}; expert intermediate size ${record.settings.expertIntermediateSize}`);
  const routerHow = record.settings.router === 'kmeans' && record.data ? ` (spherical k-means centroids of the MLP inputs of ${record.data.tokens.toLocaleString('en-US')} --data tokens, at the random init's row norm)` : record.settings.routerStd !== undefined ? ` (zero-mean uniform, std ${record.settings.routerStd})` : '';
  io.write(`router      ${record.settings.router}${routerHow}, seed ${record.seed}`);
  io.write(`parameters  ${millions(before.total)} → ${millions(after.total)} total, ${millions(after.active)} active per token`);
  const ev = record.evaluation;
  if (ev) {
    const why = record.functionPreserving ? 'copies with renormalised top-k compute the dense function' : 'this method changes the function by design';
    io.write(`difference  max |logit − dense logit| ${ev.maxAbsLogitDiff.toExponential(2)}, mean ${ev.meanAbsLogitDiff.toExponential(2)}, top-1 agreement ${(100 * ev.top1Agreement).toFixed(1)}% over ${ev.sequences} sequences (${ev.tokens} tokens); ${why}`);
  } else {
    io.write('difference  not measured (--no-eval)');
  }
  io.write(`wrote       ${written.dir} (${written.files.length} files, ${written.bytes.toLocaleString('en-US')} bytes)`);
  for (const s of written.skipped ?? []) io.write(`skipped     ${s.name}: ${s.reason}`);
  return 0;
}
