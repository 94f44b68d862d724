// Refuses a TrainableSet that does not fit the model, naming the tensor, layer or expert.
import { MoeError } from '../../protocol/moeError';
import type { ModelConfig } from '../model/modelConfig';
import { expectedTensors, expertLayout } from '../model/tensorSpec';
import type { TrainableSet } from './trainableSet';

export function checkTrainableSet(c: ModelConfig, s: TrainableSet): void {
  const routed = new Set<string>();
  c.layers.forEach((l, L) => {
    if (l.kind !== 'moe') return;
    const lay = expertLayout(c, L);
    if (lay.kind === 'fused') routed.add(lay.gateUp).add(lay.down);
    else for (let e = 0; e < l.routing.numExperts; e++) routed.add(lay.gate(e)).add(lay.up(e)).add(lay.down(e));
  });
  const known = new Set(expectedTensors(c).map((t) => t.name));
  for (const name of s.tensors) {
    if (routed.has(name)) throw new MoeError('E_INPUT', `trainable tensor "${name}" is a routed expert's tensor: name the expert in the trainable experts instead`);
    if (!known.has(name)) throw new MoeError('E_INPUT', `trainable tensor "${name}" is not a tensor of this model`);
  }
  for (const [L, es] of s.experts) {
    const l = c.layers[L];
    if (!l) throw new MoeError('E_INPUT', `trainable experts name layer ${L}; the model has layers 0..${c.layers.length - 1}`);
    if (es.size === 0) continue;
    if (l.kind !== 'moe') throw new MoeError('E_INPUT', `trainable experts name layer ${L}, a dense layer (no routed experts)`);
    for (const e of es) {
      if (!Number.isInteger(e) || e < 0 || e >= l.routing.numExperts) throw new MoeError('E_INPUT', `trainable expert ${L}:${e} does not exist (layer ${L} has experts 0..${l.routing.numExperts - 1})`);
    }
  }
}
