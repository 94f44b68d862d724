// Where the engine's float32 weights are built from: checkpoint tensors held in memory in their stored
// dtype (cached mode), or read from the safetensors files with positioned reads when needed (streaming,
// and loading). Both convert BF16/F16 to float32 exactly (the wasm kernel of widener.ts; dtype.ts's loops
// where wasm is unavailable) and copy blocks of rows, which is all the engine's layouts need
// (unitTensors.ts). The headers were validated by openCheckpoint; the file
// descriptors here are this module's own, so the checkpoint can be closed after loading.
import * as fs from 'node:fs';
import { MoeError } from '../../protocol/moeError';
import type { Checkpoint } from './checkpoint';
import { bf16ToF32, f16ToF32, isStorageDtype, type StorageDtype } from './dtype';
import { copyRows } from './rowConversion';
import { copyRowsInto, widener } from './widener';
import type { RowCopy } from './unitTensors';

/** A checkpoint tensor in memory, in its stored dtype. */
export interface StoredTensor {
  readonly dtype: StorageDtype;
  readonly data: Uint16Array | Float32Array;
}

export interface TensorSource {
  /** Performs `k` into `dst`, whose element `base` is the destination tensor's first. */
  copy(k: RowCopy, dst: Float32Array, base: number): void;
}

/** dst = float32(src), elementwise. */
export function convertInto(dtype: StorageDtype, src: Uint16Array | Float32Array, dst: Float32Array): void {
  if (dtype === 'F32') dst.set(src as Float32Array);
  else if (dtype === 'BF16') bf16ToF32(src as Uint16Array, dst);
  else f16ToF32(src as Uint16Array, dst);
}

/** Tensors held in memory (cached mode). */
export class HeldSource implements TensorSource {
  constructor(private readonly held: ReadonlyMap<string, StoredTensor>) {}

  copy(k: RowCopy, dst: Float32Array, base: number): void {
    const t = this.held.get(k.hf);
    if (!t) throw new MoeError('E_INTERNAL', `tensor "${k.hf}" is not held in memory`);
    copyRowsInto(widener(), t.dtype, t.data, k.from, k.rowLen, k.rows, dst, base + k.to, k.stride);
  }
}

/** Where a checkpoint tensor's data is in its file. */
export interface Located {
  readonly path: string;
  readonly dtype: StorageDtype;
  readonly byteOffset: number;
  readonly elements: number;
}

/** Per readSync call: well below Node's 2 GiB limit on a single read. */
const MAX_READ = 1 << 30;

/** Tensors read from the checkpoint's files when needed (loading, streaming). */
export class DiskSource implements TensorSource {
  private readonly where = new Map<string, Located>();
  private readonly fds = new Map<string, number>();
  /** Block reads of strided F32 copies land here (16-bit blocks are read into the wasm kernel's memory). */
  private scratch = new Uint8Array(0);

  constructor(ckpt: Pick<Checkpoint, 'tensors'>) {
    for (const [name, { file, entry }] of ckpt.tensors) {
      if (!isStorageDtype(entry.dtype)) continue; // openCheckpoint refuses such a tensor if the engine needs it
      this.where.set(name, { path: file.path, dtype: entry.dtype, byteOffset: entry.byteOffset, elements: entry.byteLength / (entry.dtype === 'F32' ? 4 : 2) });
    }
    try {
      for (const { path } of this.where.values()) if (!this.fds.has(path)) this.fds.set(path, fs.openSync(path, 'r'));
    } catch (e) {
      this.close();
      throw new MoeError('E_WEIGHTS', `cannot open a weights file: ${(e as Error).message}`);
    }
  }

  /**
   * Bytes of the scratch buffer (counted as held by the weight store). The kernel's memory (widenWasm.ts,
   * 768 KiB per converting thread, fixed) is the thread's like its stack and heap, and not counted here.
   */
  get scratchBytes(): number {
    return this.scratch.byteLength;
  }

