// 16-bit checkpoints held in their stored dtype (cached, streaming) and widened to float32 when a layer
// runs equal the same checkpoint converted to an F32 file and run as one whole-model graph, bitwise
// (BF16/F16 -> F32 is exact). Configs cover separate and fused (GraniteMoE) expert layouts, dense layers
// beside MoE layers, a shared expert and tied embeddings.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import type { StorageDtype } from '../../src/engine/model/dtype';
import { writeSafetensors } from '../../src/engine/model/safetensorsWriter';
import { MoeEngine, type EngineOptions } from '../../src/engine/moeEngine';
import { fixture } from '../support/paths';
import { writeCheckpointForConfig } from '../support/randomCheckpoint';
import { assertSameForward } from './layerwiseCompare';

const made: string[] = [];
const tmp = (tag: string): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `moe-lw-${tag}-`));
  made.push(d);
  return d;
};
const rawConfig = (name: string, edit: Record<string, unknown> = {}): Record<string, unknown> => ({ ...(JSON.parse(fs.readFileSync(path.join(fixture(name), 'config.json'), 'utf8')) as Record<string, unknown>), ...edit });

/** The checkpoint in `dir` rewritten with every tensor as F32 (exact widening). */
async function f32Copy(dir: string): Promise<string> {
  const out = tmp('f32');
  const ckpt = openCheckpoint(dir);
  try {
    await writeSafetensors(path.join(out, 'model.safetensors'), [...ckpt.tensors.entries()].map(([name, { entry }]) => ({ name, dtype: 'F32' as const, shape: entry.shape, data: ckpt.readF32(name) })), { format: 'pt' });
  } finally {
    ckpt.close();
  }
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(path.join(out, 'config.json'), JSON.stringify({ ...config, torch_dtype: 'float32' }));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(dir, f), path.join(out, f));
  return out;
}

const CASES: [string, Record<string, unknown>, StorageDtype][] = [
  ['qwen2_moe (dense layer 1, shared expert)', rawConfig('qwen2_moe', { mlp_only_layers: [1] }), 'BF16'],
  ['granitemoe (fused experts)', rawConfig('granitemoe'), 'F16'],
  ['mixtral', rawConfig('mixtral', { tie_word_embeddings: true }), 'BF16'],
  ['olmoe', rawConfig('olmoe'), 'F16'],
];
const MODES: [string, EngineOptions][] = [
  ['resident', { execution: 'layer-wise' }],
  ['cached', { weightMode: 'cached', f32Layers: new Set([1]) }],
  ['streaming', { weightMode: 'streaming', f32Layers: new Set<number>() }],
];

describe('16-bit checkpoints in their stored dtype = their float32 conversion', () => {
  after(() => {
    for (const d of made) fs.rmSync(d, { recursive: true, force: true });
  });
  for (const [label, raw, dtype] of CASES) {
    it(`${label}, ${dtype}`, async () => {
      const dir = tmp(dtype);
      await writeCheckpointForConfig(dir, raw, 7, dtype);
      const reference = await MoeEngine.load(await f32Copy(dir), { execution: 'whole-graph' });
      const ids = Array.from({ length: 23 }, (_, i) => (i * 37 + 5) % 256);
      const capture = { routing: true, hidden: true, logits: true };
      const norms = { routing: true, hidden: false, logits: false, expertNorms: true };
      const want = await reference.forward(ids, capture);
      const wantNorms = reference.config.layers.some((l) => l.kind === 'moe') ? await reference.forward(ids, norms) : undefined;
      await reference.dispose();
      for (const [mode, opts] of MODES) {
        const e = await MoeEngine.load(dir, opts);
        try {
          assertSameForward(await e.forward(ids, capture), want, `${mode}`, 0);
          if (wantNorms) assertSameForward(await e.forward(ids, norms), wantNorms, `${mode}, expert norms`, 0);
        } finally {
          await e.dispose();
        }
      }
    });
  }
});
