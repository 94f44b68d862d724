// Routed expert e's weights as a graph input of their own (the explicit-expert graphs: profiling's expert
// norms and training), served as a view of the layer's fc1 [E, 2I, H] / fc2 [E, H, I] buffer. ONNX Runtime
// reads a typed-array view in place (checked on onnxruntime-node 1.30: a 256 MiB view of a 1 GiB buffer,
// peak RSS +1 MiB), where a Gather of the expert out of the whole tensor copies it into the arena.
import { parseExpertSliceName } from '../graph/trainableMoeBlock';
import { expertFc1Name, expertFc2Name } from './engineTensorNames';
import type { WeightTensor } from './weightStore';

/** Weight `name` from `get`, or, for a per-expert slice name, the expert's rows of fc1/fc2 without a copy. */
export function weightOrExpertSlice(get: (name: string) => WeightTensor, name: string): WeightTensor {
  const slice = parseExpertSliceName(name);
  if (!slice) return get(name);
  const all = get(slice.part === 'fc1' ? expertFc1Name(slice.layer) : expertFc2Name(slice.layer));
  const [, rows, cols] = all.dims as [number, number, number];
  const n = rows * cols;
  return { dims: [rows, cols], data: all.data.subarray(slice.expert * n, (slice.expert + 1) * n) };
}
