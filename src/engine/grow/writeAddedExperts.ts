// Writes an MoE checkpoint grown by N experts per MoE layer (issue #11 §2) through the shared writer: all at
// once or not at all, config.json with only the expert count changed, the source's other files copied,
// moe_workbench.json and the report last. Before the folder is committed the staged checkpoint is opened (config and tensors
// must agree) and, when asked, its logits are compared with the source's, so the record carries the difference;
// report.json / report.html (src/report/addExpertsReport.ts) are written beside it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SkippedFile, WrittenCheckpoint } from '../../protocol/expertOps';
import { MoeError } from '../../protocol/moeError';
import { modelIdentity } from '../experts/modelIdentity';
import { openCheckpoint } from '../model/checkpoint';
import { isRecord, readJsonFile } from '../model/jsonFile';
import { numExpertsKey } from '../model/parseConfig';
import { RECORD_FILE, writeNewFile } from '../surgery/checkpointFiles';
import { cancelledError, writeCheckpoint } from '../surgery/writeCheckpoint';
import { compareToDense, evalSequences, type UpcycleEvaluation } from '../upcycle/upcycleEval';
import { checkDestination, type UpcycleWriteOptions } from '../upcycle/writeUpcycled';
import { type AddExpertsOptions, type AddExpertsPlan, checkAddExperts, needsProfile, planAddExperts } from './addExpertsPlan';
import { addExpertsRecord, type AddExpertsData, type AddExpertsRecord } from './addExpertsRecord';
import { addExpertsTensors } from './addExpertsTensors';
import { domainRows, expertUsage, profileUsage, type Usage } from './growData';
import { checkpointFigures } from './growFigures';
import { addExpertsReport, addExpertsReportHtml } from '../../report/addExpertsReport';

const REPORT_JSON = 'report.json';
const REPORT_HTML = 'report.html';

export interface AddExpertsResult {
  readonly written: WrittenCheckpoint;
  readonly record: AddExpertsRecord;
  readonly plan: AddExpertsPlan;
  /** report.html in the written folder (report.json beside it). */
  readonly reportFile: string;
}

/** The source config.json with only the expert count changed (key order and every other key kept). */
function grownConfigText(raw: Record<string, unknown>, key: string, numExperts: number): string {
  return JSON.stringify({ ...raw, [key]: numExperts }, null, 2) + '\n';
}

/** The source's own record, carried as `previous` (a malformed one is left behind, not copied). */
function previousRecord(dir: string): unknown {
  const file = path.join(dir, RECORD_FILE);
  if (!fs.existsSync(file)) return undefined;
  try {
    return readJsonFile(file, 'E_CONFIG', 16 * 1024 * 1024);
  } catch {
    return undefined;
  }
}

/**
 * Adds experts to the MoE checkpoint `srcDir`, writing `outDir` (missing or empty, outside `srcDir`). Errors:
 * E_INPUT / E_UNSUPPORTED for options the model cannot take (before anything is read or written), E_IO for an
 * unusable destination, E_CANCELLED when `signal` aborts; nothing is left behind on failure.
 */
export async function writeAddedExperts(srcDir: string, outDir: string, options: AddExpertsOptions, opts: UpcycleWriteOptions = {}): Promise<AddExpertsResult> {
  const outAbs = path.resolve(outDir);
  if (opts.signal?.aborted) throw cancelledError(outAbs);
  const ckpt = openCheckpoint(srcDir);
  try {
    const configFile = path.join(ckpt.dir, 'config.json');
    checkAddExperts(ckpt.config, options, configFile);
    checkDestination(ckpt.dir, outAbs);
    const data = options.data ?? [];
    let usage: Usage | undefined;
    if (needsProfile(options) && options.profileFile !== undefined) {
      usage = profileUsage(ckpt.dir, options.profileFile);
    } else if (needsProfile(options)) {
      opts.onProgress?.({ stage: 'profile', done: 0, total: 1, message: 'profiling the model on the data: the most-used experts of each layer' });
      usage = await expertUsage(ckpt.dir, data, { ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
    }
    const plan = planAddExperts(ckpt.config, options, configFile, usage?.counts);
    let domain: { rows: Map<number, Float32Array>; data: AddExpertsData } | undefined;
    if (plan.router === 'domain') {
      opts.onProgress?.({ stage: 'domain', done: 0, total: plan.moeLayers.length, message: 'router inputs of the data tokens for the new router rows' });
      domain = await domainRows(ckpt, plan, data, opts.signal);
    }
    const raw = readJsonFile(configFile, 'E_CONFIG', 4 * 1024 * 1024);
    if (!isRecord(raw)) throw new MoeError('E_CONFIG', `${configFile}: expected a JSON object`, configFile);
    const tensors = addExpertsTensors(ckpt, plan, domain?.rows);
    const configText = grownConfigText(raw, numExpertsKey(ckpt.config.modelType), plan.newExperts);
    const identity = modelIdentity(ckpt.dir);
    const previous = previousRecord(ckpt.dir);
    let skipped: readonly SkippedFile[] = [];
    let record: AddExpertsRecord | undefined;
    const written = await writeCheckpoint(ckpt.dir, outAbs, {
      tensors,
      configText,
      extraFiles: (s) => {
        skipped = s;
        return [];
      },
      beforeCommit: async (tmp) => {
        // Throws if config.json and the tensors disagree; its headers give the report's figures after.
        const staged = openCheckpoint(tmp);
        let after: ReturnType<typeof checkpointFigures>;
        try {
          after = checkpointFigures(staged, plan, plan.newExperts);
        } finally {
          staged.close();
        }
        let evaluation: UpcycleEvaluation | undefined;
        if (opts.evaluate !== false) {
          if (opts.signal?.aborted) throw cancelledError(outAbs);
          opts.onProgress?.({ stage: 'evaluate', done: 0, total: 1, message: 'logits of the source and the grown model' });
          evaluation = await compareToDense(ckpt.dir, tmp, evalSequences(options.seed, ckpt.config.vocabSize));
        }
        if (opts.signal?.aborted) throw cancelledError(outAbs);
        const recordData = usage?.data ?? domain?.data;
        record = addExpertsRecord(plan, identity, {
          ...(usage ? { usage: usage.counts, tokens: usage.tokens } : {}),
          ...(recordData ? { data: recordData } : {}),
          ...(domain ? { domainTokens: domain.data.tokens } : {}),
          ...(usage && options.profileFile !== undefined ? { profileFile: path.resolve(options.profileFile) } : {}),
          ...(evaluation ? { evaluation } : {}),
          ...(previous !== undefined ? { previous } : {}),
          skipped,
        });
        await writeNewFile(path.join(tmp, RECORD_FILE), JSON.stringify(record, null, 2) + '\n');
        const before = checkpointFigures(ckpt, plan, plan.oldExperts);
        const figures = { parameters: { before: before.parameters, after: after.parameters, activeBefore: before.active, activeAfter: after.active }, bytes: { before: before.bytes, after: after.bytes } };
        const report = addExpertsReport(record, outAbs, ckpt.config.numLayers, plan, figures);
        await writeNewFile(path.join(tmp, REPORT_JSON), JSON.stringify(report, null, 2) + '\n');
        await writeNewFile(path.join(tmp, REPORT_HTML), addExpertsReportHtml(report));
      },
    }, opts);
    return { written, record: record!, plan, reportFile: path.join(written.dir, REPORT_HTML) };
  } finally {
    ckpt.close();
  }
}
