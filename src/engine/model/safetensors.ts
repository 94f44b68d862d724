// Defensive safetensors reader. The file may be hostile or damaged: the header is validated completely at
// open time (sizes, offsets, overlaps, truncation), and weights are read lazily with positional reads
// straight into the caller's memory, so opening a multi-GB shard costs one small read.
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { MoeError } from '../../protocol/moeError';
import { HOST_IS_LITTLE_ENDIAN, bf16ToF32, dtypeBits, f16ToF32, isStorageDtype } from './dtype';

export interface TensorEntry {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Absolute position of the first byte in the file. */
  readonly byteOffset: number;
  readonly byteLength: number;
}

export interface SafetensorsFile {
  readonly path: string;
  readonly fileSize: number;
  readonly tensors: ReadonlyMap<string, TensorEntry>;
  readonly metadata: Readonly<Record<string, string>>;
  /**
   * Reads a tensor as float32, converting F16/BF16. Reads straight into `out` (at `outOffset` elements) when
   * given. Returns the elements written: a view into `out`, or a new array.
   */
  readF32(name: string, out?: Float32Array, outOffset?: number): Float32Array;
  /** Raw bytes as stored (for byte-exact copying). */
  readRaw(name: string): Uint8Array;
  close(): void;
}

/** Real headers are a few MB at most; anything larger is a corrupt length, not something to allocate. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;
/** Per readSync call: stays well below Node's 2 GiB limit on a single read. */
const MAX_READ_CHUNK = 1 << 30;
/** Elements per F16/BF16 conversion chunk: bounds the scratch buffer (2 MiB) whatever the tensor size. */
const CONVERT_CHUNK = 1 << 20;

