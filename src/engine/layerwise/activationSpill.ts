// Activations that do not fit the memory allowance of a layer-major batch, kept on disk between layers:
// typed arrays written with positioned writes into one file of a private temporary folder and read back
// into fresh arrays. The folder is made on the first write (a batch that fits never touches the disk) and
// removed by dispose(), on errors and cancellation by the owner's finally, and at process exit by one
// 'exit' handler for every live store. Freed slots are reused by arrays of the same size (a sequence's
// hidden state is rewritten every layer), so the file grows only with what is really held.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MoeError } from '../../protocol/moeError';
import { formatBytes } from '../memory/memoryBudget';

export type SpillArray = Float32Array | BigInt64Array;

/** Where a spilled array lives in the store's file. */
export interface SpillRef {
  readonly kind: 'f32' | 'i64';
  readonly offset: number;
  readonly bytes: number;
}

export interface SpillOptions {
  /** Folder in which the private spill folder is made; default MOE_WORKBENCH_SPILL_DIR, else the OS temp folder. */
  readonly parent?: string;
  /** Most bytes the store's file may hold; default spillCapBytes(parent). */
  readonly capBytes?: number;
}

/** Counters of every store of this process (diagnostics; tests check that spilling happened). */
export const spillTotals = { stores: 0, writes: 0, bytesWritten: 0, reads: 0, bytesRead: 0 };

const MAX_SPILL_BYTES = 32 * 2 ** 30;

/** The folder spill folders are made in: MOE_WORKBENCH_SPILL_DIR, else the OS temp folder. */
export function spillParent(): string {
  return process.env['MOE_WORKBENCH_SPILL_DIR'] || os.tmpdir();
}

/** Default cap on a store's disk bytes: half the free space of `parent`, at most 32 GiB. */
export function spillCapBytes(parent = spillParent()): number {
  try {
    const s = fs.statfsSync(parent);
    return Math.min(MAX_SPILL_BYTES, Math.floor((Number(s.bavail) * Number(s.bsize)) / 2));
  } catch {
    return 0; // no such folder: nothing can be spilled there (the first write names the problem)
  }
}

export class ActivationSpill {
  private dir: string | undefined;
  private fd: number | undefined;
  private end = 0;
  private readonly free = new Map<number, number[]>();
  private readonly parent: string;
  private cap: number;
  /** This store's counters. */
  readonly stats = { writes: 0, bytesWritten: 0, reads: 0, bytesRead: 0, fileBytes: 0 };

  constructor(opts: SpillOptions = {}) {
    this.parent = opts.parent ?? spillParent();
    this.cap = opts.capBytes ?? -1; // the default is measured when the folder is made
  }

  /** The private folder, once something was written (undefined before and after dispose). */
  get folder(): string | undefined {
    return this.dir;
  }

  write(a: SpillArray): SpillRef {
    const fd = this.open();
    const bytes = a.byteLength;
    let offset = this.free.get(bytes)?.pop();
    if (offset === undefined) {
      if (this.end + bytes > this.cap) {
        throw new MoeError('E_IO', `activation spill folder ${this.dir}: holding ${formatBytes(this.end)} and needing ${formatBytes(bytes)} more exceeds its cap of ${formatBytes(this.cap)} (half the free disk space there, at most 32 GiB). Use smaller batches of data, or set MOE_WORKBENCH_SPILL_DIR to a folder on a disk with more free space.`, this.dir);
      }
      offset = this.end;
      this.end += bytes;
      this.stats.fileBytes = this.end;
    }
    const view = new Uint8Array(a.buffer, a.byteOffset, bytes);
    try {
      for (let done = 0; done < bytes; ) done += fs.writeSync(fd, view, done, bytes - done, offset + done);
    } catch (e) {
      throw new MoeError('E_IO', `could not write activations to the spill folder ${this.dir}: ${(e as Error).message}`, this.dir);
    }
    this.stats.writes++;
    this.stats.bytesWritten += bytes;
    spillTotals.writes++;
    spillTotals.bytesWritten += bytes;
    return { kind: a instanceof Float32Array ? 'f32' : 'i64', offset, bytes };
  }

