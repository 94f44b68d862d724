// The CLI's expert operations: profile, prune, merge, eval. Each prints text by default and JSON with
// --json; all of them go through the same engine worker and host-side steps as the extension.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { planMerge } from '../engine/experts/planMerge';
import { planPrune } from '../engine/experts/planPrune';
import type { Progress } from '../protocol/engineProtocol';
import type { ExpertRef, PruneMethod, PruneRequest, PruneTarget } from '../protocol/expertOps';
import { PRUNE_METHODS } from '../protocol/expertOps';
import { MoeError } from '../protocol/moeError';
import { applyAndReport, type EngineRequester, obtainProfile, sampleImpact } from '../operations/expertOperation';
import { reportText } from '../report/reportText';
import { evalText } from './evalText';
import { profileText } from './profileText';

export class UsageError extends Error {}

export interface ExpertArgs {
  readonly model?: string | undefined;
  readonly data?: string[] | undefined;
  readonly 'eval-data'?: string[] | undefined;
  readonly profile?: string | undefined;
  readonly chunk?: string | undefined;
  readonly 'max-tokens'?: string | undefined;
  readonly 'max-eval-tokens'?: string | undefined;
  readonly method?: string | undefined;
  readonly keep?: string | undefined;
  readonly ratio?: string | undefined;
  readonly global?: boolean | undefined;
  readonly 'min-per-layer'?: string | undefined;
  readonly protect?: string | undefined;
  readonly out?: string | undefined;
  readonly baseline?: string | undefined;
  readonly document?: string | undefined;
  readonly 'dry-run'?: boolean | undefined;
  readonly 'no-eval'?: boolean | undefined;
  readonly json?: boolean | undefined;
}

interface Ctx {
  readonly client: EngineRequester & { request: EngineRequester['request'] };
  readonly signal: AbortSignal;
  readonly onProgress: ((p: Progress) => void) | undefined;
  readonly write: (s: string) => void;
}

const DEFAULT_CHUNK = 512;

