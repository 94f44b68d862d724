// What upcycling learns from --data (issue #11 §1), in one layer-major pass of the dense model over it:
// - the k-means router init: per MoE layer, the rows are the spherical k-means centroids of the layer's MLP
//   inputs, each scaled to the norm a random-init row has on average (ROUTER_STD·√H), so the router starts as
//   small as the random one but already sends tokens to experts by content;
// - the balanced k-means split: the dense neurons grouped by their activation patterns on the data tokens.
// Only routers and the neuron grouping depend on the data: copies still compute the dense function.
import { MoeError } from '../../protocol/moeError';
import { calibrationChunks } from '../calibration/calibrationChunks';
import { readCalibrationSet } from '../calibration/calibrationSet';
import type { Checkpoint } from '../model/checkpoint';
import { loadTokenizer } from '../tokenizer/tokenizer';
import { balancedNeuronGroups } from './balancedSplit';
import { denseMlpInputs } from './moeInputs';
import { sphericalKmeans } from './sphericalKmeans';
import { ROUTER_STD, type UpcyclePlan } from './upcyclePlan';

/** Tokens of --data used (in sequences of DATA_CHUNK), enough for a few hundred per expert at E = 8. */
export const DATA_MAX_TOKENS = 4096;
export const DATA_CHUNK = 256;
/** Tokens per neuron activation pattern (evenly spaced over the data): bounds the split's clustering cost (I × E × N per iteration). */
export const PATTERN_TOKENS = 1024;

export interface LayerDataInit {
  /** kmeans router: tokens per expert under the new router's argmax on the data tokens, and k-means iterations. */
  readonly router?: { readonly clusterSizes: readonly number[]; readonly iterations: number };
  /** balanced k-means split: iterations. */
  readonly split?: { readonly tokens: number; readonly iterations: number };
}

export interface DataInit {
  readonly routers: ReadonlyMap<number, Float32Array>;
  readonly groups: ReadonlyMap<number, Int32Array[]>;
  readonly data: { readonly files: readonly string[]; readonly sha256: string; readonly tokens: number };
  readonly layers: ReadonlyMap<number, LayerDataInit>;
}

const layerSeed = (seed: number, L: number, salt: number): number => (seed ^ Math.imul(L + 1, 0x9e3779b9) ^ salt) >>> 0;

/** The routers (plan.options.router === 'kmeans') and neuron groups (plan.partition === 'balanced-kmeans') the data gives. */
export async function dataInit(ckpt: Checkpoint, p: UpcyclePlan, dataPaths: readonly string[], signal?: AbortSignal): Promise<DataInit> {
  const E = p.options.experts;
  const H = ckpt.config.hiddenSize;
  const I = p.denseIntermediate;
  const wantRouters = p.options.router === 'kmeans';
  const wantGroups = p.partition === 'balanced-kmeans';
  const data = readCalibrationSet(dataPaths);
  const { chunks, tokens } = calibrationChunks(loadTokenizer(ckpt.dir), data, DATA_CHUNK, DATA_MAX_TOKENS, signal);
  if (tokens < E) {
    throw new MoeError('E_INPUT', `clustering into ${E} experts needs at least ${E} data tokens, but --data (${data.files.join(', ')}) gives only ${tokens}`, data.files[0]);
  }
  const seqs = chunks.map((ch) => ch.spans.map((s) => s.id));
  const routers = new Map<number, Float32Array>();
  const groups = new Map<number, Int32Array[]>();
  const layers = new Map<number, LayerDataInit>();
  const scale = ROUTER_STD * Math.sqrt(H);
  const N = Math.min(tokens, PATTERN_TOKENS);
  await denseMlpInputs(ckpt, seqs, p.moeLayers, (L, inputs, activations) => {
    let router: LayerDataInit['router'];
    let split: LayerDataInit['split'];
    if (wantRouters) {
      const km = sphericalKmeans(inputs, tokens, H, E, layerSeed(p.options.seed, L, 1));
      routers.set(L, Float32Array.from(km.centroids, (v) => v * scale));
      router = { clusterSizes: km.sizes, iterations: km.iterations };
    }
    if (wantGroups && activations) {
      // patterns [I, N]: neuron n's activation on N tokens spread evenly over the data.
      const patterns = new Float32Array(I * N);
      for (let j = 0; j < N; j++) {
        const t = Math.floor((j * tokens) / N);
        for (let n = 0; n < I; n++) patterns[n * N + j] = activations[t * I + n]!;
      }
      const b = balancedNeuronGroups(patterns, I, N, E, layerSeed(p.options.seed, L, 2));
      groups.set(L, b.groups);
      split = { tokens: N, iterations: b.iterations };
    }
    layers.set(L, { ...(router ? { router } : {}), ...(split ? { split } : {}) });
  }, { activations: wantGroups, ...(signal ? { signal } : {}) });
  return { routers, groups, data: { files: data.files, sha256: data.sha256, tokens }, layers };
}
