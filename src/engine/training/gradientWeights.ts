// Where gradient computations read weights from. One small seam: today the engine's float32 WeightStore;
// when weights move to a layer-wise source (issue #9 §1) only `readEngineWeight` changes.
import { parseExpertSliceName } from '../graph/trainableMoeBlock';
import { expertFc1Name, expertFc2Name } from '../model/engineTensorNames';
import type { MoeEngine } from '../moeEngine';

export interface F32Tensor {
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

/** The float32 values of an engine weight (store naming: HF names, and experts.fc1/fc2 per MoE layer). */
export function readEngineWeight(engine: MoeEngine, name: string): F32Tensor {
  return engine.weights.get(name);
}

/**
 * The values a training graph's weight input takes: a plain weight as is, a routed expert's slice
 * (trainableMoeBlock's per-expert inputs) as a view of that expert's rows of fc1/fc2 (no copy).
 */
export function trainingWeightFeed(engine: MoeEngine, name: string): F32Tensor {
  const slice = parseExpertSliceName(name);
  if (!slice) return readEngineWeight(engine, name);
  const all = readEngineWeight(engine, slice.part === 'fc1' ? expertFc1Name(slice.layer) : expertFc2Name(slice.layer));
  const [, rows, cols] = all.dims as [number, number, number];
  const n = rows * cols;
  return { dims: [rows, cols], data: all.data.subarray(slice.expert * n, (slice.expert + 1) * n) };
}
