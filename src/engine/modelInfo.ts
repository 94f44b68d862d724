// The figures `inspect` prints, derived from a checkpoint without reading weights, and what the tool's
// markers say about it (untrained demo weights, the source ids of pruned or merged experts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ModelInfo } from '../protocol/modelInfo';
import type { Checkpoint } from './model/checkpoint';
import { moeLayerIndices, routingOf } from './model/modelConfig';
import { readModelProvenance } from './modelProvenance';

export function describeCheckpoint(ckpt: Checkpoint): ModelInfo {
  const c = ckpt.config;
  let total = 0;
  const dtypes = new Set<string>();
  for (const { entry } of ckpt.tensors.values()) {
    total += entry.shape.reduce((a, b) => a * b, 1);
    dtypes.add(entry.dtype);
  }
  // Active per token: everything except the routed experts a token does not use.
  let inactive = 0;
  let moeInter = 0;
  let sharedInter = 0;
  for (const l of c.layers) {
    if (l.kind !== 'moe') continue;
    moeInter = l.intermediateSize;
    sharedInter = l.shared?.intermediateSize ?? 0;
    inactive += (l.routing.numExperts - l.routing.topK) * 3 * l.intermediateSize * c.hiddenSize;
  }
  const r = routingOf(c);
  const routing = r === undefined ? 'dense (no router)' : c.modelType === 'granitemoe' ? `top-${r.topK} of router logits -> softmax over the ${r.topK}` : `softmax -> top-${r.topK}` + (r.renormalize ? ' -> renormalise' : ' (no renormalisation)');
  const files = ckpt.files.map((f) => f.path);
  const index = path.join(ckpt.dir, 'model.safetensors.index.json');
  if (fs.existsSync(index)) files.push(index);
  const moeLayers = moeLayerIndices(c);
  const { warnings, ...provenance } = readModelProvenance(ckpt.dir, moeLayers, r?.numExperts ?? 0);
  return {
    name: path.basename(ckpt.dir),
    path: ckpt.dir,
    modelType: c.modelType,
    architecture: c.architecture,
    numLayers: c.numLayers,
    moeLayers,
    numExperts: r?.numExperts ?? 0,
    topK: r?.topK ?? 0,
    hiddenSize: c.hiddenSize,
    vocabSize: c.vocabSize,
    numHeads: c.numHeads,
    numKvHeads: c.numKvHeads,
    headDim: c.headDim,
    expertIntermediateSize: moeInter,
    sharedExpertIntermediateSize: sharedInter,
    contextLength: c.contextLength,
    routing,
    dtypes: [...dtypes].sort(),
    totalParams: total,
    activeParams: total - inactive,
    bytesOnDisk: ckpt.files.reduce((a, f) => a + f.fileSize, 0),
    files,
    ...provenance,
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}
