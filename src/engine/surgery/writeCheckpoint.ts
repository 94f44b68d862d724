// The one way the tool writes a checkpoint folder (prune/merge plans, fine-tuned weights, applied adapters):
// the given tensors sharded as save_pretrained does (one tensor in memory at a time), config.json, the
// source's other files, and the operation's own files, in a staging folder that appears at `outDir` all at
// once or not at all (stagingDir.ts). Cancellation is checked between tensors.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Progress } from '../../protocol/engineProtocol';
import type { SkippedFile, WrittenCheckpoint } from '../../protocol/expertOps';
import { MoeError } from '../../protocol/moeError';
import { writeSafetensors } from '../model/safetensorsWriter';
import { INDEX_FILE, isCopiedFile, MAX_SHARD_BYTES, shardName, shardTensors, writeNewFile } from './checkpointFiles';
import type { PlannedTensor } from './planTensors';
import { copyRegularFile, sourceFiles } from './sourceFiles';
import { STAGING_MARKER } from './staleStaging';
import { createStagingDir, type StagingDir } from './stagingDir';

export interface WriteCheckpointOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: Progress) => void;
  /** Awaited between tensors: the engine runs waiting queries (annotation) there. */
  readonly pause?: () => Promise<void>;
  /** Largest shard in bytes of tensor data (default 5e9, as transformers' save_pretrained). For tests. */
  readonly maxShardBytes?: number;
}

/** A file an operation writes beside the checkpoint's own (its record, report): a plain name and its bytes (a string as UTF-8). */
export interface ExtraFile {
  readonly name: string;
  readonly bytes: string | Buffer;
}

export interface CheckpointContents {
  /** Sorted as they should appear in the shards. */
  readonly tensors: readonly PlannedTensor[];
  /** config.json's bytes (a string is written as UTF-8). */
  readonly configText: string | Buffer;
  /**
   * The operation's own files (record, profile copy), given the source files that were skipped; written
   * last, create-only.
   */
  readonly extraFiles: (skipped: readonly SkippedFile[]) => readonly ExtraFile[];
  /** Writes more into the staging folder (e.g. a fine-tuning's adapter/ subfolder) before it is committed. */
  readonly beforeCommit?: (tempDir: string) => Promise<void>;
}

/** The source files that will be copied and those that will be skipped (for a record made before writing). */
export function plannedCopies(srcDir: string): ReturnType<typeof sourceFiles> {
  return sourceFiles(srcDir, isCopiedFile);
}

export function cancelledError(outAbs: string): MoeError {
  return new MoeError('E_CANCELLED', `writing the checkpoint ${outAbs} was cancelled; nothing was written`, outAbs);
}

export async function writeCheckpoint(srcDir: string, outDir: string, contents: CheckpointContents, opts: WriteCheckpointOptions = {}): Promise<WrittenCheckpoint> {
  const { signal, onProgress } = opts;
  const outAbs = path.resolve(outDir);
  const checkCancelled = (): void => {
    if (signal?.aborted) throw cancelledError(outAbs);
  };
  const maxShard = opts.maxShardBytes ?? MAX_SHARD_BYTES;
  if (!(maxShard > 0)) throw new MoeError('E_INPUT', `maxShardBytes must be a positive number of bytes, got ${String(opts.maxShardBytes)}`);
  let staging: StagingDir | undefined;
  try {
    const { copies, skipped } = plannedCopies(srcDir);
    const extra = contents.extraFiles(skipped);
    checkCancelled();
    staging = await createStagingDir(srcDir, outAbs);
    const tmp = staging.temp;
    const tensors = contents.tensors;
    const total = tensors.reduce((s, t) => s + t.byteLength, 0);
    const shards = shardTensors(tensors, maxShard);
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
      await writeNewFile(path.join(tmp, INDEX_FILE), JSON.stringify({ metadata: { total_size: total }, weight_map: sorted }, null, 2) + '\n');
    }
    await writeNewFile(path.join(tmp, 'config.json'), contents.configText);
    for (const c of copies) await copyRegularFile(c.from, path.join(tmp, c.name));
    for (const f of extra) await writeNewFile(path.join(tmp, f.name), f.bytes);
    await contents.beforeCommit?.(tmp);

    const files = fs.readdirSync(tmp).filter((f) => f !== STAGING_MARKER).sort();
    const sizeOf = (p: string): number => {
      const st = fs.statSync(p);
      return st.isDirectory() ? fs.readdirSync(p).reduce((s, f) => s + sizeOf(path.join(p, f)), 0) : st.size;
    };
    const bytes = files.reduce((s, f) => s + sizeOf(path.join(tmp, f)), 0);
    checkCancelled();
    const { removedStale } = staging;
    await staging.commit();
    staging = undefined;
    onProgress?.({ stage: 'write', done: total, total, message: `wrote ${outAbs}` });
    return { dir: outAbs, files, bytes, ...(skipped.length > 0 ? { skipped } : {}), ...(removedStale.length > 0 ? { removedStale: [...removedStale] } : {}) };
  } catch (e) {
    if (staging !== undefined) await staging.discard();
    const isIo = e instanceof MoeError ? e.code === 'E_IO' : typeof (e as NodeJS.ErrnoException)?.code === 'string';
    if (!isIo) throw MoeError.from(e);
    // E_IO from inside the temp folder names a path that no longer exists: name the destination.
    const msg = (e as Error).message;
    throw new MoeError('E_IO', msg.includes(outAbs) ? msg : `writing the checkpoint ${outAbs} failed: ${msg}`, outAbs);
  }
}
