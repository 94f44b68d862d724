// The gradients command's output: for every Hugging Face tensor that holds a trainable parameter, an F32
// tensor of the same name and shape, plus the scalars `loss` and `aux_loss`. A fused tensor (GraniteMoE's
// input_linear/output_linear, [E, ...]) is written whole, its frozen experts' slices zero, so a script can
// add it to the weight as is. The file appears all at once: it is written inside a marked staging folder
// beside the destination (removed on failure, Ctrl-C or by the next run after a kill) and renamed into place.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { MoeError } from '../../protocol/moeError';
import { syncDir } from '../atomicFile';
import type { ModelConfig } from '../model/modelConfig';
import { writeSafetensors, type TensorToWrite } from '../model/safetensorsWriter';
import { type ExpectedTensor, expectedTensors, expertLayout } from '../model/tensorSpec';
import { trackPartial } from '../surgery/stagingCleanup';
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

/** Writes the file; returns the gradient tensors' names as written (the scalars not included). */
export async function writeGradientsFile(out: string, c: ModelConfig, set: TrainableSet, g: GradientsToWrite, metadata: Record<string, string>, beforeTensor?: () => Promise<void>): Promise<string[]> {
  const file = path.resolve(out);
  const expected = gradientFileTensors(c, set);
  const tensors: TensorToWrite[] = expected.map((t) => ({ name: t.name, dtype: 'F32', shape: t.shape, data: gradientData(c, set, t, g.grads.get(t.name)) }));
  tensors.push({ name: LOSS_TENSOR, dtype: 'F32', shape: [], data: Float32Array.of(g.loss) });
  tensors.push({ name: AUX_LOSS_TENSOR, dtype: 'F32', shape: [], data: Float32Array.of(g.auxLoss) });
  const parent = path.dirname(file);
  removeStaleStaging(parent);
  const staging = path.join(parent, `.${path.basename(file)}.partial-${randomBytes(4).toString('hex')}`);
  const untrack = trackPartial(staging);
  try {
    try {
      await fsp.mkdir(staging);
      writeStagingMarker(staging);
    } catch (e) {
      throw new MoeError('E_IO', `cannot write ${file}: cannot create a folder in ${parent}: ${(e as Error).message}`, file);
    }
    const inside = path.join(staging, path.basename(file));
    await writeSafetensors(inside, tensors, { format: 'pt', ...metadata }, beforeTensor);
    try {
      await fsp.rename(inside, file);
    } catch (e) {
      throw new MoeError('E_IO', `cannot move the written gradients to ${file}: ${(e as Error).message}`, file);
    }
    await syncDir(parent);
  } finally {
    await fsp.rm(path.join(staging, STAGING_MARKER), { force: true }).catch(() => undefined);
    await fsp.rm(staging, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
    untrack();
  }
  return expected.map((t) => t.name);
}

/** The gradient as written: checked against the Hub shape; a fused tensor's frozen experts zeroed. */
function gradientData(c: ModelConfig, set: TrainableSet, t: ExpectedTensor, g: GradientTensor | undefined): Float32Array {
  if (!g) throw new MoeError('E_INTERNAL', `the gradient computation returned no gradient for ${t.name}`);
  if (g.dims.length !== t.shape.length || g.dims.some((d, i) => d !== t.shape[i])) {
    throw new MoeError('E_INTERNAL', `the gradient of ${t.name} has shape [${g.dims.join(', ')}], the tensor [${t.shape.join(', ')}]`);
  }
  const m = /^model\.layers\.(\d+)\./.exec(t.name);
  if (!m) return g.data;
  const L = Number(m[1]);
  const lay = expertLayout(c, L);
  if (lay.kind !== 'fused' || (t.name !== lay.gateUp && t.name !== lay.down)) return g.data;
  // Frozen experts get no gradient, whatever the computation left in their slices.
  const trainable = set.experts.get(L) ?? new Set<number>();
  const E = t.shape[0]!;
  const per = g.data.length / E;
  let data = g.data;
  for (let e = 0; e < E; e++) {
    if (trainable.has(e)) continue;
    const slice = data.subarray(e * per, (e + 1) * per);
    if (slice.every((v) => v === 0)) continue;
    if (data === g.data) data = g.data.slice(); // the caller's array stays as it was
    data.fill(0, e * per, (e + 1) * per);
  }
  return data;
}
