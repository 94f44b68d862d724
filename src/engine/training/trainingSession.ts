// The whole model as one training graph with its backward, for one set of trainable weights: the
// reference the layer-wise runner is tested against, and a single graph for small models. Outputs: loss,
// lm_loss, aux_loss, z_loss and `grad.<weight>` per trainable graph weight.
import { differentiate } from '../autodiff/differentiate';
import { buildTrainingGraph } from '../graph/trainingGraph';
import type { ModelConfig } from '../model/modelConfig';
import type { MoeEngine } from '../moeEngine';
import type { Dim } from '../onnx/graphBuilder';
import { DataType, encodeModel } from '../onnx/onnxProto';
import type { OrtSession } from '../runtime/ortSession';
import { cachedSession } from './sessionCache';

export const gradOutputName = (weight: string): string => `grad.${weight}`;

/** Builds the training graph of `c` with the gradients of `wrt` (graph weight names) as outputs. */
export function trainingModelBytes(c: ModelConfig, wrt: readonly string[]): Uint8Array {
  const t = buildTrainingGraph(c);
  const g = t.g;
  const dims = new Map<string, readonly Dim[]>(g.weights.map((w) => [w.name, w.dims]));
  const grads = differentiate(g, t.loss, wrt);
  for (const w of wrt) {
    // A weight the loss does not reach gets an explicit zero gradient.
    const d = grads.get(w) ?? g.op('ConstantOfShape', [g.op('Shape', [w])]);
    g.output(d, gradOutputName(w), DataType.FLOAT, dims.get(w)!);
  }
  return encodeModel(g.build());
}

/** The cached whole-model session for `wrt` (sorted, so equal sets share one). */
export function trainingSession(engine: MoeEngine, wrt: readonly string[]): Promise<OrtSession> {
  return cachedSession(engine, `whole|${wrt.join('\n')}`, () => trainingModelBytes(engine.config, wrt));
}
