// How many parameters a trainable set updates, against the whole model: the ESFT preview and the
// fine-tuning report show it ("12.6M of 1.3B parameters, 0.97%"). Counted from the config's expected tensors,
// so it needs no weights; a fused expert tensor (Granite's input_linear) counts 1/E of itself per expert.
import type { ModelConfig } from '../model/modelConfig';
import { expectedTensors, expertLayout } from '../model/tensorSpec';
import type { TrainableSet } from './trainableSet';

export interface ParameterCount {
  readonly trainable: number;
  readonly total: number;
  /** trainable / total. */
  readonly share: number;
}

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function trainableParameterCount(c: ModelConfig, s: TrainableSet): ParameterCount {
  const sizes = new Map(expectedTensors(c).map((t) => [t.name, sizeOf(t.shape)]));
  const total = [...sizes.values()].reduce((a, b) => a + b, 0);
  let trainable = 0;
  for (const name of s.tensors) trainable += sizes.get(name) ?? 0;
  for (const [L, experts] of s.experts) {
    const spec = c.layers[L];
    if (spec?.kind !== 'moe') continue;
    const lay = expertLayout(c, L);
    for (const e of experts) {
      if (lay.kind === 'fused') trainable += ((sizes.get(lay.gateUp) ?? 0) + (sizes.get(lay.down) ?? 0)) / spec.routing.numExperts;
      else trainable += (sizes.get(lay.gate(e)) ?? 0) + (sizes.get(lay.up(e)) ?? 0) + (sizes.get(lay.down(e)) ?? 0);
    }
  }
  return { trainable, total, share: total === 0 ? 0 : trainable / total };
}
