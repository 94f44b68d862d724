// Writes the MoE checkpoint upcycled from a dense one (issue #11 §1) through the shared writer: all at once
// or not at all, the source's tokenizer and other files copied, moe_workbench.json last. Before the folder
// is committed the staged checkpoint is opened as the target family (config and tensors must agree) and,
// when asked, run against the dense model, so the record carries the measured difference.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SkippedFile, WrittenCheckpoint } from '../../protocol/expertOps';
import { MoeError } from '../../protocol/moeError';
import { modelIdentity } from '../experts/modelIdentity';
import { openCheckpoint } from '../model/checkpoint';
import { isRecord, readJsonFile } from '../model/jsonFile';
import { RECORD_FILE, writeNewFile } from '../surgery/checkpointFiles';
import { cancelledError, writeCheckpoint, type WriteCheckpointOptions, type ExtraFile } from '../surgery/writeCheckpoint';
import { upcycleConfigText } from './upcycleConfig';
import { compareToDense, evalSequences, type UpcycleEvaluation } from './upcycleEval';
import { planUpcycle, targetFamilyOf, type UpcycleOptions, type UpcyclePlan } from './upcyclePlan';
import { upcycleRecord, type UpcycleRecord } from './upcycleRecord';
import { upcycleTensors } from './upcycleTensors';
import { dataInit, type DataInit } from './dataInit';

export interface UpcycleWriteOptions extends WriteCheckpointOptions {
  /** Compare the result's logits to the dense model's before committing (default true). */
  readonly evaluate?: boolean;
  /** More files for the staged folder (e.g. the report), made once the record is known; `dir` is the staged checkpoint. */
  readonly reportFiles?: (r: { readonly record: UpcycleRecord; readonly plan: UpcyclePlan; readonly dir: string }) => readonly ExtraFile[];
}

export interface UpcycleResult {
  readonly written: WrittenCheckpoint;
  readonly record: UpcycleRecord;
  readonly plan: UpcyclePlan;
}

/**
 * Upcycles the dense checkpoint `srcDir` into `outDir` (missing or empty, outside `srcDir`). Errors:
 * E_INPUT / E_UNSUPPORTED for options or a source the target cannot hold (before anything is written),
 * E_IO for an unusable destination, E_CANCELLED when `signal` aborts; nothing is left behind on failure.
 */
export async function writeUpcycled(srcDir: string, outDir: string, options: UpcycleOptions, opts: UpcycleWriteOptions = {}): Promise<UpcycleResult> {
  const outAbs = path.resolve(outDir);
  if (opts.signal?.aborted) throw cancelledError(outAbs);
  // The family is checked on the raw config first: an MoE or unknown source gets the upcycling reason, not a loader's.
  const configFile = path.join(path.resolve(srcDir), 'config.json');
  if (!fs.existsSync(configFile)) openCheckpoint(srcDir).close(); // throws the loader's message for a missing folder or config
  const raw = readJsonFile(configFile, 'E_CONFIG', 4 * 1024 * 1024);
  if (!isRecord(raw)) throw new MoeError('E_CONFIG', `${configFile}: expected a JSON object`, configFile);
  targetFamilyOf(raw['model_type'], configFile);
  const ckpt = openCheckpoint(srcDir);
  try {
    const plan = planUpcycle(ckpt.config, options, configFile);
    let fromData: DataInit | undefined;
    if (options.router === 'kmeans' || plan.partition === 'balanced-kmeans') {
      // Clustering runs the dense model over the data: refuse an unusable destination before that work.
      checkDestination(ckpt.dir, outAbs);
      opts.onProgress?.({ stage: 'cluster', done: 0, total: plan.moeLayers.length, message: 'running the dense model over the data to cluster tokens and neurons' });
      fromData = await dataInit(ckpt, plan, options.data ?? [], opts.signal);
    }
    const tensors = upcycleTensors(ckpt, plan, fromData ?? {});
    const configText = upcycleConfigText(raw, ckpt.config, plan);
    const identity = modelIdentity(ckpt.dir);
    let skipped: readonly SkippedFile[] = [];
    let record: UpcycleRecord | undefined;
    const written = await writeCheckpoint(ckpt.dir, outAbs, {
      tensors,
      configText,
      extraFiles: (s) => {
        skipped = s;
        return [];
      },
      beforeCommit: async (tmp) => {
        const staged = openCheckpoint(tmp); // throws if config.json and the tensors disagree
        staged.close();
        let evaluation: UpcycleEvaluation | undefined;
        if (opts.evaluate !== false) {
          if (opts.signal?.aborted) throw cancelledError(outAbs);
          opts.onProgress?.({ stage: 'evaluate', done: 0, total: 1, message: 'logits of the dense and the upcycled model' });
          evaluation = await compareToDense(ckpt.dir, tmp, evalSequences(options.seed, ckpt.config.vocabSize));
        }
        if (opts.signal?.aborted) throw cancelledError(outAbs);
        record = upcycleRecord(plan, identity, { ...(evaluation ? { evaluation } : {}), ...(fromData ? { fromData } : {}), skipped });
        await writeNewFile(path.join(tmp, RECORD_FILE), JSON.stringify(record, null, 2) + '\n');
        for (const f of opts.reportFiles?.({ record, plan, dir: tmp }) ?? []) await writeNewFile(path.join(tmp, f.name), f.bytes);
      },
    }, opts);
    return { written, record: record!, plan };
  } finally {
    ckpt.close();
  }
}

/** The writer's own destination rules (stagingDir.ts), checked early: inside the source, or an existing non-empty folder or file. */
export function checkDestination(srcDir: string, outAbs: string): void {
  const rel = path.relative(fs.realpathSync(srcDir), path.resolve(fs.existsSync(outAbs) ? fs.realpathSync(outAbs) : outAbs));
  if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) throw new MoeError('E_IO', `${outAbs}: the output folder is inside the source model folder ${srcDir}; write the new checkpoint somewhere else`, outAbs);
  if (!fs.existsSync(outAbs)) return;
  if (!fs.statSync(outAbs).isDirectory() || fs.readdirSync(outAbs).length > 0) throw new MoeError('E_IO', `${outAbs}: the output folder already exists and is not empty; choose a new folder or empty it`, outAbs);
}