function int(s: string | undefined, flag: string, min: number): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} must be an integer >= ${min}, got "${s}"`);
  return n;
}

function paths(v: string[] | undefined): string[] {
  return (v ?? []).map((p) => path.resolve(p));
}

function readDocument(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  const abs = path.resolve(file);
  try {
    return fs.readFileSync(abs, 'utf8');
  } catch (e) {
    throw new MoeError('E_INPUT', `document not readable: ${abs} (${(e as Error).message})`, abs);
  }
}

export function parseProtect(s: string | undefined): ExpertRef[] {
  if (s === undefined || s.trim() === '') return [];
  return s.split(',').map((part) => {
    const m = /^\s*(\d+):(\d+)\s*$/.exec(part);
    if (!m) throw new UsageError(`--protect takes LAYER:EXPERT pairs separated by commas (e.g. 0:3,1:5), got "${part}"`);
    return { layer: Number(m[1]), expert: Number(m[2]) };
  });
}

function pruneRequest(a: ExpertArgs): PruneRequest {
  const method = (a.method ?? '') as PruneMethod;
  if (!PRUNE_METHODS.includes(method)) throw new UsageError(`--method must be one of ${PRUNE_METHODS.join(', ')}${a.method ? `, got "${a.method}"` : ''}`);
  if ((a.keep === undefined) === (a.ratio === undefined)) throw new UsageError('give exactly one of --keep N and --ratio R');
  let target: PruneTarget;
  if (a.keep !== undefined) {
    if (a.global) throw new UsageError('--global goes with --ratio R, not --keep N');
    target = { kind: 'keep', keep: int(a.keep, '--keep', 1)! };
  } else {
    const r = Number(a.ratio);
    if (!(r >= 0 && r < 1)) throw new UsageError(`--ratio must be a number in [0, 1), got "${a.ratio}"`);
    target = a.global ? { kind: 'global', ratio: r, minPerLayer: int(a['min-per-layer'], '--min-per-layer', 1) ?? 1 } : { kind: 'ratio', ratio: r };
  }
  return { method, target, protect: parseProtect(a.protect) };
}

export async function profileCommand(ctx: Ctx, a: ExpertArgs): Promise<number> {
  if (!a.data?.length) throw new UsageError('--data PATH... is required');
  const { file, profile } = await obtainProfile(
    ctx.client,
    { data: paths(a.data), chunkTokens: int(a.chunk, '--chunk', 2) ?? DEFAULT_CHUNK, ...(a['max-tokens'] ? { maxTokens: int(a['max-tokens'], '--max-tokens', 2)! } : {}) },
    { signal: ctx.signal, ...(ctx.onProgress ? { onProgress: ctx.onProgress } : {}) },
  );
  if (a.out !== undefined && path.resolve(a.out) !== file) fs.copyFileSync(file, path.resolve(a.out));
  ctx.write(a.json ? JSON.stringify({ file, ...profile, sample: { tokens: profile.sample.tokens.length } }) : profileText(file, profile));
  return 0;
}

export async function planCommand(ctx: Ctx, a: ExpertArgs, operation: 'prune' | 'merge'): Promise<number> {
  if (!a.out && !a['dry-run']) throw new UsageError('--out DIR is required (or --dry-run to only show the plan)');
  if (!a.data?.length && !a.profile) throw new UsageError('--data PATH... (or --profile FILE) is required');
  const chunkTokens = int(a.chunk, '--chunk', 2) ?? DEFAULT_CHUNK;
  const maxTokens = int(a['max-tokens'], '--max-tokens', 2);
  const req = operation === 'prune' ? pruneRequest(a) : undefined;
  const keep = operation === 'merge' ? int(a.keep, '--keep', 1) : undefined;
  if (operation === 'merge' && keep === undefined) throw new UsageError('--keep N is required');
  const step = { signal: ctx.signal, ...(ctx.onProgress ? { onProgress: ctx.onProgress } : {}) };
  const { file, profile } = await obtainProfile(
    ctx.client,
    { ...(a.profile ? { profileFile: path.resolve(a.profile) } : { data: paths(a.data) }), chunkTokens, ...(maxTokens !== undefined ? { maxTokens } : {}), reuse: true },
    step,
  );
  const plan = req ? planPrune(profile, req) : planMerge(profile, { keep: keep! });
  if (a['dry-run']) {
    const impact = sampleImpact(plan, profile);
    ctx.write(
      a.json
        ? JSON.stringify({ profile: file, plan, impact })
        : [
            `plan: ${plan.operation} — ${plan.description} (profile ${file})`,
            ...plan.layers.map((l) => `  layer ${l.layer}: ${plan.operation === 'prune' ? `remove ${l.removed.join(', ') || 'none'}` : l.experts.map((x) => `[${(x.members ?? x.sources.map((s) => s.expert)).join('+')}]`).join(' ')}`),
            `affected: ${impact.affectedTokens} of ${impact.tokens} sampled calibration tokens have a changed expert in their top-k`,
          ].join('\n'),
    );
    return 0;
  }
  const evalData = a['no-eval'] ? [] : a['eval-data']?.length ? paths(a['eval-data']) : paths(a.data);
  const evalNote = a['eval-data']?.length ? `Evaluated on ${a['eval-data'].join(', ')}.` : 'Evaluated on the calibration data (not held out): pass --eval-data for a held-out set.';
  const document = readDocument(a.document);
  const maxEval = int(a['max-eval-tokens'], '--max-eval-tokens', 2);
  const report = await applyAndReport(ctx.client, plan, profile, {
    ...step,
    out: path.resolve(a.out!),
    profileFile: file,
    evalData,
    evalNote,
    chunkTokens,
    ...(maxEval !== undefined ? { maxEvalTokens: maxEval } : {}),
    ...(document !== undefined ? { document } : {}),
  });
  const notes = [
    ...(report.written.skipped ?? []).map((f) => `not copied from the source folder: ${f.name} (${f.reason})`),
    ...(report.written.removedStale ?? []).map((d) => `removed ${d}, left behind by an earlier write that was killed`),
  ];
  ctx.write(a.json ? JSON.stringify(report) : [reportText(report), ...notes, `report: ${path.join(report.written.dir, 'report.html')}`].join('\n'));
  return 0;
}

/** `eval --model DIR [--baseline DIR]`: the baseline is loaded first; DIR is the candidate. */
export async function evalCommand(ctx: Ctx, a: ExpertArgs, candidate: string): Promise<number> {
  if (!a.data?.length) throw new UsageError('--data PATH... is required');
  const document = readDocument(a.document);
  const maxEval = int(a['max-eval-tokens'] ?? a['max-tokens'], '--max-tokens', 2);
  const report = await ctx.client.request(
    'evaluate',
    {
      candidateDir: candidate,
      data: paths(a.data),
      chunkTokens: int(a.chunk, '--chunk', 2) ?? DEFAULT_CHUNK,
      ...(maxEval !== undefined ? { maxTokens: maxEval } : {}),
      ...(document !== undefined ? { document } : {}),
      ...(recordedExpertMap(candidate) ? { expertMap: recordedExpertMap(candidate)! } : {}),
    },
    { signal: ctx.signal, ...(ctx.onProgress ? { onProgress: ctx.onProgress } : {}), timeoutMs: 0 },
  );
  ctx.write(a.json ? JSON.stringify(report) : evalText(report));
  return 0;
}

/** The baseline an evaluation defaults to: the source recorded in the candidate's moe_workbench.json. */
export function recordedSource(dir: string): string | undefined {
  const rec = readRecord(dir);
  return rec && typeof rec.source?.dir === 'string' ? rec.source.dir : undefined;
}

function recordedExpertMap(dir: string): [number, number[]][] | undefined {
  const rec = readRecord(dir);
  if (!rec || !Array.isArray(rec.experts)) return undefined;
  return rec.experts.map((l) => [l.layer, l.kept]);
}

function readRecord(dir: string): { source?: { dir?: string }; experts?: { layer: number; kept: number[] }[] } | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'moe_workbench.json'), 'utf8')) as { source?: { dir?: string }; experts?: { layer: number; kept: number[] }[] };
  } catch {
    return undefined;
  }
}