function fail(file: string, problem: string): MoeError {
  return new MoeError('E_SAFETENSORS', `${nodePath.basename(file)}: ${problem} (file: ${file})`, file);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function isNonNegativeSafeInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Reads exactly `length` bytes at `position`, looping over short reads; throws when the file ends first. */
function readFully(fd: number, file: string, dst: Uint8Array, position: number, what: string): void {
  let done = 0;
  while (done < dst.length) {
    const len = Math.min(dst.length - done, MAX_READ_CHUNK);
    let n: number;
    try {
      n = fs.readSync(fd, dst, done, len, position + done);
    } catch (e) {
      throw fail(file, `reading ${what} failed: ${(e as Error).message}`);
    }
    if (n === 0) {
      throw fail(file, `the file is truncated: ${what} needs bytes up to ${position + dst.length}, the file ended at ${position + done}`);
    }
    done += n;
  }
}

interface RawEntry {
  readonly entry: TensorEntry;
  readonly begin: number;
  readonly end: number;
}

/** Validates one tensor entry of the header (everything that does not depend on other entries). */
function parseEntry(file: string, name: string, v: unknown, dataStart: number, fileSize: number): RawEntry {
  const where = `tensor "${name}"`;
  if (!isPlainObject(v)) throw fail(file, `${where}: entry must be an object, got ${describe(v)}`);
  const { dtype, shape, data_offsets: offsets } = v;
  if (typeof dtype !== 'string') throw fail(file, `${where}: "dtype" must be a string, got ${describe(dtype)}`);
  const bits = dtypeBits(dtype);
  if (bits === undefined) throw fail(file, `${where}: unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape)) throw fail(file, `${where}: "shape" must be an array, got ${describe(shape)}`);
  let numel = 1;
  for (const d of shape as unknown[]) {
    if (!isNonNegativeSafeInt(d)) throw fail(file, `${where}: shape ${JSON.stringify(shape)} has a dimension that is not a non-negative integer (${JSON.stringify(d)})`);
    numel *= d;
    if (!Number.isSafeInteger(numel)) throw fail(file, `${where}: shape ${JSON.stringify(shape)} has more elements than can be addressed`);
  }
  const dims = shape as number[];
  if (!Array.isArray(offsets) || offsets.length !== 2) {
    throw fail(file, `${where}: "data_offsets" must be [begin, end], got ${JSON.stringify(offsets) ?? describe(offsets)}`);
  }
  const [begin, end] = offsets as unknown[];
  if (!isNonNegativeSafeInt(begin) || !isNonNegativeSafeInt(end)) {
    throw fail(file, `${where}: data_offsets ${JSON.stringify(offsets)} must be non-negative integers`);
  }
  if (begin > end) throw fail(file, `${where}: data_offsets [${begin}, ${end}] are reversed (begin > end)`);
  // BigInt: numel * bits can pass 2^53 for a hostile shape, and a rounded product could match by accident.
  const totalBits = BigInt(numel) * BigInt(bits);
  const needed = totalBits / 8n;
  if (totalBits % 8n !== 0n || BigInt(end - begin) !== needed) {
    throw fail(
      file,
      `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but shape ${fmtShape(dims)} of ${dtype} ` +
        `(${numel} elements × ${bits / 8} bytes) needs ${needed} bytes`,
    );
  }
  const dataSize = fileSize - dataStart;
  if (end > dataSize) {
    const expected = (BigInt(dataStart) + BigInt(end)).toString();
    throw fail(
      file,
      `${where}: data_offsets [${begin}, ${end}] reach beyond the end of the data section (${dataSize} bytes): ` +
        `the file is truncated (expected at least ${expected} bytes, the file has ${fileSize})`,
    );
  }
  const entry: TensorEntry = Object.freeze({
    name,
    dtype,
    shape: Object.freeze(dims.slice()),
    byteOffset: dataStart + begin,
    byteLength: end - begin,
  });
  return { entry, begin, end };
}

/** Rejects any two tensors sharing bytes; empty tensors occupy nothing and cannot overlap. */
function checkOverlaps(file: string, raws: RawEntry[]): void {
  const sorted = raws.filter((r) => r.end > r.begin).sort((a, b) => a.begin - b.begin || a.end - b.end);
  let furthest: RawEntry | undefined;
  for (const r of sorted) {
    if (furthest !== undefined && r.begin < furthest.end) {
      throw fail(
        file,
        `tensors "${furthest.entry.name}" (data_offsets [${furthest.begin}, ${furthest.end}]) and ` +
          `"${r.entry.name}" (data_offsets [${r.begin}, ${r.end}]) overlap`,
      );
    }
    if (furthest === undefined || r.end > furthest.end) furthest = r;
  }
}

function parseMetadata(file: string, v: unknown): Record<string, string> {
  if (!isPlainObject(v)) throw fail(file, `"__metadata__" must be an object of strings, got ${describe(v)}`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') throw fail(file, `"__metadata__" entry "${k}" must be a string, got ${describe(val)}`);
    // defineProperty: a key named "__proto__" must stay data, not replace the prototype.
    Object.defineProperty(out, k, { value: val, enumerable: true, writable: false, configurable: false });
  }
  return Object.freeze(out);
}

function readHeader(fd: number, file: string, fileSize: number): { header: Record<string, unknown>; dataStart: number } {
  if (fileSize < 8) throw fail(file, `the file is ${fileSize} bytes, shorter than the 8-byte header length`);
  const lenBuf = Buffer.alloc(8);
  readFully(fd, file, lenBuf, 0, 'the header length');
  const n64 = lenBuf.readBigUInt64LE(0);
  if (n64 === 0n) throw fail(file, 'header length is 0');
  if (n64 > BigInt(fileSize - 8)) {
    throw fail(file, `header length ${n64} exceeds the file size ${fileSize} (at most ${fileSize - 8} bytes are left after the length)`);
  }
  const n = Number(n64); // < fileSize, so exact
  if (n > MAX_HEADER_BYTES) throw fail(file, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const headerBuf = Buffer.alloc(n);
  readFully(fd, file, headerBuf, 8, 'the header');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBuf);
  } catch (e) {
    throw fail(file, `header is not valid UTF-8: ${(e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw fail(file, `header is not valid JSON: ${(e as Error).message}`);
  }
  if (!isPlainObject(parsed)) throw fail(file, `header must be a JSON object, got ${describe(parsed)}`);
  return { header: parsed, dataStart: 8 + n };
}

function parseFile(fd: number, file: string): { fileSize: number; tensors: Map<string, TensorEntry>; metadata: Record<string, string> } {
  let stat: fs.Stats;
  try {
    stat = fs.fstatSync(fd);
  } catch (e) {
    throw fail(file, `could not stat the file: ${(e as Error).message}`);
  }
  if (!stat.isFile()) throw fail(file, 'not a regular file');
  const fileSize = stat.size;
  const { header, dataStart } = readHeader(fd, file, fileSize);
  let metadata: Record<string, string> = Object.freeze({});
  const raws: RawEntry[] = [];
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') metadata = parseMetadata(file, v);
    else raws.push(parseEntry(file, name, v, dataStart, fileSize));
  }
  checkOverlaps(file, raws);
  const tensors = new Map<string, TensorEntry>();
  for (const r of raws) tensors.set(r.entry.name, r.entry);
  return { fileSize, tensors, metadata };
}

class SafetensorsReader implements SafetensorsFile {
  private fd: number | undefined;

  constructor(
    readonly path: string,
    fd: number,
    readonly fileSize: number,
    readonly tensors: ReadonlyMap<string, TensorEntry>,
    readonly metadata: Readonly<Record<string, string>>,
  ) {
    this.fd = fd;
  }

  private openFd(action: string): number {
    if (this.fd === undefined) throw fail(this.path, `cannot ${action}: the file was closed`);
    return this.fd;
  }

  private entry(name: string): TensorEntry {
    const e = this.tensors.get(name);
    if (e === undefined) {
      throw new MoeError('E_WEIGHTS', `${nodePath.basename(this.path)}: no tensor "${name}" in this file (file: ${this.path})`, this.path);
    }
    return e;
  }

  readF32(name: string, out?: Float32Array, outOffset = 0): Float32Array {
    const fd = this.openFd(`read tensor "${name}"`);
    const e = this.entry(name);
    const dtype = e.dtype;
    if (!isStorageDtype(dtype)) {
      throw fail(this.path, `dtype ${dtype} of tensor "${name}" is not supported (supported: F32, F16, BF16)`);
    }
    if (!HOST_IS_LITTLE_ENDIAN) throw new MoeError('E_UNSUPPORTED', 'reading weights needs a little-endian host');
    const numel = e.byteLength / (dtype === 'F32' ? 4 : 2);
    let dst: Float32Array;
    if (out === undefined) {
      dst = new Float32Array(numel);
    } else {
      if (!Number.isSafeInteger(outOffset) || outOffset < 0 || outOffset + numel > out.length) {
        throw new MoeError(
          'E_INTERNAL',
          `tensor "${name}" has ${numel} elements, which do not fit in the output (length ${out.length}) at offset ${outOffset} (file: ${this.path})`,
          this.path,
        );
      }
      dst = out.subarray(outOffset, outOffset + numel);
    }
    const what = `tensor "${name}"`;
    if (dtype === 'F32') {
      // Little-endian float32 on disk is the in-memory layout: read into the destination's bytes directly.
      readFully(fd, this.path, new Uint8Array(dst.buffer, dst.byteOffset, e.byteLength), e.byteOffset, what);
      return dst;
    }
    const convert = dtype === 'BF16' ? bf16ToF32 : f16ToF32;
    const scratch = new Uint16Array(Math.min(numel, CONVERT_CHUNK));
    const scratchBytes = new Uint8Array(scratch.buffer);
    for (let i = 0; i < numel; i += CONVERT_CHUNK) {
      const count = Math.min(CONVERT_CHUNK, numel - i);
      readFully(fd, this.path, scratchBytes.subarray(0, count * 2), e.byteOffset + i * 2, what);
      convert(scratch.subarray(0, count), dst.subarray(i, i + count));
    }
    return dst;
  }

  readRaw(name: string): Uint8Array {
    const fd = this.openFd(`read tensor "${name}"`);
    const e = this.entry(name);
    const bytes = new Uint8Array(e.byteLength);
    readFully(fd, this.path, bytes, e.byteOffset, `tensor "${name}"`);
    return bytes;
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    fs.closeSync(fd);
  }
}

/** Opens and validates a safetensors file; throws MoeError('E_SAFETENSORS') naming the file and the problem. */
export function openSafetensors(path: string): SafetensorsFile {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    throw fail(path, `could not open the file: ${(e as Error).message}`);
  }
  try {
    const { fileSize, tensors, metadata } = parseFile(fd, path);
    return new SafetensorsReader(path, fd, fileSize, tensors, metadata);
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}