  /** Every tensor's location (for the conversion worker, which reads with its own descriptors). */
  get locations(): ReadonlyMap<string, Located> {
    return this.where;
  }

  dtypeOf(hf: string): StorageDtype {
    return this.locate(hf).dtype;
  }

  /**
   * A whole tensor in its stored dtype, in a fresh buffer (cached mode keeps it); 16-bit ones in a
   * SharedArrayBuffer when `shared`, so the conversion worker reads them where they are.
   */
  readStored(hf: string, shared = false): StoredTensor {
    const l = this.locate(hf);
    const data = l.dtype === 'F32' ? new Float32Array(l.elements) : new Uint16Array(shared ? new SharedArrayBuffer(l.elements * 2) : new ArrayBuffer(l.elements * 2));
    this.read(l, hf, new Uint8Array(data.buffer, 0, data.byteLength), 0);
    return { dtype: l.dtype, data };
  }

  copy(k: RowCopy, dst: Float32Array, base: number): void {
    const l = this.locate(k.hf);
    const size = l.dtype === 'F32' ? 4 : 2;
    const n = k.rows * k.rowLen;
    const w = size === 2 ? widener() : undefined;
    if (w) {
      // Each block is read straight into the kernel's memory, widened there and copied out.
      const fill = (block: Uint16Array, at: number): void => this.read(l, k.hf, new Uint8Array(block.buffer, block.byteOffset, block.length * 2), (k.from + at) * 2);
      w.rows(l.dtype as 'BF16' | 'F16', fill, k.rowLen, k.rows, dst, base + k.to, k.stride);
      return;
    }
    if (k.rows === 1 || k.stride === k.rowLen) {
      // Contiguous: read straight into the destination. A 16-bit block goes into the upper half of its
      // float32 bytes and is widened in place, front to back: element i is read before its 4 bytes are
      // written, and those bytes only overlap 16-bit elements at indices <= i.
      const at = dst.byteOffset + (base + k.to) * 4;
      const out = dst.subarray(base + k.to, base + k.to + n);
      if (size === 4) {
        this.read(l, k.hf, new Uint8Array(dst.buffer, at, n * 4), k.from * 4);
        return;
      }
      this.read(l, k.hf, new Uint8Array(dst.buffer, at + n * 2, n * 2), k.from * 2);
      convertInto(l.dtype, new Uint16Array(dst.buffer, at + n * 2, n), out);
      return;
    }
    if (this.scratch.byteLength < n * size) this.scratch = new Uint8Array(n * size);
    this.read(l, k.hf, this.scratch.subarray(0, n * size), k.from * size);
    const src = size === 4 ? new Float32Array(this.scratch.buffer, 0, n) : new Uint16Array(this.scratch.buffer, 0, n);
    copyRows(l.dtype, src, 0, k.rowLen, k.rows, dst, base + k.to, k.stride);
  }

  close(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }

  private locate(hf: string): Located {
    const l = this.where.get(hf);
    if (!l) throw new MoeError('E_WEIGHTS', `tensor "${hf}" is not in the checkpoint`);
    return l;
  }

  /** Reads dst.length bytes of tensor `hf` starting `offset` bytes into its data. */
  private read(l: Located, hf: string, dst: Uint8Array, offset: number): void {
    const fd = this.fds.get(l.path);
    if (fd === undefined) throw new MoeError('E_INTERNAL', `${l.path} is closed: the model was unloaded`);
    let done = 0;
    while (done < dst.length) {
      let n: number;
      try {
        n = fs.readSync(fd, dst, done, Math.min(dst.length - done, MAX_READ), l.byteOffset + offset + done);
      } catch (e) {
        throw new MoeError('E_SAFETENSORS', `${l.path}: reading tensor "${hf}" failed: ${(e as Error).message}`, l.path);
      }
      if (n === 0) throw new MoeError('E_SAFETENSORS', `${l.path}: the file ended while reading tensor "${hf}" (was it changed after the model was loaded?)`, l.path);
      done += n;
    }
  }
}
