// The gradients command's output: for every Hugging Face tensor that holds a trainable parameter, an F32
// tensor of the same name and shape, plus the scalars `loss` and `aux_loss`. A fused tensor (GraniteMoE's
// input_linear/output_linear, [E, ...]) is written whole, its frozen experts' slices zero, so a script can
// add it to the weight as is. The file is streamed: its layout is fixed before the computation
// (gradientsFileLayout.ts) and each gradient is written into its place as it arrives, so only the gradients
// in flight are held, not all of them (~25 GB for OLMoE's experts). It appears all at once: it is written
// inside a marked staging folder beside the destination (removed on failure, Ctrl-C or by the next run after
// a kill) and renamed into place.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { MoeError } from '../../protocol/moeError';
import { syncDir } from '../atomicFile';
import type { ModelConfig } from '../model/modelConfig';
import { type ExpectedTensor, expectedTensors, expertLayout } from '../model/tensorSpec';
import { trackPartial } from '../surgery/stagingCleanup';
import { type GradientSlot, gradientsLayout } from './gradientsFileLayout';
import { removeStaleStaging, STAGING_MARKER, writeStagingMarker } from '../surgery/staleStaging';
import type { TrainableSet } from './trainableSet';

export interface GradientTensor {
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

export interface GradientsToWrite {
  readonly loss: number;
  readonly auxLoss: number;
  readonly grads: ReadonlyMap<string, GradientTensor>;
}

/** The names of the two scalars; no Hub tensor is named like this. */
export const LOSS_TENSOR = 'loss';
export const AUX_LOSS_TENSOR = 'aux_loss';

/** The Hub tensors holding a trainable parameter of `set`, with their shapes, in the model's tensor order. */
export function gradientFileTensors(c: ModelConfig, set: TrainableSet): ExpectedTensor[] {
  const wanted = new Set(set.tensors);
  for (const [L, es] of set.experts) {
    if (es.size === 0) continue;
    const lay = expertLayout(c, L);
    if (lay.kind === 'fused') {
      wanted.add(lay.gateUp);
      wanted.add(lay.down);
    } else {
      for (const e of es) for (const n of [lay.gate(e), lay.up(e), lay.down(e)]) wanted.add(n);
    }
  }
  const out = expectedTensors(c).filter((t) => wanted.delete(t.name));
  if (wanted.size > 0) throw new MoeError('E_INTERNAL', `trainable tensors not in the model: ${[...wanted].slice(0, 5).join(', ')}`);
  return out;
}

/**
 * Refuses, before any computation, an output the write would fail on: a folder, a missing or read-only
 * parent folder. MoeError('E_IO') naming the path.
 */
export function checkGradientsOut(out: string): void {
  const file = path.resolve(out);
  const parent = path.dirname(file);
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(file);
  } catch {
    st = undefined;
  }
  if (st?.isDirectory()) throw new MoeError('E_IO', `${file} is a folder; --out names the .safetensors file to write`, file);
  try {
    if (!fs.statSync(parent).isDirectory()) throw new Error('not a folder');
    fs.accessSync(parent, fs.constants.W_OK);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (e as NodeJS.ErrnoException).code === 'EACCES' ? 'is not writable' : `cannot be written to (${(e as Error).message})`;
    throw new MoeError('E_IO', `cannot write ${file}: the folder ${parent} ${why}`, file);
  }
}

/** What only the end of the computation knows. */
export interface GradientsEnd {
  readonly loss: number;
  readonly auxLoss: number;
  /** The header is sized for the bound given to streamGradientsFile; this may be shorter, not longer. */
  readonly metadata: Record<string, string>;
}

/** Writes one gradient into its place in the file; E_INTERNAL for a tensor not in the file, a second time, or of the wrong shape. */
export type GradientSink = (name: string, g: GradientTensor) => Promise<void>;

/**
 * The longest JSON rendering of a float64 (25 characters): a placeholder for a number in the metadata
 * bound when the number is known only at the end.
 */
export const LONGEST_JSON_NUMBER = -0.0000012345678901234567;

/** Bytes per write call: well below Node's 2 GiB limit on a single write. */
const MAX_WRITE_CHUNK = 1 << 30;

/**
 * Creates the file in a staging folder, lets `produce` deliver every gradient to the sink (in any order),
 * then writes the scalars and the header, fsyncs and renames it into place. If `produce` or a write
 * throws, nothing is left: no file, no staging folder, an existing file untouched. Returns the gradient
 * tensors' names as written (the scalars not included), in the model's tensor order.
 */
