// What every checkpoint writer of the tool shares (writeExpertPlan.ts, writeTensorUpdates.ts): which source
// files travel into the new folder as they are, how tensors are sharded and the shards named (as
// transformers' save_pretrained does), and a durable create-only text write.
import * as fsp from 'node:fs/promises';

/** What a written checkpoint records about the operation that made it. */
export const RECORD_FILE = 'moe_workbench.json';
/** The copy of the profile a plan came from, inside the checkpoint (moe_workbench.json points at it). */
export const PROFILE_COPY_FILE = 'moe-workbench-profile.json';
/** transformers' default max_shard_size ("5GB"). */
export const MAX_SHARD_BYTES = 5e9;
export const INDEX_FILE = 'model.safetensors.index.json';

/** The report an operation writes beside its checkpoint (upcycle, add-experts, fine-tuning). */
export const REPORT_FILES: readonly string[] = ['report.json', 'report.html'];

/**
 * Files of the source folder that are not copied: the weights (rewritten), config.json (rewritten), an old
 * record, report and profile copy (they describe the operation that made the source, and the new folder's own
 * would collide with them), the profiles of the source, reference outputs of test fixtures, weights in other
 * formats (they would describe the old tensors), and hidden files (VCS and tool leftovers, e.g. an
 * interrupted write's temp file).
 */
export function isCopiedFile(name: string): boolean {
  if (name === 'config.json' || name === RECORD_FILE || REPORT_FILES.includes(name) || name === PROFILE_COPY_FILE || name === 'moe-workbench-profiles' || name.startsWith('expected') || name.startsWith('.')) return false;
  return !/(\.safetensors|\.index\.json|\.bin|\.pt|\.pth|\.ckpt|\.h5|\.msgpack|\.gguf|\.onnx|\.onnx\.data)$/.test(name);
}

/** Greedy shards in the given order, each at most `max` bytes of tensor data (a larger tensor gets its own). */
export function shardTensors<T extends { readonly byteLength: number }>(tensors: readonly T[], max: number): T[][] {
  const shards: T[][] = [];
  let cur: T[] = [];
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

export function shardName(i: number, n: number): string {
  if (n === 1) return 'model.safetensors';
  const pad = (k: number): string => String(k).padStart(5, '0');
  return `model-${pad(i + 1)}-of-${pad(n)}.safetensors`;
}

/** Creates `file` (never overwrites) with `text`, synced to disk. */
export async function writeNewFile(file: string, text: string | Buffer): Promise<void> {
  const fh = await fsp.open(file, 'wx');
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
}
