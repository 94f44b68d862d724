// The float32 tensors the engine computes with, grouped by the unit that runs them (a decoder layer, or the
// head: final norm + lm_head), each with the recipe that builds it from the checkpoint's tensors. Most are
// a Hugging Face tensor as is; routed experts become the MoE operator's layout: fc1 [E, 2I, H] with row 2i
// the gate row i and row 2i+1 the up row i (swiglu_fusion=1), and fc2 [E, H, I].
import type { WeightUnit } from '../layerwise/layerwiseModel';
import { expertFc1Name, expertFc2Name } from './engineTensorNames';
import type { ModelConfig } from './modelConfig';
import { expectedTensors, expertLayout, lmHeadName } from './tensorSpec';

/**
 * A block copy: `rows` rows of `rowLen` elements of Hugging Face tensor `hf`, starting at element `from`,
 * written at `to` with `stride` elements between row starts.
 */
export interface RowCopy {
  readonly hf: string;
  readonly from: number;
  readonly rowLen: number;
  readonly rows: number;
  readonly to: number;
  readonly stride: number;
}

export interface EngineTensor {
  readonly name: string;
  readonly dims: readonly number[];
  readonly elements: number;
  /** 'embeddings': the untied embedding matrix, which no unit runs with (its rows are looked up). */
  readonly unit: WeightUnit | 'embeddings';
  /** Copies that fill every element, in order. */
  readonly copies: readonly RowCopy[];
  /** The Hugging Face tensors it is built from. */
  readonly sources: readonly string[];
}

const whole = (hf: string, n: number): RowCopy => ({ hf, from: 0, rowLen: n, rows: 1, to: 0, stride: n });

/** Every engine tensor of `c`, in the order the units run (layers, then the head). */
export function engineTensors(c: ModelConfig): EngineTensor[] {
  const H = c.hiddenSize;
  const expertNames = new Set<string>();
  const out: EngineTensor[] = [];
  const mk = (name: string, dims: readonly number[], unit: EngineTensor['unit'], copies: RowCopy[]): EngineTensor => ({ name, dims, elements: dims.reduce((a, b) => a * b, 1), unit, copies, sources: [...new Set(copies.map((k) => k.hf))] });
  const moe = new Map<number, EngineTensor[]>();
  c.layers.forEach((l, L) => {
    if (l.kind !== 'moe') return;
    const E = l.routing.numExperts;
    const I = l.intermediateSize;
    const lay = expertLayout(c, L);
    const fc1: RowCopy[] = [];
    const fc2: RowCopy[] = [];
    for (let e = 0; e < E; e++) {
      const base = e * 2 * I * H;
      if (lay.kind === 'fused') {
        // GraniteMoE input_linear [E, 2I, H]: rows 0..I-1 gate, I..2I-1 up.
        fc1.push({ hf: lay.gateUp, from: base, rowLen: H, rows: I, to: base, stride: 2 * H });
        fc1.push({ hf: lay.gateUp, from: base + I * H, rowLen: H, rows: I, to: base + H, stride: 2 * H });
      } else {
        expertNames.add(lay.gate(e)).add(lay.up(e)).add(lay.down(e));
        fc1.push({ hf: lay.gate(e), from: 0, rowLen: H, rows: I, to: base, stride: 2 * H });
        fc1.push({ hf: lay.up(e), from: 0, rowLen: H, rows: I, to: base + H, stride: 2 * H });
        fc2.push({ hf: lay.down(e), from: 0, rowLen: H * I, rows: 1, to: e * H * I, stride: H * I });
      }
    }
    if (lay.kind === 'fused') {
      expertNames.add(lay.gateUp).add(lay.down);
      fc2.push(whole(lay.down, E * H * I));
    }
    moe.set(L, [mk(expertFc1Name(L), [E, 2 * I, H], L, fc1), mk(expertFc2Name(L), [E, H, I], L, fc2)]);
  });
  const rest: EngineTensor[] = [];
  for (const t of expectedTensors(c)) {
    if (expertNames.has(t.name)) continue;
    const n = t.shape.reduce((a, b) => a * b, 1);
    const m = /^model\.layers\.(\d+)\./.exec(t.name);
    if (m) out.push(mk(t.name, t.shape, Number(m[1]), [whole(t.name, n)]));
    // The tied embedding matrix is the head's lm_head; an untied one no unit runs with.
    else rest.push(mk(t.name, t.shape, t.name === 'model.norm.weight' || t.name === lmHeadName(c) ? 'head' : 'embeddings', [whole(t.name, n)]));
  }
  for (const ts of moe.values()) out.push(...ts);
  return [...out.sort((a, b) => (a.unit as number) - (b.unit as number)), ...rest];
}
