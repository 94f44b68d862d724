// The per-unit graphs of layer-wise execution: one graph per distinct decoder-layer shape, and the head.
// A layer graph is built for the first layer of its shape (its inputs carry that layer's names,
// `model.layers.L0.*`, `router_mask.L0`; its routing outputs end in `.L0`) and run for every layer of the
// shape with that layer's weights fed under those names (renameLayer maps them). The ops come from
// decoderGraph.ts, so each unit computes exactly what the whole-model graph computes for it. The
// embedding lookup needs no graph: it is a row copy done in JS (layerwiseModel.ts).
import { decoderLayer, lmHead, type GraphOutputs } from '../graph/decoderGraph';
import { positionTables } from '../graph/positionTables';
import type { ModelConfig } from '../model/modelConfig';
import { GraphBuilder, int } from '../onnx/graphBuilder';
import { DataType } from '../onnx/onnxProto';

/** Layers with equal keys run through one graph: the spec is everything per layer the graph depends on. */
export function layerShapeKey(c: ModelConfig, L: number): string {
  return JSON.stringify(c.layers[L]);
}

/** The first layer of each shape, by layer: template[L] is the layer whose graph layer L runs through. */
export function layerTemplates(c: ModelConfig): number[] {
  const first = new Map<string, number>();
  return c.layers.map((_, L) => {
    const k = layerShapeKey(c, L);
    if (!first.has(k)) first.set(k, L);
    return first.get(k)!;
  });
}

/** `hidden_in` [T, H] -> `hidden_out` [T, H] through decoder layer L (plus its routing outputs, named for L). */
export function buildLayerGraph(c: ModelConfig, L: number, outputs: GraphOutputs): GraphBuilder {
  const g = new GraphBuilder();
  const H = c.hiddenSize;
  const h = g.input('hidden_in', DataType.FLOAT, ['T', H]);
  const T = g.op('Squeeze', [g.op('Shape', [h], { end: int(1) }), g.i64([0])]);
  const out = decoderLayer(g, c, L, c.layers[L]!, h, positionTables(g, c, T), outputs);
  g.output(out, 'hidden_out', DataType.FLOAT, ['T', H]);
  return g;
}

/** `hidden_in` [T, H] and input_ids [T] -> logprobs (and final_norm, logits on request). */
export function buildHeadGraph(c: ModelConfig, outputs: GraphOutputs): GraphBuilder {
  const g = new GraphBuilder();
  const ids = g.input('input_ids', DataType.INT64, ['T']);
  const h = g.input('hidden_in', DataType.FLOAT, ['T', c.hiddenSize]);
  lmHead(g, c, h, ids, outputs);
  return g;
}

/** Renames a name of layer `from` (weights `model.layers.F.*`, inputs/outputs `*.F`) to layer `to`. */
export function renameLayer(name: string, from: number, to: number): string {
  if (from === to) return name;
  const p = `model.layers.${from}.`;
  if (name.startsWith(p)) return `model.layers.${to}.${name.slice(p.length)}`;
  const s = `.${from}`;
  return name.endsWith(s) ? name.slice(0, -s.length) + `.${to}` : name;
}
