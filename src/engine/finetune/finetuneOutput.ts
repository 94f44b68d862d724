// What a fine-tuning writes (issue #10 §4): the trained tensors as updates of the source checkpoint (in
// the source's dtype; every other tensor byte-identical), as a full checkpoint and/or an expert adapter.
// Fused expert tensors (Granite's input_linear/output_linear hold every expert of a layer) get the trained
// experts' rows and keep the source's rows for the others.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { WrittenCheckpoint } from '../../protocol/expertOps';
import { MoeError } from '../../protocol/moeError';
import type { Checkpoint } from '../model/checkpoint';
import { openCheckpoint } from '../model/checkpoint';
import type { ModelConfig } from '../model/modelConfig';
import { expertLayout } from '../model/tensorSpec';
import { RECORD_FILE } from '../surgery/checkpointFiles';
import { planTensorUpdates, type TensorUpdate } from '../surgery/tensorUpdates';
import { writeCheckpoint, type WriteCheckpointOptions, type ExtraFile } from '../surgery/writeCheckpoint';
import type { F32Tensor } from '../training/gradientWeights';
import type { TrainableSet } from '../training/trainableSet';
import { type AdapterManifest, writeExpertAdapter } from './expertAdapter';

/** Fused tensor name → [layer, block elements per expert] for the layers whose experts train. */
function fusedBlocks(c: ModelConfig, trainable: TrainableSet): Map<string, { layer: number; perExpert: number }> {
  const out = new Map<string, { layer: number; perExpert: number }>();
  for (const [L, es] of trainable.experts) {
    const spec = c.layers[L];
    if (es.size === 0 || spec?.kind !== 'moe') continue;
    const lay = expertLayout(c, L);
    if (lay.kind !== 'fused') continue;
    out.set(lay.gateUp, { layer: L, perExpert: 2 * spec.intermediateSize * c.hiddenSize });
    out.set(lay.down, { layer: L, perExpert: c.hiddenSize * spec.intermediateSize });
  }
  return out;
}

/**
 * The updates that put `trained` (HF names, float32; ExpertTrainer.hfTensors) into the checkpoint: each a
 * producer called when its tensor is written, so one tensor is in memory at a time beyond `trained`.
 */
export function trainedTensorUpdates(ckpt: Checkpoint, trainable: TrainableSet, trained: ReadonlyMap<string, F32Tensor>): Map<string, TensorUpdate> {
  const fused = fusedBlocks(ckpt.config, trainable);
  const updates = new Map<string, TensorUpdate>();
  for (const [name, t] of trained) {
    const loc = ckpt.tensors.get(name);
    if (!loc) throw new MoeError('E_INTERNAL', `trained tensor ${name} is not in ${ckpt.dir}`);
    const n = loc.entry.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new MoeError('E_INTERNAL', `trained tensor ${name}: ${t.data.length} values for shape [${loc.entry.shape.join(', ')}]`);
    const f = fused.get(name);
    if (!f) {
      updates.set(name, () => t.data);
      continue;
    }
    const experts = [...trainable.experts.get(f.layer)!];
    updates.set(name, () => {
      const merged = loc.file.readF32(name);
      for (const e of experts) merged.set(t.data.subarray(e * f.perExpert, (e + 1) * f.perExpert), e * f.perExpert);
      return merged;
    });
  }
  return updates;
}

/** Writes the fine-tuned checkpoint of `srcDir` into `outDir` with `record` as its moe_workbench.json. */
export async function writeFinetunedCheckpoint(srcDir: string, trainable: TrainableSet, trained: ReadonlyMap<string, F32Tensor>, outDir: string, record: unknown, opts: WriteCheckpointOptions & { readonly beforeCommit?: (tempDir: string) => Promise<void>; readonly extraFiles?: readonly ExtraFile[] } = {}): Promise<WrittenCheckpoint> {
  const ckpt = openCheckpoint(srcDir);
  try {
    const tensors = planTensorUpdates(ckpt, trainedTensorUpdates(ckpt, trainable, trained));
    return await writeCheckpoint(ckpt.dir, outDir, { tensors, configText: fs.readFileSync(path.join(ckpt.dir, 'config.json')), extraFiles: () => [{ name: RECORD_FILE, bytes: JSON.stringify(record, null, 2) + '\n' }, ...(opts.extraFiles ?? [])], ...(opts.beforeCommit ? { beforeCommit: opts.beforeCommit } : {}) }, opts);
  } finally {
    ckpt.close();
  }
}

/** Writes the expert adapter of the same tensors (only the changed ones, with the base's identity). */
export async function writeFinetunedAdapter(srcDir: string, trainable: TrainableSet, trained: ReadonlyMap<string, F32Tensor>, outDir: string, training: unknown, signal?: AbortSignal, extraFiles?: readonly ExtraFile[]): Promise<AdapterManifest> {
  const ckpt = openCheckpoint(srcDir);
  try {
    return await writeExpertAdapter(ckpt.dir, trainedTensorUpdates(ckpt, trainable, trained), outDir, { training, ...(signal ? { signal } : {}), ...(extraFiles ? { extraFiles } : {}) });
  } finally {
    ckpt.close();
  }
}