export async function streamGradientsFile(out: string, c: ModelConfig, set: TrainableSet, metadataBound: Record<string, string>, produce: (sink: GradientSink) => Promise<GradientsEnd>): Promise<string[]> {
  const file = path.resolve(out);
  const expected = gradientFileTensors(c, set);
  const layout = gradientsLayout([...expected, { name: LOSS_TENSOR, shape: [] }, { name: AUX_LOSS_TENSOR, shape: [] }], metadataBound);
  const parent = path.dirname(file);
  removeStaleStaging(parent);
  const staging = path.join(parent, `.${path.basename(file)}.partial-${randomBytes(4).toString('hex')}`);
  const untrack = trackPartial(staging);
  let fh: fsp.FileHandle | undefined;
  const io = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      throw e instanceof MoeError ? e : new MoeError('E_IO', `cannot write ${file}: ${what}: ${(e as Error).message}`, file);
    }
  };
  const put = async (bytes: Uint8Array, position: number): Promise<void> => {
    for (let done = 0; done < bytes.length; ) {
      const { bytesWritten } = await fh!.write(bytes, done, Math.min(bytes.length - done, MAX_WRITE_CHUNK), position + done);
      if (bytesWritten <= 0) throw new Error('a write made no progress');
      done += bytesWritten;
    }
  };
  try {
    const inside = path.join(staging, path.basename(file));
    await io(`cannot create a folder in ${parent}`, async () => {
      await fsp.mkdir(staging);
      writeStagingMarker(staging);
    });
    await io('creating the file', async () => {
      fh = await fsp.open(inside, 'wx');
      // The full size at once: what is not written (frozen experts' slices of a fused tensor) reads as zero.
      await fh.truncate(layout.fileBytes);
    });
    const byName = new Map(expected.map((t) => [t.name, t]));
    const written = new Set<string>();
    const sink: GradientSink = async (name, g) => {
      const t = byName.get(name);
      if (!t) throw new MoeError('E_INTERNAL', `the gradient computation returned a gradient for ${name}, which is not trainable`);
      if (written.has(name)) throw new MoeError('E_INTERNAL', `the gradient computation returned ${name} twice`);
      checkShape(t, g);
      written.add(name);
      const slot = layout.slots.get(name)!;
      await io(`writing ${name}`, async () => {
        for (const [from, to] of writtenRanges(c, set, slot, g.data.length)) {
          await put(new Uint8Array(g.data.buffer, g.data.byteOffset + from * 4, (to - from) * 4), slot.position + from * 4);
        }
      });
    };
    const end = await produce(sink);
    const missing = expected.find((t) => !written.has(t.name));
    if (missing) throw new MoeError('E_INTERNAL', `the gradient computation returned no gradient for ${missing.name}`);
    const header = layout.header(end.metadata);
    await io('finishing the file', async () => {
      await put(new Uint8Array(Float32Array.of(end.loss).buffer), layout.slots.get(LOSS_TENSOR)!.position);
      await put(new Uint8Array(Float32Array.of(end.auxLoss).buffer), layout.slots.get(AUX_LOSS_TENSOR)!.position);
      await put(header, 0);
      await fh!.sync();
      await fh!.close();
      fh = undefined;
    });
    try {
      await fsp.rename(inside, file);
    } catch (e) {
      throw new MoeError('E_IO', `cannot move the written gradients to ${file}: ${(e as Error).message}`, file);
    }
    await syncDir(parent);
  } finally {
    await fh?.close().catch(() => undefined);
    await fsp.rm(path.join(staging, STAGING_MARKER), { force: true }).catch(() => undefined);
    await fsp.rm(staging, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
    untrack();
  }
  return expected.map((t) => t.name);
}

/**
 * Writes gradients held in memory (the layout and bytes of a streamed file with the same metadata; with
 * it, byte for byte what writeSafetensors writes). `beforeTensor` is awaited before each tensor.
 */
export async function writeGradientsFile(out: string, c: ModelConfig, set: TrainableSet, g: GradientsToWrite, metadata: Record<string, string>, beforeTensor?: () => Promise<void>): Promise<string[]> {
  return streamGradientsFile(out, c, set, metadata, async (sink) => {
    for (const t of gradientFileTensors(c, set)) {
      const grad = g.grads.get(t.name);
      if (!grad) continue; // reported as missing after the others are written
      await beforeTensor?.();
      await sink(t.name, grad);
    }
    return { loss: g.loss, auxLoss: g.auxLoss, metadata };
  });
}

function checkShape(t: ExpectedTensor, g: GradientTensor): void {
  if (g.dims.length !== t.shape.length || g.dims.some((d, i) => d !== t.shape[i]) || g.data.length !== t.shape.reduce((a, b) => a * b, 1)) {
    throw new MoeError('E_INTERNAL', `the gradient of ${t.name} has shape [${g.dims.join(', ')}], the tensor [${t.shape.join(', ')}]`);
  }
}

/**
 * The element ranges of a gradient that are written: all of it, except a fused tensor's frozen experts,
 * which stay zero whatever the computation left in their slices (the caller's array is never changed).
 */
function writtenRanges(c: ModelConfig, set: TrainableSet, slot: GradientSlot, numel: number): [number, number][] {
  const m = /^model\.layers\.(\d+)\./.exec(slot.name);
  if (!m) return [[0, numel]];
  const L = Number(m[1]);
  const lay = expertLayout(c, L);
  if (lay.kind !== 'fused' || (slot.name !== lay.gateUp && slot.name !== lay.down)) return [[0, numel]];
  const trainable = set.experts.get(L) ?? new Set<number>();
  const E = slot.shape[0]!;
  const per = numel / E;
  const out: [number, number][] = [];
  for (let e = 0; e < E; e++) if (trainable.has(e)) out.push([e * per, (e + 1) * per]);
  return out;
}
