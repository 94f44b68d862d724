// Where gradient computations read weights from: the engine's layer-wise weight source (the WeightStore's
// LayerWeights: a unit's float32 weights are valid between acquire and release; in cached/streaming
// modes they are converted into a reused buffer when the unit runs). The one place gradients touch weights.
import type { LayerWeights, WeightUnit } from '../layerwise/layerwiseModel';
import { weightOrExpertSlice } from '../model/expertSliceView';
import type { MoeEngine } from '../moeEngine';

export interface F32Tensor {
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

/** Resolves a training graph's weight input: a plain weight as is, a routed expert's slice as a view of its rows. */
export type WeightReader = (name: string) => F32Tensor;

function sliceReader(get: (name: string) => F32Tensor): WeightReader {
  return (name) => weightOrExpertSlice(get, name);
}

/**
 * Weights that take the place of the engine's during a computation, by training-graph name (a training
 * run's float32 master copies: plain weights by HF name, routed experts as their per-expert slices).
 */
export type WeightOverrides = ReadonlyMap<string, F32Tensor>;

/** Runs `f` with the float32 weights of `unit` (decoder layer L or 'head'); `next` is the unit after it. */
export async function withUnitWeights<T>(engine: MoeEngine, unit: WeightUnit, next: WeightUnit | undefined, f: (read: WeightReader) => Promise<T>, overrides?: WeightOverrides): Promise<T> {
  const source: LayerWeights = engine.weights;
  const w = await source.acquire(unit, next);
  try {
    const base = sliceReader((name) => w.get(name));
    return await f(overrides && overrides.size > 0 ? (name) => overrides.get(name) ?? base(name) : base);
  } finally {
    source.release(unit);
  }
}

/** Rows of the token embedding for `ids`, float32 [T · H] (from the overrides when they hold the embedding). */
export function embeddingRows(engine: MoeEngine, ids: readonly number[], overrides?: WeightOverrides): Float32Array {
  const e = overrides?.get('model.embed_tokens.weight');
  if (!e) return engine.weights.embeddingRows(Int32Array.from(ids));
  const H = engine.config.hiddenSize;
  const out = new Float32Array(ids.length * H);
  ids.forEach((id, t) => out.set(e.data.subarray(id * H, (id + 1) * H), t * H));
  return out;
}

/** Any weight, outside a unit's run (the whole-model graph, which holds every weight at once). */
export const readAnyWeight = (engine: MoeEngine): WeightReader => sliceReader((name) => engine.weights.get(name));
