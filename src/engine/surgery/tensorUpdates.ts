// The tensors of a checkpoint in which some tensors get new values of the same name, dtype and shape
// (fine-tuned weights, an applied adapter): every other tensor copied byte for byte from the source.
import { MoeError } from '../../protocol/moeError';
import type { Checkpoint } from '../model/checkpoint';
import { isStorageDtype, type StorageDtype } from '../model/dtype';
import type { TensorData } from '../model/safetensorsWriter';
import { naturalCompare, type PlannedTensor } from './planTensors';

/** New values of a tensor: float32 (rounded to the stored dtype when written) or the stored bytes. */
export type TensorUpdate = () => TensorData;

/** Throws E_INPUT naming a tensor that the source does not hold, E_UNSUPPORTED for one that cannot be written. */
export function planTensorUpdates(ckpt: Checkpoint, updates: ReadonlyMap<string, TensorUpdate>): PlannedTensor[] {
  for (const name of updates.keys()) {
    if (!ckpt.tensors.has(name)) throw new MoeError('E_INPUT', `${ckpt.dir}: the checkpoint has no tensor "${name}" to update`, ckpt.dir);
  }
  const out: PlannedTensor[] = [];
  for (const [name, loc] of ckpt.tensors) {
    const { dtype, shape, byteLength } = loc.entry;
    const update = updates.get(name);
    if (update && !isStorageDtype(dtype)) throw new MoeError('E_UNSUPPORTED', `${loc.file.path}: tensor "${name}" has dtype ${dtype}; only F32, F16 and BF16 tensors can be updated`, loc.file.path);
    if (!isStorageDtype(dtype)) throw new MoeError('E_UNSUPPORTED', `${loc.file.path}: tensor "${name}" has dtype ${dtype}; only F32, F16 and BF16 tensors can be written (file: ${loc.file.path})`, loc.file.path);
    out.push({ name, dtype: dtype as StorageDtype, shape, byteLength, produce: update ?? (() => loc.file.readRaw(name)) });
  }
  return out.sort((a, b) => naturalCompare(a.name, b.name));
}
