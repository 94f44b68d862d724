// Gradients by Hugging Face tensor name and shape, from the training graph's gradients (plain weights under
// their HF names, routed experts as per-expert fc1 [2I, H] (gate/up rows interleaved) and fc2 [H, I]).
import { expertFc1SliceName, expertFc2SliceName } from '../graph/trainableMoeBlock';
import type { ModelConfig } from '../model/modelConfig';
import { expectedTensors, expertLayout } from '../model/tensorSpec';
import type { F32Tensor } from './gradientWeights';
import type { TrainableSet } from './trainableSet';

/** Gate rows (even fc1 rows) and up rows (odd) of one expert's interleaved fc1 gradient, written at `gateAt`/`upAt`. */
function deinterleave(fc1: Float32Array, I: number, H: number, gate: Float32Array, gateAt: number, up: Float32Array, upAt: number): void {
  for (let i = 0; i < I; i++) {
    gate.set(fc1.subarray(2 * i * H, (2 * i + 1) * H), gateAt + i * H);
    up.set(fc1.subarray((2 * i + 1) * H, (2 * i + 2) * H), upAt + i * H);
  }
}

/**
 * `grad(name)` gives the gradient of a training-graph weight input. Returns, for every HF tensor holding a
 * trainable parameter, a gradient of the same name and shape; Granite's fused input_linear/output_linear
 * hold zero rows for the frozen experts of a layer.
 */
export function hfGradients(c: ModelConfig, trainable: TrainableSet, grad: (graphName: string) => Float32Array): Map<string, F32Tensor> {
  const out = new Map<string, F32Tensor>();
  const shapes = new Map(expectedTensors(c).map((t) => [t.name, t.shape]));
  for (const name of trainable.tensors) out.set(name, { dims: shapes.get(name)!, data: grad(name) });
  const H = c.hiddenSize;
  for (const [L, experts] of [...trainable.experts].sort((a, b) => a[0] - b[0])) {
    const spec = c.layers[L];
    if (experts.size === 0 || spec?.kind !== 'moe') continue;
    const I = spec.intermediateSize;
    const E = spec.routing.numExperts;
    const lay = expertLayout(c, L);
    const ids = [...experts].sort((a, b) => a - b);
    if (lay.kind === 'fused') {
      const gateUp = new Float32Array(E * 2 * I * H);
      const down = new Float32Array(E * H * I);
      for (const e of ids) {
        deinterleave(grad(expertFc1SliceName(L, e)), I, H, gateUp, e * 2 * I * H, gateUp, (e * 2 + 1) * I * H);
        down.set(grad(expertFc2SliceName(L, e)), e * H * I);
      }
      out.set(lay.gateUp, { dims: [E, 2 * I, H], data: gateUp });
      out.set(lay.down, { dims: [E, H, I], data: down });
      continue;
    }
    for (const e of ids) {
      const gate = new Float32Array(I * H);
      const up = new Float32Array(I * H);
      deinterleave(grad(expertFc1SliceName(L, e)), I, H, gate, 0, up, 0);
      out.set(lay.gate(e), { dims: [I, H], data: gate });
      out.set(lay.up(e), { dims: [I, H], data: up });
      out.set(lay.down(e), { dims: [H, I], data: grad(expertFc2SliceName(L, e)) });
    }
  }
  return out;
}
