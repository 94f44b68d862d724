// Atomic safetensors writer with Hugging Face's layout. Writes a temp file next to the destination, fsyncs
// and renames it over the destination, so readers never see a half-written model and a failed write leaves
// the old file untouched. Tensors are streamed one at a time (converted in small chunks), never concatenated;
// a tensor's data may be a function producing it when it is streamed, so only one tensor need be in memory.
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as nodePath from 'node:path';
import { syncDir } from '../atomicFile';
import { MoeError } from '../../protocol/moeError';
import { HOST_IS_LITTLE_ENDIAN, type StorageDtype, f32ToBf16, f32ToF16, isStorageDtype, storageElementBytes } from './dtype';

/** float32 values converted to dtype on write, or raw bytes already in dtype */
export type TensorData = Float32Array | Uint8Array;

export interface TensorToWrite {
  readonly name: string;
  readonly dtype: StorageDtype;
  readonly shape: readonly number[];
  /**
   * The values, or a function returning them that is called exactly once, when this tensor is streamed
   * (tensors are streamed in on-disk order). A function's result is checked against the shape then; a
   * MoeError it throws (e.g. E_CANCELLED) aborts the write and is passed on unchanged.
   */
  readonly data: TensorData | (() => TensorData);
}

/** Elements per conversion chunk: bounds the scratch buffer (2 MiB) whatever the tensor size. */
const CONVERT_CHUNK = 1 << 20;
/** Bytes per write call: stays well below Node's 2 GiB limit on a single write. */
const MAX_WRITE_CHUNK = 1 << 30;

interface Planned {
  readonly t: TensorToWrite;
  readonly numel: number;
  readonly byteLength: number;
}

function ioError(path: string, problem: string): MoeError {
  return new MoeError('E_IO', `${nodePath.basename(path)}: ${problem} (file: ${path})`, path);
}

/** The data matches the tensor's shape and dtype. */
function checkData(path: string, t: TensorToWrite, data: unknown, numel: number, byteLength: number): asserts data is TensorData {
  const where = `tensor "${t.name}"`;
  if (data instanceof Float32Array) {
    if (data.length !== numel) throw ioError(path, `${where}: ${data.length} float32 values given, shape [${t.shape.join(', ')}] needs ${numel}`);
  } else if (data instanceof Uint8Array) {
    if (data.byteLength !== byteLength) {
      throw ioError(path, `${where}: ${data.byteLength} raw bytes given, shape [${t.shape.join(', ')}] of ${t.dtype} needs ${byteLength}`);
    }
  } else {
    throw ioError(path, `${where}: data must be a Float32Array or a Uint8Array` + (typeof t.data === 'function' ? ' (the data function returned something else)' : ''));
  }
}

/** Checks every tensor before anything touches the disk; returns them in HF's on-disk order. */
function plan(path: string, tensors: readonly TensorToWrite[], metadata: Record<string, string> | undefined): Planned[] {
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw ioError(path, `metadata "${k}" must be a string, got ${typeof v}`);
    }
  }
  const seen = new Set<string>();
  const planned: Planned[] = [];
  for (const t of tensors) {
    const where = `tensor "${t.name}"`;
    if (typeof t.name !== 'string' || t.name === '') throw ioError(path, 'a tensor has an empty name');
    if (t.name === '__metadata__') throw ioError(path, `${where}: the name is reserved for the metadata`);
    if (seen.has(t.name)) throw ioError(path, `${where}: duplicate tensor name`);
    seen.add(t.name);
    if (!isStorageDtype(t.dtype)) throw ioError(path, `${where}: dtype ${String(t.dtype)} cannot be written (supported: F32, F16, BF16)`);
    let numel = 1;
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0) throw ioError(path, `${where}: shape [${t.shape.join(', ')}] has an invalid dimension ${d}`);
      numel *= d;
    }
    const size = storageElementBytes(t.dtype);
    const byteLength = numel * size;
    if (!Number.isSafeInteger(byteLength)) throw ioError(path, `${where}: shape [${t.shape.join(', ')}] is too large`);
    // A producer function is checked when it is called (checkData in writeTensor).
    if (typeof t.data !== 'function') checkData(path, t, t.data, numel, byteLength);
    planned.push({ t, numel, byteLength });
  }
  // Decreasing element size, then name: with an 8-aligned data section every tensor is aligned to its size.
  planned.sort((a, b) => storageElementBytes(b.t.dtype) - storageElementBytes(a.t.dtype) || (a.t.name < b.t.name ? -1 : a.t.name > b.t.name ? 1 : 0));
  return planned;
}

