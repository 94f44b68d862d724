// The ONNX Runtime session of a training graph with its backward for one set of trainable weights, built
// once per engine and trainable set. Outputs: loss, lm_loss, aux_loss, z_loss and `grad.<weight>` per
// trainable graph weight.
import { differentiate } from '../autodiff/differentiate';
import { buildTrainingGraph } from '../graph/trainingGraph';
import type { ModelConfig } from '../model/modelConfig';
import type { MoeEngine } from '../moeEngine';
import type { Dim } from '../onnx/graphBuilder';
import { DataType, encodeModel } from '../onnx/onnxProto';
import { OrtSession } from '../runtime/ortSession';

export const gradOutputName = (weight: string): string => `grad.${weight}`;

/** Builds the training graph of `c` with the gradients of `wrt` (graph weight names) as outputs. */
export function trainingModelBytes(c: ModelConfig, wrt: readonly string[]): Uint8Array {
  const t = buildTrainingGraph(c);
  const g = t.g;
  const dims = new Map<string, readonly Dim[]>(g.weights.map((w) => [w.name, w.dims]));
  const grads = differentiate(g, t.loss, wrt);
  for (const w of wrt) {
    // A weight the loss does not reach (none today) gets an explicit zero gradient.
    const d = grads.get(w) ?? g.op('ConstantOfShape', [g.op('Shape', [w])]);
    g.output(d, gradOutputName(w), DataType.FLOAT, dims.get(w)!);
  }
  return encodeModel(g.build());
}

const sessions = new WeakMap<MoeEngine, Map<string, Promise<OrtSession>>>();

/** The cached session for `wrt` (sorted, so equal sets share one). */
export function trainingSession(engine: MoeEngine, wrt: readonly string[]): Promise<OrtSession> {
  let byKey = sessions.get(engine);
  if (!byKey) sessions.set(engine, (byKey = new Map()));
  const key = wrt.join('\n');
  let s = byKey.get(key);
  if (!s) {
    s = OrtSession.create(trainingModelBytes(engine.config, wrt));
    const map = byKey;
    s.catch(() => map.delete(key));
    byKey.set(key, s);
  }
  return s;
}

/** Releases the gradient sessions of an engine (call before disposing it). */
export async function releaseTrainingSessions(engine: MoeEngine): Promise<void> {
  const byKey = sessions.get(engine);
  sessions.delete(engine);
  for (const s of byKey?.values() ?? []) await (await s.catch(() => undefined))?.release();
}
