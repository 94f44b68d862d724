// Writes a new Hugging Face checkpoint from an expert plan (issue #4: pruning keeps some experts, merging
// averages groups): the routed experts and router rows of every MoE layer in their new order, every other
// tensor and file of the source unchanged, config.json with the new expert count, moe_workbench.json
// recording the operation and a copy of the profile it was planned from. The folder appears all at once, or
// not at all (see stagingDir.ts).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ExpertPlan, OperationRecord, RecordedProfile, WrittenCheckpoint } from '../../protocol/expertOps';
import { MoeError } from '../../protocol/moeError';
import { openCheckpoint } from '../model/checkpoint';
import { isRecord, readJsonFile } from '../model/jsonFile';
import { planTensors } from './planTensors';
import { PROFILE_COPY_FILE, RECORD_FILE } from './checkpointFiles';
import { cancelledError, writeCheckpoint, type WriteCheckpointOptions } from './writeCheckpoint';
import { expertCountKey, validatePlan } from './validatePlan';

export type WritePlanOptions = WriteCheckpointOptions;

export { MAX_SHARD_BYTES, PROFILE_COPY_FILE, RECORD_FILE } from './checkpointFiles';

/** The source config.json with only the expert count changed (key order and every other key kept). */
function newConfigText(srcDir: string, key: string, numExperts: number): string {
  const file = path.join(srcDir, 'config.json');
  const raw = readJsonFile(file, 'E_CONFIG');
  if (!isRecord(raw)) throw new MoeError('E_CONFIG', `${file}: expected a JSON object`, file);
  raw[key] = numExperts;
  return JSON.stringify(raw, null, 2) + '\n';
}

/**
 * The profile `record` names (its original file), read once: the bytes copied into the checkpoint, and the
 * record pointing at the copy. Refused when the file no longer holds the profile the plan was made from.
 */
function profileCopy(recorded: RecordedProfile): { bytes: Buffer; profile: RecordedProfile } {
  const original = recorded.originalFile ?? recorded.file;
  let bytes: Buffer;
  let data: { sha256?: unknown; tokens?: unknown } | undefined;
  try {
    bytes = fs.readFileSync(original);
    data = (JSON.parse(bytes.toString('utf8')) as { data?: { sha256?: unknown; tokens?: unknown } }).data;
  } catch (e) {
    throw new MoeError('E_IO', `cannot copy the profile ${original} into the checkpoint: ${(e as Error).message}`, original);
  }
  if (data?.sha256 !== recorded.dataSha256 || data.tokens !== recorded.tokens) {
    throw new MoeError('E_IO', `the profile ${original} changed after the plan was made from it; make the plan again`, original);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { bytes, profile: { ...recorded, file: PROFILE_COPY_FILE, sha256, originalFile: original } };
}

/**
 * Writes the checkpoint `plan` makes of `srcDir` to `outDir` (which must not exist, or be an empty folder,
 * outside `srcDir`), and returns it with the record as written (pointing at the profile's copy, listing the
 * skipped files). Errors: E_INPUT for a plan that does not fit the model (before anything is written),
 * E_IO naming the path for an unusable destination or a failed write, E_CANCELLED when `signal` aborts
 * (checked between tensors); on every failure nothing is left behind.
 */
export async function writeExpertPlan(srcDir: string, plan: ExpertPlan, outDir: string, record: OperationRecord, opts: WritePlanOptions = {}): Promise<{ written: WrittenCheckpoint; record: OperationRecord }> {
  const outAbs = path.resolve(outDir);
  if (opts.signal?.aborted) throw cancelledError(outAbs);
  const ckpt = openCheckpoint(srcDir);
  try {
    const { layers, numExperts } = validatePlan(ckpt.config, plan);
    const tensors = planTensors(ckpt, layers);
    const configText = newConfigText(ckpt.dir, expertCountKey(ckpt.config.modelType), numExperts);
    const profile = record.profile ? profileCopy(record.profile) : undefined;
    let finalRecord: OperationRecord = record;
    const written = await writeCheckpoint(ckpt.dir, outAbs, {
      tensors,
      configText,
      extraFiles: (skipped) => {
        finalRecord = { ...record, ...(profile ? { profile: profile.profile } : {}), ...(skipped.length > 0 ? { skippedFiles: [...skipped] } : {}) };
        return [...(profile ? [{ name: PROFILE_COPY_FILE, bytes: profile.bytes }] : []), { name: RECORD_FILE, bytes: JSON.stringify(finalRecord, null, 2) + '\n' }];
      },
    }, opts);
    return { written, record: finalRecord };
  } finally {
    ckpt.close();
  }
}