/** The 8-byte length plus the JSON header, padded with spaces so the data section starts 8-byte aligned. */
function encodeHeader(planned: readonly Planned[], metadata: Record<string, string> | undefined): Buffer {
  const header: Record<string, unknown> = {};
  // defineProperty so a tensor named "__proto__" is serialised as an ordinary key.
  const put = (k: string, v: unknown): void => void Object.defineProperty(header, k, { value: v, enumerable: true });
  if (metadata !== undefined) put('__metadata__', { ...metadata });
  let offset = 0;
  for (const p of planned) {
    put(p.t.name, { dtype: p.t.dtype, shape: [...p.t.shape], data_offsets: [offset, offset + p.byteLength] });
    offset += p.byteLength;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  const out = Buffer.alloc(8 + padded, 0x20);
  out.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(out, 8);
  return out;
}

async function writeAll(fh: fsp.FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, Math.min(bytes.length - done, MAX_WRITE_CHUNK));
    if (bytesWritten <= 0) throw new Error('write made no progress');
    done += bytesWritten;
  }
}

async function writeTensor(path: string, fh: fsp.FileHandle, p: Planned): Promise<number> {
  const { t } = p;
  let data: TensorData;
  if (typeof t.data === 'function') {
    const produced: unknown = t.data();
    checkData(path, t, produced, p.numel, p.byteLength);
    data = produced;
  } else {
    data = t.data;
  }
  if (data instanceof Uint8Array) {
    await writeAll(fh, data);
    return data.byteLength;
  }
  if (t.dtype === 'F32') {
    // In-memory little-endian float32 is the on-disk format: write the array's own bytes.
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    await writeAll(fh, bytes);
    return bytes.byteLength;
  }
  const convert = t.dtype === 'BF16' ? f32ToBf16 : f32ToF16;
  const scratch = new Uint16Array(Math.min(data.length, CONVERT_CHUNK));
  const scratchBytes = new Uint8Array(scratch.buffer);
  let written = 0;
  for (let i = 0; i < data.length; i += CONVERT_CHUNK) {
    const count = Math.min(CONVERT_CHUNK, data.length - i);
    convert(data.subarray(i, i + count), scratch);
    await writeAll(fh, scratchBytes.subarray(0, count * 2));
    written += count * 2;
  }
  return written;
}

/**
 * Writes `tensors` to `path` atomically (temp file + fsync + rename). Every failure is MoeError('E_IO')
 * naming `path`, except a MoeError thrown by a data function, which is passed on as it is; on failure no
 * temp file is left and an existing `path` is untouched. `beforeTensor` is awaited before each tensor
 * (the engine lets waiting queries run there).
 */
export async function writeSafetensors(path: string, tensors: readonly TensorToWrite[], metadata?: Record<string, string>, beforeTensor?: () => Promise<void>): Promise<void> {
  if (!HOST_IS_LITTLE_ENDIAN) throw ioError(path, 'writing weights needs a little-endian host');
  const planned = plan(path, tensors, metadata);
  const header = encodeHeader(planned, metadata);
  const dir = nodePath.dirname(path);
  const tmp = nodePath.join(dir, `.${nodePath.basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  let fh: fsp.FileHandle | undefined;
  let created = false;
  try {
    fh = await fsp.open(tmp, 'wx'); // exclusive: never clobber someone else's file
    created = true;
    await writeAll(fh, header);
    for (const p of planned) {
      await beforeTensor?.();
      // Re-checked while streaming: the caller's arrays could change (or be detached) during the awaits.
      const n = await writeTensor(path, fh, p);
      if (n !== p.byteLength) throw new Error(`tensor "${p.t.name}" wrote ${n} bytes, expected ${p.byteLength}`);
    }
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fsp.rename(tmp, path);
    created = false;
  } catch (e) {
    if (fh !== undefined) await fh.close().catch(() => undefined);
    if (created) await fsp.unlink(tmp).catch(() => undefined);
    throw e instanceof MoeError ? e : ioError(path, `writing failed: ${(e as Error).message}`);
  }
  await syncDir(dir);
}