  /** A fresh array with the contents written at `ref`. */
  read(ref: SpillRef): SpillArray {
    if (this.fd === undefined) throw new MoeError('E_INTERNAL', 'activation spill: read from a store that holds nothing');
    const buf = new ArrayBuffer(ref.bytes);
    const view = new Uint8Array(buf);
    for (let done = 0; done < ref.bytes; ) {
      const n = fs.readSync(this.fd, view, done, ref.bytes - done, ref.offset + done);
      if (n === 0) throw new MoeError('E_IO', `activation spill file in ${this.dir} ended early (offset ${ref.offset + done})`, this.dir);
      done += n;
    }
    this.stats.reads++;
    this.stats.bytesRead += ref.bytes;
    spillTotals.reads++;
    spillTotals.bytesRead += ref.bytes;
    return ref.kind === 'f32' ? new Float32Array(buf) : new BigInt64Array(buf);
  }

  /** The slot at `ref` may be reused by the next write of the same size. */
  release(ref: SpillRef): void {
    const list = this.free.get(ref.bytes);
    if (list) list.push(ref.offset);
    else this.free.set(ref.bytes, [ref.offset]);
  }

  /** Closes and removes the folder. Idempotent; the store can be written again (a new folder). */
  dispose(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    if (this.dir !== undefined) removeFolder(this.dir);
    this.dir = undefined;
    this.end = 0;
    this.free.clear();
  }

  private open(): number {
    if (this.fd !== undefined) return this.fd;
    let dir: string;
    try {
      dir = fs.mkdtempSync(path.join(this.parent, 'moe-workbench-spill-'));
    } catch (e) {
      throw new MoeError('E_IO', `could not make an activation spill folder in ${this.parent} (MOE_WORKBENCH_SPILL_DIR, else the temp folder): ${(e as Error).message}`, this.parent);
    }
    live.add(dir);
    if (this.cap < 0) this.cap = spillCapBytes(this.parent);
    installExitHandler();
    this.dir = dir;
    this.fd = fs.openSync(path.join(dir, 'activations.bin'), 'w+');
    spillTotals.stores++;
    return this.fd;
  }
}

/**
 * Arrays kept by key in memory while they fit `memoryBytes`, the rest in a spill store (made only when
 * needed). For results one pass produces and a later pass consumes (evaluation: the baseline's logits).
 */
export class HeldArrays {
  private readonly mem = new Map<number, Float32Array>();
  private readonly disk = new Map<number, SpillRef>();
  private memBytes = 0;
  readonly spill: ActivationSpill;

  constructor(
    private readonly memoryBytes: number,
    opts: SpillOptions = {},
  ) {
    this.spill = new ActivationSpill(opts);
  }

  put(key: number, a: Float32Array): void {
    if (this.memBytes + a.byteLength <= this.memoryBytes) {
      this.mem.set(key, a);
      this.memBytes += a.byteLength;
    } else this.disk.set(key, this.spill.write(a));
  }

  /** The array put under `key`, forgotten by the store. */
  take(key: number): Float32Array {
    const m = this.mem.get(key);
    if (m) {
      this.mem.delete(key);
      this.memBytes -= m.byteLength;
      return m;
    }
    const ref = this.disk.get(key);
    if (!ref) throw new MoeError('E_INTERNAL', `held arrays: nothing under key ${key}`);
    this.disk.delete(key);
    const a = this.spill.read(ref) as Float32Array;
    this.spill.release(ref);
    return a;
  }

  dispose(): void {
    this.mem.clear();
    this.disk.clear();
    this.spill.dispose();
  }
}

const live = new Set<string>();
let exitHandler = false;

function removeFolder(dir: string): void {
  live.delete(dir);
  fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** One handler for every store: folders still live when the process exits are removed. */
function installExitHandler(): void {
  if (exitHandler) return;
  exitHandler = true;
  process.on('exit', () => {
    for (const dir of [...live]) {
      try {
        removeFolder(dir);
      } catch {
        // Best effort at exit: nothing else can be done.
      }
    }
  });
}
