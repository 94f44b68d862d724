// A worker thread that prepares the next unit's float32 weights while the current unit runs.
// onnxruntime-node 1.30 runs a session on the JS thread (InferenceSession.run defers a synchronous native
// call with setImmediate; measured: a 100 ms JS loop started after run() adds its full 100 ms), so
// conversion on the main thread cannot overlap compute. It also refuses SharedArrayBuffer-backed inputs
// ("Invalid argument"), so the buffer being filled is an ordinary ArrayBuffer *transferred* to the worker
// and back (no copy). The worker reads 16-bit tensors held in SharedArrayBuffers (cached mode) or from the
// files with its own descriptors (streaming), and performs the same row copies as tensorSource.ts: 16-bit
// blocks through its own instance of the main thread's wasm kernel (widener.ts, same module), else the
// loops of rowConversion.ts with the main thread's F16 table, so both convert bit for bit alike.
import { Worker } from 'node:worker_threads';
import { MoeError } from '../../protocol/moeError';
import { f16BitsTable } from './rowConversion';
import { compileWiden, type WasmModule, WIDEN_BLOCK, WIDEN_DST } from './widenWasm';
import type { Located, StoredTensor } from './tensorSource';
import type { RowCopy } from './unitTensors';


export interface FillItem {
  readonly copies: readonly RowCopy[];
  /** Element offset of the tensor in the buffer. */
  readonly at: number;
}

const WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const where = new Map(workerData.where);
const held = new Map(workerData.held.map(([n, t]) => [n, { dtype: t.dtype, data: t.dtype === 'F32' ? new Float32Array(t.buffer, t.byteOffset, t.length) : new Uint16Array(t.buffer, t.byteOffset, t.length) }]));
const f16 = new Uint32Array(workerData.f16Table);
const fds = new Map();
let scratch = new Uint8Array(0);
// widener.ts's Widener.rows, on this thread's instance of the kernel (absent where wasm is unavailable).
const BLOCK = workerData.widen.block, DST = workerData.widen.dst;
let wk;
try { wk = workerData.widen.module && new WebAssembly.Instance(workerData.widen.module).exports; } catch { wk = undefined; }
const wsrc = wk && new Uint16Array(wk.mem.buffer, 0, BLOCK), wout = wk && new Float32Array(wk.mem.buffer, DST, BLOCK);
function widen(dtype, fill, rowLen, rows, dst, to, stride) {
  const total = rowLen * rows, block = rowLen <= BLOCK ? Math.floor(BLOCK / rowLen) * rowLen : BLOCK;
  const kernel = dtype === 'BF16' ? wk.bf16 : wk.f16;
  for (let e0 = 0; e0 < total; e0 += block) {
    const n = Math.min(block, total - e0);
    fill(wsrc.subarray(0, n), e0);
    kernel(0, DST, (n + 7) >>> 3);
    if (stride === rowLen || rows === 1) { dst.set(wout.subarray(0, n), to + e0); continue; }
    for (let e = e0; e < e0 + n; ) {
      const r = Math.floor(e / rowLen), c = e - r * rowLen, len = Math.min(rowLen - c, e0 + n - e);
      dst.set(wout.subarray(e - e0, e - e0 + len), to + r * stride + c);
      e += len;
    }
  }
}
function convert(dtype, src, dst) {
  if (dtype === 'F32') { dst.set(src); return; }
  const d = new Uint32Array(dst.buffer, dst.byteOffset, src.length);
  const n = src.length;
  if (dtype === 'BF16') { for (let i = 0; i < n; i++) d[i] = src[i] << 16; }
  else { for (let i = 0; i < n; i++) d[i] = f16[src[i]]; }
}
// copyRows of rowConversion.ts: one tight loop per row, no views per row.
function copyRows(dtype, s, from, rowLen, rows, dst, to, stride) {
  if (dtype === 'F32') { for (let r = 0; r < rows; r++) dst.set(s.subarray(from + r * rowLen, from + (r + 1) * rowLen), to + r * stride); return; }
  const d = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  if (dtype === 'BF16') {
    for (let r = 0; r < rows; r++) { const si = from + r * rowLen, di = to + r * stride; for (let j = 0; j < rowLen; j++) d[di + j] = s[si + j] << 16; }
  } else {
    for (let r = 0; r < rows; r++) { const si = from + r * rowLen, di = to + r * stride; for (let j = 0; j < rowLen; j++) d[di + j] = f16[s[si + j]]; }
  }
}
function read(l, name, dst, offset) {
  let fd = fds.get(l.path);
  if (fd === undefined) { fd = fs.openSync(l.path, 'r'); fds.set(l.path, fd); }
  let done = 0;
  while (done < dst.length) {
    const n = fs.readSync(fd, dst, done, Math.min(dst.length - done, 1 << 30), l.byteOffset + offset + done);
    if (n === 0) throw new Error(l.path + ': the file ended while reading tensor "' + name + '"');
    done += n;
  }
}
function copy(k, dst, base) {
  const h = held.get(k.hf);
  if (h && wk && h.dtype !== 'F32') { widen(h.dtype, (b, at) => b.set(h.data.subarray(k.from + at, k.from + at + b.length)), k.rowLen, k.rows, dst, base + k.to, k.stride); return; }
  if (h) { copyRows(h.dtype, h.data, k.from, k.rowLen, k.rows, dst, base + k.to, k.stride); return; }
  const l = where.get(k.hf);
  if (!l) throw new Error('tensor "' + k.hf + '" is neither held nor in the files');
  const size = l.dtype === 'F32' ? 4 : 2, n = k.rows * k.rowLen;
  if (wk && size === 2) { widen(l.dtype, (b, at) => read(l, k.hf, new Uint8Array(b.buffer, b.byteOffset, b.length * 2), (k.from + at) * 2), k.rowLen, k.rows, dst, base + k.to, k.stride); return; }
  if (k.rows === 1 || k.stride === k.rowLen) {
    const at = dst.byteOffset + (base + k.to) * 4, out = dst.subarray(base + k.to, base + k.to + n);
    if (size === 4) { read(l, k.hf, new Uint8Array(dst.buffer, at, n * 4), k.from * 4); return; }
    read(l, k.hf, new Uint8Array(dst.buffer, at + n * 2, n * 2), k.from * 2);
    convert(l.dtype, new Uint16Array(dst.buffer, at + n * 2, n), out);
    return;
  }
  if (scratch.byteLength < n * size) scratch = new Uint8Array(n * size);
  read(l, k.hf, scratch.subarray(0, n * size), k.from * size);
  const src = size === 4 ? new Float32Array(scratch.buffer, 0, n) : new Uint16Array(scratch.buffer, 0, n);
  copyRows(l.dtype, src, 0, k.rowLen, k.rows, dst, base + k.to, k.stride);
}
parentPort.on('message', (m) => {
  if (m.close) { for (const fd of fds.values()) fs.closeSync(fd); fds.clear(); parentPort.close(); return; }
  try {
    const dst = new Float32Array(m.buffer);
    for (const it of m.items) for (const k of it.copies) copy(k, dst, it.at);
    parentPort.postMessage({ id: m.id, buffer: m.buffer, scratch: scratch.byteLength }, [m.buffer]);
  } catch (e) {
    parentPort.postMessage({ id: m.id, buffer: m.buffer, error: String(e && e.message) }, [m.buffer]);
  }
});
`;


interface Reply {
  readonly id: number;
  readonly buffer: ArrayBuffer;
  readonly error?: string;
  readonly scratch?: number;
}

/** The buffer back (absent only if the thread died) and the error, if filling failed. */
export interface FillResult {
  readonly buffer?: ArrayBuffer;
  readonly error?: MoeError;
}

let compiled: WasmModule | null | undefined;

/** The kernel's module, compiled once and shared with every worker (undefined without wasm SIMD). */
function widenModule(): WasmModule | undefined {
  if (compiled === undefined) compiled = compileWiden() ?? null;
  return compiled ?? undefined;
}

export class ConversionWorker {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, (r: FillResult) => void>();
  private nextId = 0;
  /** Bytes of the worker's scratch block (strided reads in streaming mode). */
  scratchBytes = 0;

  /** `held`: 16-bit tensors in SharedArrayBuffers; `files`: where the others are. */
  constructor(held: ReadonlyMap<string, StoredTensor>, files: ReadonlyMap<string, Located>) {
    const shared = [...held].filter(([, t]) => t.data.buffer instanceof SharedArrayBuffer);
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        where: [...files],
        held: shared.map(([n, t]) => [n, { dtype: t.dtype, buffer: t.data.buffer, byteOffset: t.data.byteOffset, length: t.data.length }]),
        f16Table: f16BitsTable().slice().buffer,
        widen: { module: widenModule(), block: WIDEN_BLOCK, dst: WIDEN_DST },
      },
    });
    this.worker.unref();
    this.worker.on('message', (r: Reply) => {
      const w = this.waiting.get(r.id);
      if (!w) return;
      this.waiting.delete(r.id);
      if (r.scratch !== undefined) this.scratchBytes = r.scratch;
      w(r.error ? { buffer: r.buffer, error: new MoeError('E_WEIGHTS', `preparing weights failed: ${r.error}`) } : { buffer: r.buffer });
    });
    const fail = (why: string): void => {
      // The buffers it held are lost; the store allocates new ones and converts on the main thread.
      this.failed ??= new MoeError('E_INTERNAL', `the weight conversion thread failed: ${why}`);
      for (const w of this.waiting.values()) w({ error: this.failed });
      this.waiting.clear();
    };
    this.worker.on('error', (e) => fail(e.message));
    // A thread that ends without an 'error' (killed, out of memory in a native allocation) must not leave
    // the store waiting for buffers that will never come back.
    this.worker.on('exit', (code) => {
      if (this.waiting.size > 0) fail(`it exited (code ${code}) with ${this.waiting.size} unit(s) in flight`);
      else this.failed ??= new MoeError('E_INTERNAL', `the weight conversion thread exited (code ${code})`);
    });
  }

  private failed: MoeError | undefined;

  /** Fills `buffer` (transferred: detached here until the result gives it back). Never rejects. */
  fill(buffer: ArrayBuffer, items: readonly FillItem[]): Promise<FillResult> {
    if (this.failed) return Promise.resolve({ buffer, error: this.failed });
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.worker.postMessage({ id, buffer, items }, [buffer]);
    });
  }

  async close(): Promise<void> {
    this.worker.postMessage({ close: true });
    await this.worker.terminate();
  }
}
