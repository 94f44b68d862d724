// Writes a new Hugging Face checkpoint from an expert plan (issue #4: pruning keeps some experts, merging
// averages groups): the routed experts and router rows of every MoE layer in their new order, every other
// tensor and file of the source unchanged, config.json with the new expert count, moe_workbench.json
// recording the operation and a copy of the profile it was planned from. The folder appears all at once, or
// not at all (see stagingDir.ts).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Progress } from '../../protocol/engineProtocol';
import type { ExpertPlan, OperationRecord, RecordedProfile, WrittenCheckpoint } from '../../protocol/expertOps';
import { MoeError } from '../../protocol/moeError';
import { openCheckpoint } from '../model/checkpoint';
import { isRecord, readJsonFile } from '../model/jsonFile';
import { writeSafetensors } from '../model/safetensorsWriter';
import { type PlannedTensor, planTensors } from './planTensors';
import { copyRegularFile, sourceFiles } from './sourceFiles';
import { STAGING_MARKER } from './staleStaging';
import { createStagingDir, type StagingDir } from './stagingDir';
import { expertCountKey, validatePlan } from './validatePlan';

export interface WritePlanOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: Progress) => void;
  /** Awaited between tensors: the engine runs waiting queries (annotation) there. */
  readonly pause?: () => Promise<void>;
  /** Largest shard in bytes of tensor data (default 5e9, as transformers' save_pretrained). For tests. */
  readonly maxShardBytes?: number;
}

/** transformers' default max_shard_size ("5GB"). */
export const MAX_SHARD_BYTES = 5e9;
export const RECORD_FILE = 'moe_workbench.json';
/** The copy of the profile the plan came from, inside the checkpoint (moe_workbench.json points at it). */
export const PROFILE_COPY_FILE = 'moe-workbench-profile.json';
const INDEX_FILE = 'model.safetensors.index.json';

/**
 * Files of the source folder that are not copied: the weights (rewritten), config.json (rewritten), an old
 * record and profile copy, the profiles of the source, reference outputs of test fixtures, weights in other
 * formats (they would describe the old experts), and hidden files (VCS and tool leftovers, e.g. an
 * interrupted write's temp file).
 */
function isCopied(name: string): boolean {
  if (name === 'config.json' || name === RECORD_FILE || name === PROFILE_COPY_FILE || name === 'moe-workbench-profiles' || name.startsWith('expected') || name.startsWith('.')) return false;
  return !/(\.safetensors|\.index\.json|\.bin|\.pt|\.pth|\.ckpt|\.h5|\.msgpack|\.gguf|\.onnx|\.onnx\.data)$/.test(name);
}

