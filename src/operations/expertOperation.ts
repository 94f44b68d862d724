// The steps every expert operation shares, on the host side (CLI and extension): get a profile (reuse or
// compute), apply a plan through the engine worker, measure the impact on the profile's sample, evaluate
// the result against the source model, and save the report inside the written checkpoint folder.
import * as path from 'node:path';
import { writeAll, writeFileAtomic } from '../engine/atomicFile';
import { METHOD_STATISTIC } from '../engine/experts/expertStatistics';
import { expertMapOf } from '../engine/experts/operationRecord';
import { planImpact } from '../engine/experts/planImpact';
import { decodeSampleLayer } from '../engine/experts/profileSample';
import type { EngineMethod, EngineMethods, Progress } from '../protocol/engineProtocol';
import type { EvalReport, ExpertPlan, ExpertProfile, ExpertStatistic, OperationReport, PlanImpact, PruneRequest } from '../protocol/expertOps';
import { reportHtml } from '../report/reportHtml';

/** What the operations need of an engine client (EngineClient satisfies it). */
export interface EngineRequester {
  request<M extends EngineMethod>(method: M, params: EngineMethods[M]['params'], opts?: { signal?: AbortSignal; onProgress?: (p: Progress) => void; timeoutMs?: number }): Promise<EngineMethods[M]['result']>;
}

export interface StepOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: Progress) => void;
}

export interface ProfileSource {
  /** An existing profile file; otherwise the model is profiled on `data`. */
  readonly profileFile?: string;
  readonly data?: readonly string[];
  readonly chunkTokens: number;
  readonly maxTokens?: number;
  /** Reuse the profile at the default path when it matches the model, data and chunk length. */
  readonly reuse?: boolean;
}

export async function obtainProfile(client: EngineRequester, src: ProfileSource, opts: StepOptions = {}): Promise<{ file: string; profile: ExpertProfile }> {
  const o = { ...opts, timeoutMs: 0 };
  if (src.profileFile !== undefined) return { file: src.profileFile, profile: await client.request('readProfile', { file: src.profileFile }, o) };
  return client.request('profile', { data: src.data ?? [], chunkTokens: src.chunkTokens, ...(src.maxTokens !== undefined ? { maxTokens: src.maxTokens } : {}), ...(src.reuse ? { reuse: true } : {}) }, o);
}

/** The plan's effect on the tokens sampled in the profile. */
export function sampleImpact(plan: ExpertPlan, profile: ExpertProfile): PlanImpact {
  return planImpact(plan, {
    tokens: profile.sample.tokens,
    doc: profile.sample.doc,
    starts: profile.sample.offset,
    docNames: profile.data.documents.map((d) => (d.line === undefined ? d.source : `${d.source} (record on line ${d.line})`)),
    layers: profile.layers.map((l, i) => ({ layer: l.layer, topK: l.topK, ...decodeSampleLayer(profile.sample, i, l.topK) })),
  });
}

export interface ApplyOptions extends StepOptions {
  readonly out: string;
  readonly profileFile?: string;
  /** Held-out data for the evaluation; none = skip it. */
  readonly evalData?: readonly string[];
  readonly evalNote?: string;
  readonly chunkTokens: number;
  readonly maxEvalTokens?: number;
  /** Text of the open document, for the routing change and per-token prediction view. */
  readonly document?: string;
}

/** Writes the plan's checkpoint, evaluates it against the loaded model, and saves report.html and report.json inside it. */
export async function applyAndReport(client: EngineRequester, plan: ExpertPlan, profile: ExpertProfile | undefined, opts: ApplyOptions): Promise<OperationReport> {
  const o = { ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}), timeoutMs: 0 };
  const notes: string[] = [];
  const impact = profile ? sampleImpact(plan, profile) : undefined;
  const { written, record } = await client.request('applyPlan', { plan, out: path.resolve(opts.out), ...(opts.profileFile ? { profileFile: opts.profileFile } : {}) }, o);
  let evaluation: EvalReport | undefined;
  if (opts.evalData && opts.evalData.length > 0) {
    evaluation = await client.request(
      'evaluate',
      {
        candidateDir: written.dir,
        data: opts.evalData,
        chunkTokens: opts.chunkTokens,
        ...(opts.maxEvalTokens !== undefined ? { maxTokens: opts.maxEvalTokens } : {}),
        ...(opts.document !== undefined && opts.document.trim() !== '' ? { document: opts.document } : {}),
        expertMap: expertMapOf(record),
      },
      o,
    );
    if (opts.evalNote) notes.push(opts.evalNote);
  } else {
    notes.push('Evaluation skipped: no evaluation data given.');
  }
  const statistic: ExpertStatistic = plan.operation === 'prune' ? METHOD_STATISTIC[(plan.parameters as PruneRequest).method] : 'frequency';
  const report: OperationReport = {
    title: `${plan.operation === 'prune' ? 'Pruned' : 'Merged'} ${path.basename(record.source.dir)} → ${path.basename(written.dir)}`,
    createdAt: new Date().toISOString(),
    record,
    written,
    statistic,
    ...(evaluation ? { evaluation } : {}),
    ...(impact ? { impact } : {}),
    notes,
  };
  await saveReport(written.dir, report);
  return report;
}

/** report.html (shareable, self-contained) and report.json inside the checkpoint folder, written atomically. */
export async function saveReport(dir: string, report: OperationReport): Promise<void> {
  const html = Buffer.from(reportHtml(report));
  await writeFileAtomic(path.join(dir, 'report.html'), (fd) => writeAll(fd, html));
  const json = Buffer.from(JSON.stringify(report, null, 1));
  await writeFileAtomic(path.join(dir, 'report.json'), (fd) => writeAll(fd, json));
}
