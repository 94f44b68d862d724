// The per-method changes to one expert's copy of the dense MLP, on float32 values of one matrix at a time.
// Neurons are gate/up rows ([I, H]) and down columns ([H, I]); a matrix is called with `rows` = true for
// gate and up. The index sets and values come from seeded streams (upcycleRandom.ts), so the three
// matrices of an expert are made independently yet agree on the neurons they share.
import { normals, permutation, Purpose, randomSubset, stream } from './upcycleRandom';
import type { UpcycleOptions, UpcyclePlan } from './upcyclePlan';

/**
 * What the noise and drop edits read: the neurons of the matrix (`denseIntermediate`: the source MLP's or
 * source expert's intermediate size), how many change, and the settings. An UpcyclePlan is one; add-experts
 * (src/engine/grow) builds one for its source experts.
 */
export interface NeuronEditPlan {
  readonly denseIntermediate: number;
  readonly changedNeurons: number;
  readonly options: Pick<UpcycleOptions, 'seed' | 'noiseStd' | 'dropMode'>;
}

/** The three matrices of an expert, in stream-key order. */
export type Matrix = 0 | 1 | 2;
export const GATE: Matrix = 0;
export const UP: Matrix = 1;
export const DOWN: Matrix = 2;

interface View {
  readonly w: Float32Array;
  readonly I: number;
  readonly H: number;
  readonly rows: boolean;
}

const at = (v: View, n: number, k: number): number => (v.rows ? n * v.H + k : k * v.I + n);

/** noise: the neurons whose weights get N(0, σ²) added, one set per expert shared by its three matrices. */
export function noisedNeurons(p: NeuronEditPlan, layer: number, expert: number): Int32Array {
  return randomSubset(p.denseIntermediate, p.changedNeurons, stream(p.options.seed, layer, expert, Purpose.neuronSet));
}

/** Drop-Upcycling's per-expert permutation of the neurons, shared by gate, up and down (function-preserving). */
export function dropPermutation(p: NeuronEditPlan, layer: number, expert: number): Int32Array {
  return permutation(p.denseIntermediate, stream(p.options.seed, layer, expert, Purpose.permutation));
}

/** Drop-Upcycling: the (permuted) neuron indices re-initialised in matrix `m` — shared in paper mode, per matrix in reference-code mode. */
export function droppedNeurons(p: NeuronEditPlan, layer: number, expert: number, m: Matrix): Int32Array {
  const key = p.options.dropMode === 'paper' ? stream(p.options.seed, layer, expert, Purpose.neuronSet) : stream(p.options.seed, layer, expert, Purpose.neuronSet, m);
  return randomSubset(p.denseIntermediate, p.changedNeurons, key);
}

export function addNoise(p: NeuronEditPlan, layer: number, expert: number, m: Matrix, w: Float32Array, H: number): void {
  const v: View = { w, I: p.denseIntermediate, H, rows: m !== DOWN };
  const z = normals(stream(p.options.seed, layer, expert, Purpose.values, m));
  const s = p.options.noiseStd;
  for (const n of noisedNeurons(p, layer, expert)) for (let k = 0; k < H; k++) w[at(v, n, k)] = w[at(v, n, k)]! + s * z();
}

/** Drop-Upcycling on one matrix: permute its neurons, then redraw the slice S from N(mean(S), std(S)²) (std unbiased, as torch's). */
export function dropUpcycle(p: NeuronEditPlan, layer: number, expert: number, m: Matrix, w: Float32Array, H: number): Float32Array {
  const I = p.denseIntermediate;
  const perm = dropPermutation(p, layer, expert);
  const out = new Float32Array(w.length);
  if (m !== DOWN) for (let j = 0; j < I; j++) out.set(w.subarray(perm[j]! * H, (perm[j]! + 1) * H), j * H);
  else for (let k = 0; k < H; k++) for (let j = 0; j < I; j++) out[k * I + j] = w[k * I + perm[j]!]!;
  const v: View = { w: out, I, H, rows: m !== DOWN };
  const S = droppedNeurons(p, layer, expert, m);
  let sum = 0;
  let sq = 0;
  for (const n of S) {
    for (let k = 0; k < H; k++) {
      const x = out[at(v, n, k)]!;
      sum += x;
      sq += x * x;
    }
  }
  const count = S.length * H;
  if (count === 0) return out;
  const mean = sum / count;
  const std = count > 1 ? Math.sqrt(Math.max(0, (sq - count * mean * mean) / (count - 1))) : 0;
  const z = normals(stream(p.options.seed, layer, expert, Purpose.values, m));
  for (const n of S) for (let k = 0; k < H; k++) out[at(v, n, k)] = mean + std * z();
  return out;
}

/** split (LLaMA-MoE, random): a partition of the I neurons into E groups of I/E, each sorted; one per layer. */
export function splitGroups(p: UpcyclePlan, layer: number): Int32Array[] {
  const perm = permutation(p.denseIntermediate, stream(p.options.seed, layer, 0, Purpose.split));
  const g = p.expertIntermediate;
  return Array.from({ length: p.options.experts }, (_, e) => perm.slice(e * g, (e + 1) * g).sort());
}
