// A second opinion on a gradient file, independent of the engine and of referenceGradients.ts: the float64
// reference forward's loss (HF causal-LM loss + coef × HF load_balancing_loss_func, written here from the HF
// code) and its central difference along a random direction in one tensor. The perturbed weights stay float32
// (what referenceForward reads), so the step actually taken is measured — Δ = f32(w ± εv) − w, exact in
// float64 — and the engine's gradient is dotted with that Δ: rounding the perturbation costs no accuracy.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ModelConfig } from '../../src/engine/model/modelConfig';
import { openSafetensors } from '../../src/engine/model/safetensors';
import { referenceForward, type RefOutput } from './referenceForward';

/** Every weight of a checkpoint folder as float32, by Hub name. */
export function checkpointWeights(dir: string): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.safetensors') && x !== 'expected.safetensors')) {
    const st = openSafetensors(path.join(dir, f));
    for (const k of st.tensors.keys()) out.set(k, st.readF32(k));
    st.close();
  }
  return out;
}

export interface Float64Losses {
  readonly loss: number;
  readonly lmLoss: number;
  readonly auxLoss: number;
}

function lossesOf(c: ModelConfig, r: RefOutput, ids: readonly number[], coef: number): Float64Losses {
  const V = c.vocabSize;
  let nll = 0;
  for (let t = 0; t + 1 < ids.length; t++) {
    const row = r.logits.data.subarray(t * V, (t + 1) * V);
    const max = row.reduce((a, b) => Math.max(a, b), -Infinity);
    const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    nll += lse - row[ids[t + 1]!]!;
  }
  const lmLoss = nll / (ids.length - 1);
  // load_balancing_loss_func: router logits of all MoE layers concatenated; tokens_per_expert [k, E] is the
  // mean top-k one-hot, router_prob_per_expert [E] the mean softmax; aux = E · Σ tokens_per_expert · prob.
  let auxLoss = 0;
  if (r.routing.length > 0) {
    const E = r.routing[0]!.routerLogits.cols;
    const K = r.routing[0]!.topkIdx.cols;
    const count = new Float64Array(E);
    const prob = new Float64Array(E);
    let rows = 0;
    for (const l of r.routing) {
      for (let t = 0; t < l.routerLogits.rows; t++, rows++) {
        const row = l.routerLogits.data.subarray(t * E, (t + 1) * E);
        const max = row.reduce((a, b) => Math.max(a, b), -Infinity);
        const z = row.reduce((s, x) => s + Math.exp(x - max), 0);
        for (let e = 0; e < E; e++) prob[e] += Math.exp(row[e]! - max) / z;
        for (let k = 0; k < K; k++) count[l.topkIdx.data[t * K + k]!] += 1;
      }
    }
    for (let e = 0; e < E; e++) auxLoss += (count[e]! / rows) * (prob[e]! / rows);
    auxLoss *= E;
  }
  return { loss: lmLoss + coef * auxLoss, lmLoss, auxLoss };
}

export function float64Losses(c: ModelConfig, w: ReadonlyMap<string, Float32Array>, ids: readonly number[], coef: number): Float64Losses {
  return lossesOf(c, referenceForward(c, (n) => w.get(n) ?? fail(n), ids), ids, coef);
}

function fail(name: string): never {
  throw new Error(`no weight ${name}`);
}

/** A deterministic N(0, 1) stream (mulberry32 + Box-Muller). */
function normals(seed: number): () => number {
  let a = seed >>> 0;
  const u = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

const sameRouting = (a: RefOutput, b: RefOutput): boolean => a.routing.every((l, i) => l.topkIdx.data.every((e, j) => e === b.routing[i]!.topkIdx.data[j]));

export interface Difference {
  /** g · Δ with the engine's gradient g. */
  readonly engine: number;
  /** L(w + Δ₊) − L(w + Δ₋) in float64. */
  readonly reference: number;
  /** Σ |g_i Δ_i|: what a relative tolerance is of (the dot product may cancel). */
  readonly scale: number;
}

/**
 * Central difference of the float64 loss in tensor `name` along a direction (random + the gradient's), the
 * step scaled to the tensor's RMS and the step shrunk until no token's chosen experts change (the loss jumps across a top-k flip).
 */
export function centralDifference(c: ModelConfig, w: ReadonlyMap<string, Float32Array>, ids: readonly number[], coef: number, name: string, grad: Float32Array, seed: number): Difference {
  const base = w.get(name) ?? fail(name);
  if (grad.length !== base.length) throw new Error(`${name}: gradient has ${grad.length} values, the weight ${base.length}`);
  // Random, plus the engine's own gradient direction: a random direction alone mostly cancels in g · v
  // (|g · v| ~ |g|), so a gradient off by a constant factor would hide in the tolerance; along g it cannot.
  const rnd = normals(seed);
  const gRms = Math.sqrt(grad.reduce((s, x) => s + x * x, 0) / grad.length);
  const v = Float64Array.from(base, (_, i) => rnd() + (gRms > 0 ? (3 * grad[i]!) / gRms : 0));
  const rms = Math.sqrt(base.reduce((s, x) => s + x * x, 0) / base.length) || 1;
  const forward = (t: Float32Array): RefOutput => referenceForward(c, (n) => (n === name ? t : (w.get(n) ?? fail(n))), ids);
  const center = forward(base);
  for (let eps = 1e-5 * rms, tries = 0; tries < 10; tries++, eps /= 4) {
    const plus = Float32Array.from(base, (x, i) => x + eps * v[i]!);
    const minus = Float32Array.from(base, (x, i) => x - eps * v[i]!);
    const rp = forward(plus);
    const rm = forward(minus);
    if (!sameRouting(center, rp) || !sameRouting(center, rm)) continue;
    let engine = 0;
    let scale = 0;
    for (let i = 0; i < base.length; i++) {
      const d = plus[i]! - minus[i]!; // exact: both are float32 near base[i]
      engine += grad[i]! * d;
      scale += Math.abs(grad[i]! * d);
    }
    const reference = lossesOf(c, rp, ids, coef).loss - lossesOf(c, rm, ids, coef).loss;
    return { engine, reference, scale };
  }
  throw new Error(`${name}: every step flips a top-k choice`);
}
