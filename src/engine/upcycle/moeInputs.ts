// The dense model's MLP inputs (post_attention_layernorm outputs: what an MoE router of that layer will see)
// on token sequences, for the k-means router init. The model runs layer-major: one small ONNX graph per
// decoder layer built from the engine's own pieces (attention, norms, SwiGLU: the same ops as the forward),
// fed one layer's float32 weights at a time, so memory holds one layer plus the sequences' residual streams.
import { MoeError } from '../../protocol/moeError';
import { attention } from '../graph/attention';
import { linear } from '../graph/linear';
import { rmsNorm } from '../graph/norms';
import { positionTables } from '../graph/positionTables';
import type { Checkpoint } from '../model/checkpoint';
import { bf16ToF32, f16ToF32 } from '../model/dtype';
import { GraphBuilder } from '../onnx/graphBuilder';
import { DataType, encodeModel } from '../onnx/onnxProto';
import { type FeedTensor, OrtSession } from '../runtime/ortSession';

/**
 * Decoder layer L of a dense model on residual stream `h` [T, H]: outputs `h_out`, the MLP input `mlp_input`
 * and, when asked, the SwiGLU activations `activations` [T, I] (silu(gate x) * up x: linear.ts's swiglu, spelled
 * out to expose its middle).
 */
function layerGraph(c: Checkpoint['config'], L: number, withActivations: boolean): Uint8Array {
  const g = new GraphBuilder();
  const H = c.hiddenSize;
  const I = c.layers[L]!.intermediateSize;
  const p = `model.layers.${L}.`;
  const { h1, xm } = attentionHalf(g, c, L);
  const w = (n: string, dims: number[]): string => g.weight(`${p}mlp.${n}`, dims);
  const gate = linear(g, xm, w('gate_proj.weight', [I, H]));
  const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), linear(g, xm, w('up_proj.weight', [I, H]))]);
  g.output(g.op('Add', [h1, linear(g, act, w('down_proj.weight', [H, I]))]), 'h_out', DataType.FLOAT, ['T', H]);
  g.output(xm, 'mlp_input', DataType.FLOAT, ['T', H]);
  if (withActivations) g.output(act, 'activations', DataType.FLOAT, ['T', I]);
  return encodeModel(g.build());
}

/**
 * The attention half of decoder layer L on the graph input `h` [T, H] (the layer's input residual stream):
 * `h1` after the attention residual (times GraniteMoE's residual multiplier), and `xm`, the MLP input — what
 * the layer's router sees. Weights are graph inputs named as the checkpoint names them.
 */
function attentionHalf(g: GraphBuilder, c: Checkpoint['config'], L: number): { h1: string; xm: string } {
  const H = c.hiddenSize;
  const p = `model.layers.${L}.`;
  const h = g.input('h', DataType.FLOAT, ['T', H]);
  const T = g.op('Squeeze', [g.op('Slice', [g.op('Shape', [h]), g.i64([0]), g.i64([1]), g.i64([0])]), g.i64([0])]);
  const pt = positionTables(g, c, T);
  const xa = rmsNorm(g, h, g.weight(`${p}input_layernorm.weight`, [H]), c.rmsNormEps);
  let attn = attention(g, c, L, xa, pt.rope, pt.mask);
  if (c.residualMultiplier !== 1) attn = g.op('Mul', [attn, g.scalar(c.residualMultiplier)]);
  const h1 = g.op('Add', [h, attn]);
  return { h1, xm: rmsNorm(g, h1, g.weight(`${p}post_attention_layernorm.weight`, [H]), c.rmsNormEps) };
}

/** `h` [T, H] (layer L's input) -> `mlp_input` [T, H]: the router input of an MoE layer, for any family. */
export function mlpInputGraph(c: Checkpoint['config'], L: number): Uint8Array {
  const g = new GraphBuilder();
  g.output(attentionHalf(g, c, L).xm, 'mlp_input', DataType.FLOAT, ['T', c.hiddenSize]);
  return encodeModel(g.build());
}

/** The float32 feeds of a layer graph's weight inputs (every input but `h`), read from the checkpoint. */
export function weightFeeds(ckpt: Checkpoint, session: OrtSession): Record<string, FeedTensor> {
  const feeds: Record<string, FeedTensor> = {};
  for (const name of session.inputNames) {
    if (name === 'h') continue;
    feeds[name] = { type: 'float32', data: ckpt.readF32(name), dims: ckpt.tensors.get(name)!.entry.shape };
  }
  return feeds;
}

/** Embedding rows of `ids` as float32 [T, H] (the dense families have no embedding multiplier). */
function embed(ckpt: Checkpoint, ids: readonly number[]): Float32Array {
  const name = 'model.embed_tokens.weight';
  const loc = ckpt.tensors.get(name)!;
  const H = ckpt.config.hiddenSize;
  const raw = loc.file.readRaw(name);
  const out = new Float32Array(ids.length * H);
  ids.forEach((id, t) => {
    const dtype = loc.entry.dtype;
    const size = dtype === 'F32' ? 4 : 2;
    const row = raw.slice(id * H * size, (id + 1) * H * size); // a copy: aligned for the typed-array view
    if (dtype === 'F32') out.set(new Float32Array(row.buffer), t * H);
    else (dtype === 'BF16' ? bf16ToF32 : f16ToF32)(new Uint16Array(row.buffer), out.subarray(t * H, (t + 1) * H));
  });
  return out;
}

export interface MlpInputOptions {
  /** Also pass the SwiGLU activations of every token ([tokens, I]). */
  readonly activations?: boolean;
  readonly signal?: AbortSignal;
}

/**
 * Calls `onLayer(L, inputs, activations)` for each layer of `layers` (ascending) with the MLP inputs of every
 * token of `seqs`, concatenated in order ([tokens, H]). Layers after the last one asked for are not run.
 */
export async function denseMlpInputs(ckpt: Checkpoint, seqs: readonly (readonly number[])[], layers: readonly number[], onLayer: (L: number, inputs: Float32Array, activations?: Float32Array) => void, opts: MlpInputOptions = {}): Promise<void> {
  const { signal } = opts;
  const c = ckpt.config;
  const H = c.hiddenSize;
  const wanted = new Set(layers);
  const last = Math.max(...layers);
  const tokens = seqs.reduce((n, s) => n + s.length, 0);
  let hs = seqs.map((s) => embed(ckpt, s));
  for (let L = 0; L <= last; L++) {
    if (signal?.aborted) throw new MoeError('E_CANCELLED', 'cancelled');
    const act = opts.activations === true && wanted.has(L);
    const I = c.layers[L]!.intermediateSize;
    const session = await OrtSession.create(layerGraph(c, L, act));
    try {
      const feeds = weightFeeds(ckpt, session);
      const inputs = wanted.has(L) ? new Float32Array(tokens * H) : undefined;
      const activations = act ? new Float32Array(tokens * I) : undefined;
      let at = 0;
      let t0 = 0;
      const next: Float32Array[] = [];
      for (const [i, h] of hs.entries()) {
        const out = await session.run({ ...feeds, h: { type: 'float32', data: h, dims: [seqs[i]!.length, H] } });
        next.push(out['h_out']!.data as Float32Array);
        if (inputs) {
          inputs.set(out['mlp_input']!.data as Float32Array, at);
          at += seqs[i]!.length * H;
        }
        if (activations) {
          activations.set(out['activations']!.data as Float32Array, t0 * I);
          t0 += seqs[i]!.length;
        }
      }
      hs = next;
      if (inputs) onLayer(L, inputs, activations);
    } finally {
      await session.release();
    }
  }
}