/** Greedy shards in name order, each at most `max` bytes of tensor data (a larger tensor gets its own). */
function shard(tensors: readonly PlannedTensor[], max: number): PlannedTensor[][] {
  const shards: PlannedTensor[][] = [];
  let cur: PlannedTensor[] = [];
  let size = 0;
  for (const t of tensors) {
    if (cur.length > 0 && size + t.byteLength > max) {
      shards.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(t);
    size += t.byteLength;
  }
  if (cur.length > 0 || shards.length === 0) shards.push(cur);
  return shards;
}

function shardName(i: number, n: number): string {
  if (n === 1) return 'model.safetensors';
  const pad = (k: number): string => String(k).padStart(5, '0');
  return `model-${pad(i + 1)}-of-${pad(n)}.safetensors`;
}

/** The source config.json with only the expert count changed (key order and every other key kept). */
function newConfigText(srcDir: string, key: string, numExperts: number): string {
  const file = path.join(srcDir, 'config.json');
  const raw = readJsonFile(file, 'E_CONFIG');
  if (!isRecord(raw)) throw new MoeError('E_CONFIG', `${file}: expected a JSON object`, file);
  raw[key] = numExperts;
  return JSON.stringify(raw, null, 2) + '\n';
}

async function writeText(file: string, text: string | Buffer): Promise<void> {
  const fh = await fsp.open(file, 'wx');
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
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
  const { signal, onProgress } = opts;
  const outAbs = path.resolve(outDir);
  const checkCancelled = (): void => {
    if (signal?.aborted) throw new MoeError('E_CANCELLED', `writing the checkpoint ${outAbs} was cancelled; nothing was written`, outAbs);
  };
  const maxShard = opts.maxShardBytes ?? MAX_SHARD_BYTES;
  if (!(maxShard > 0)) throw new MoeError('E_INPUT', `maxShardBytes must be a positive number of bytes, got ${String(opts.maxShardBytes)}`);
  checkCancelled();
  const ckpt = openCheckpoint(srcDir);
  let staging: StagingDir | undefined;
  try {
    const { layers, numExperts } = validatePlan(ckpt.config, plan);
    const tensors = planTensors(ckpt, layers);
    const configText = newConfigText(ckpt.dir, expertCountKey(ckpt.config.modelType), numExperts);
    const { copies, skipped } = sourceFiles(ckpt.dir, isCopied);
    const profile = record.profile ? profileCopy(record.profile) : undefined;
    const finalRecord: OperationRecord = { ...record, ...(profile ? { profile: profile.profile } : {}), ...(skipped.length > 0 ? { skippedFiles: skipped } : {}) };
    checkCancelled();
    staging = await createStagingDir(ckpt.dir, outAbs);
    const tmp = staging.temp;

    const total = tensors.reduce((s, t) => s + t.byteLength, 0);
    const shards = shard(tensors, maxShard);
    const weightMap: Record<string, string> = {};
    let done = 0;
    for (let i = 0; i < shards.length; i++) {
      const file = shardName(i, shards.length);
      const list = shards[i]!.map((t) => {
        weightMap[t.name] = file;
        return {
          name: t.name,
          dtype: t.dtype,
          shape: t.shape,
          // Called as the writer reaches this tensor: one tensor is in memory at a time.
          data: () => {
            checkCancelled();
            onProgress?.({ stage: 'write', done, total, message: `${file}: ${t.name}` });
            const values = t.produce();
            done += t.byteLength;
            return values;
          },
        };
      });
      await writeSafetensors(path.join(tmp, file), list, { format: 'pt' }, opts.pause);
    }
    checkCancelled();
    if (shards.length > 1) {
      const sorted = Object.fromEntries(Object.keys(weightMap).sort().map((k) => [k, weightMap[k]!]));
      await writeText(path.join(tmp, INDEX_FILE), JSON.stringify({ metadata: { total_size: total }, weight_map: sorted }, null, 2) + '\n');
    }
    await writeText(path.join(tmp, 'config.json'), configText);
    for (const c of copies) await copyRegularFile(c.from, path.join(tmp, c.name));
    if (profile) await writeText(path.join(tmp, PROFILE_COPY_FILE), profile.bytes);
    await writeText(path.join(tmp, RECORD_FILE), JSON.stringify(finalRecord, null, 2) + '\n');

    const files = fs.readdirSync(tmp).filter((f) => f !== STAGING_MARKER).sort();
    const bytes = files.reduce((s, f) => s + fs.statSync(path.join(tmp, f)).size, 0);
    checkCancelled();
    const { removedStale } = staging;
    await staging.commit();
    staging = undefined;
    onProgress?.({ stage: 'write', done: total, total, message: `wrote ${outAbs}` });
    const written: WrittenCheckpoint = { dir: outAbs, files, bytes, ...(skipped.length > 0 ? { skipped } : {}), ...(removedStale.length > 0 ? { removedStale: [...removedStale] } : {}) };
    return { written, record: finalRecord };
  } catch (e) {
    if (staging !== undefined) await staging.discard();
    const isIo = e instanceof MoeError ? e.code === 'E_IO' : typeof (e as NodeJS.ErrnoException)?.code === 'string';
    if (!isIo) throw MoeError.from(e);
    // E_IO from inside the temp folder names a path that no longer exists: name the destination.
    const msg = (e as Error).message;
    throw new MoeError('E_IO', msg.includes(outAbs) ? msg : `writing the checkpoint ${outAbs} failed: ${msg}`, outAbs);
  } finally {
    ckpt.close();
  }
}
