// The k-means router init (issue #11 §1): per MoE layer, the rows are the spherical k-means centroids of the
// dense model's MLP inputs on the user's data, each scaled to the norm a random-init row has on average
// (ROUTER_STD·√H), so the router starts as small as the random one but already sends tokens to experts by
// content. Only the router changes: copies still compute the dense function whatever the router says.
import { MoeError } from '../../protocol/moeError';
import { calibrationChunks } from '../calibration/calibrationChunks';
import { readCalibrationSet } from '../calibration/calibrationSet';
import type { Checkpoint } from '../model/checkpoint';
import { loadTokenizer } from '../tokenizer/tokenizer';
import { denseMlpInputs } from './moeInputs';
import { sphericalKmeans } from './sphericalKmeans';
import { ROUTER_STD, type UpcyclePlan } from './upcyclePlan';

/** Tokens of --data the clustering uses (in sequences of KMEANS_CHUNK), enough for a few hundred per expert at E = 8. */
export const KMEANS_MAX_TOKENS = 4096;
export const KMEANS_CHUNK = 256;

export interface KmeansRouters {
  readonly rows: ReadonlyMap<number, Float32Array>;
  readonly data: { readonly files: readonly string[]; readonly sha256: string; readonly tokens: number };
  /** Per layer: tokens per expert under the new router's argmax on the clustered tokens, and k-means iterations. */
  readonly layers: ReadonlyMap<number, { readonly clusterSizes: readonly number[]; readonly iterations: number }>;
}

export async function kmeansRouters(ckpt: Checkpoint, p: UpcyclePlan, dataPaths: readonly string[], signal?: AbortSignal): Promise<KmeansRouters> {
  const E = p.options.experts;
  const H = ckpt.config.hiddenSize;
  const data = readCalibrationSet(dataPaths);
  const { chunks, tokens } = calibrationChunks(loadTokenizer(ckpt.dir), data, KMEANS_CHUNK, KMEANS_MAX_TOKENS, signal);
  if (tokens < E) {
    throw new MoeError('E_INPUT', `the k-means router init clusters tokens into ${E} experts, but --data (${data.files.join(', ')}) gives only ${tokens} tokens`, data.files[0]);
  }
  const seqs = chunks.map((ch) => ch.spans.map((s) => s.id));
  const rows = new Map<number, Float32Array>();
  const layers = new Map<number, { clusterSizes: number[]; iterations: number }>();
  const scale = ROUTER_STD * Math.sqrt(H);
  await denseMlpInputs(ckpt, seqs, p.moeLayers, (L, inputs) => {
    const km = sphericalKmeans(inputs, tokens, H, E, (p.options.seed ^ Math.imul(L + 1, 0x9e3779b9)) >>> 0);
    const r = Float32Array.from(km.centroids, (v) => v * scale);
    rows.set(L, r);
    layers.set(L, { clusterSizes: km.sizes, iterations: km.iterations });
  }, signal);
  return { rows, data: { files: data.files, sha256: data.sha256, tokens }, layers };
}
