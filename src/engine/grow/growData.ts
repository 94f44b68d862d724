// What add-experts learns from --data, with the MoE model itself:
// - hot sources: a profile of the model on the data (profileExperts.ts), tokens routed to each expert per layer;
// - domain router rows: the router inputs (post_attention_layernorm outputs) of the data tokens, averaged per
//   MoE layer and scaled to the layer's mean router row norm, so domain tokens score the new expert like an
//   existing one. With N > 1 new experts, N spherical k-means centroids of those inputs (one per new expert,
//   so the new experts do not tie with each other), each at the same norm. The inputs come from the engine's
//   residual stream (hidden states) through moeInputs.ts's attention-half graph, one layer at a time.
import type { Progress } from '../../protocol/engineProtocol';
import { MoeError } from '../../protocol/moeError';
import { calibrationChunks } from '../calibration/calibrationChunks';
import { readCalibrationSet } from '../calibration/calibrationSet';
import { modelIdentity } from '../experts/modelIdentity';
import { profileExperts } from '../experts/profileExperts';
import { checkProfileModel, readProfile } from '../experts/profileFile';
import type { Checkpoint } from '../model/checkpoint';
import { expertLayout } from '../model/tensorSpec';
import { MoeEngine } from '../moeEngine';
import { OrtSession } from '../runtime/ortSession';
import { mlpInputGraph, weightFeeds } from '../upcycle/moeInputs';
import { sphericalKmeans } from '../upcycle/sphericalKmeans';
import type { AddExpertsPlan } from './addExpertsPlan';
import type { AddExpertsData } from './addExpertsRecord';

/** Tokens profiled for hot sources (chunks of PROFILE_CHUNK). */
export const PROFILE_MAX_TOKENS = 32768;
export const PROFILE_CHUNK = 512;
/** Tokens whose router inputs are averaged for domain rows (sequences of DOMAIN_CHUNK): a mean converges fast. */
export const DOMAIN_MAX_TOKENS = 2048;
export const DOMAIN_CHUNK = 256;

export interface Usage {
  /** Tokens routed to each expert, per MoE layer. */
  readonly counts: ReadonlyMap<number, readonly number[]>;
  readonly tokens: number;
  readonly data: AddExpertsData;
}

/** Profiles the model at `dir` on the data: per MoE layer, the tokens routed to each expert. */
export async function expertUsage(dir: string, dataPaths: readonly string[], opts: { signal?: AbortSignal; onProgress?: (p: Progress) => void } = {}): Promise<Usage> {
  const data = readCalibrationSet(dataPaths);
  const engine = await MoeEngine.load(dir);
  try {
    const profile = await profileExperts(engine, data, { chunkTokens: PROFILE_CHUNK, maxTokens: PROFILE_MAX_TOKENS, ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
    return { counts: new Map(profile.layers.map((l) => [l.layer, l.count])), tokens: profile.data.tokens, data: { files: data.files, sha256: data.sha256, tokens: profile.data.tokens } };
  } finally {
    await engine.dispose();
  }
}

/** The usage recorded in a profile of this model (refused when it was computed on another model). */
export function profileUsage(dir: string, file: string): Usage {
  const profile = readProfile(file);
  checkProfileModel(profile, modelIdentity(dir), file);
  const d = profile.data;
  return { counts: new Map(profile.layers.map((l) => [l.layer, l.count])), tokens: d.tokens, data: { files: d.files, sha256: d.sha256, tokens: d.tokens } };
}

/** Mean L2 norm of the rows of a router [E, H] (float32). */
function meanRowNorm(w: Float32Array, E: number, H: number): number {
  let s = 0;
  for (let e = 0; e < E; e++) {
    let q = 0;
    for (let k = 0; k < H; k++) q += w[e * H + k]! ** 2;
    s += Math.sqrt(q);
  }
  return s / E;
}

const layerSeed = (seed: number, L: number): number => (seed ^ Math.imul(L + 1, 0x9e3779b9) ^ 3) >>> 0;

/** The domain rows [N, H] of every MoE layer, from the router inputs of the data's tokens. */
export async function domainRows(ckpt: Checkpoint, p: AddExpertsPlan, dataPaths: readonly string[], signal?: AbortSignal): Promise<{ rows: Map<number, Float32Array>; data: AddExpertsData }> {
  const c = ckpt.config;
  const H = c.hiddenSize;
  const N = p.options.count;
  const data = readCalibrationSet(dataPaths);
  const engine = await MoeEngine.load(ckpt.dir);
  let seqs: number[][];
  let hidden: { input: Float32Array[] }[];
  let tokens: number;
  try {
    const chunks = calibrationChunks(engine.tokenizer, data, DOMAIN_CHUNK, DOMAIN_MAX_TOKENS, signal);
    tokens = chunks.tokens;
    if (tokens < N) throw new MoeError('E_INPUT', `the domain router init needs at least ${N} data tokens (one per new expert), but --data (${data.files.join(', ')}) gives only ${tokens}`, data.files[0]);
    seqs = chunks.chunks.map((ch) => ch.spans.map((s) => s.id));
    const results = await engine.forwardBatch(seqs, { routing: false, hidden: true, logits: false });
    // The input of layer L is the embedding output (L = 0) or layer L−1's output.
    hidden = p.moeLayers.map((L) => ({ input: results.map((r) => (L === 0 ? r.hidden!.embeddings : r.hidden!.layers[L - 1]!).data) }));
  } finally {
    await engine.dispose();
  }
  const rows = new Map<number, Float32Array>();
  for (const [i, L] of p.moeLayers.entries()) {
    if (signal?.aborted) throw new MoeError('E_CANCELLED', 'cancelled');
    const session = await OrtSession.create(mlpInputGraph(c, L));
    const inputs = new Float32Array(tokens * H);
    try {
      const feeds = weightFeeds(ckpt, session);
      let at = 0;
      for (const [s, h] of hidden[i]!.input.entries()) {
        const out = await session.run({ ...feeds, h: { type: 'float32', data: h, dims: [seqs[s]!.length, H] } });
        inputs.set(out['mlp_input']!.data as Float32Array, at);
        at += seqs[s]!.length * H;
      }
    } finally {
      await session.release();
    }
    hidden[i] = { input: [] }; // this layer's residual stream is no longer needed
    const E = p.oldExperts;
    const scale = meanRowNorm(ckpt.readF32(expertLayout(c, L).router), E, H);
    let dirs: Float32Array;
    if (N === 1) {
      dirs = new Float32Array(H);
      for (let t = 0; t < tokens; t++) for (let k = 0; k < H; k++) dirs[k] = dirs[k]! + inputs[t * H + k]!;
    } else {
      dirs = sphericalKmeans(inputs, tokens, H, N, layerSeed(p.options.seed, L)).centroids;
    }
    const out = new Float32Array(N * H);
    for (let j = 0; j < N; j++) {
      let q = 0;
      for (let k = 0; k < H; k++) q += dirs[j * H + k]! ** 2;
      const f = q > 0 ? scale / Math.sqrt(q) : 0;
      for (let k = 0; k < H; k++) out[j * H + k] = dirs[j * H + k]! * f;
    }
    rows.set(L, out);
  }
  return { rows, data: { files: data.files, sha256: data.sha256, tokens } };
}
