// The full-size benchmark checkpoint generator (scripts/makeBenchCheckpoint.ts), run on small versions of
// the published shapes: Hub-style shards (one per layer) with the exact tensor names, BF16, an index, and a
// folder the engine loads and runs. The full sizes (14 and 29 GB) are generated only on request.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { writeBenchCheckpoint } from '../../scripts/makeBenchCheckpoint';
import { PUBLISHED_CONFIGS } from '../../src/devtools/publishedShapes';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { expectedTensors } from '../../src/engine/model/tensorSpec';
import { MoeEngine } from '../../src/engine/moeEngine';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-bench-ckpt-'));
/** The published config with its sizes shrunk, everything else (family, names, flags) as published. */
const small = (name: keyof typeof PUBLISHED_CONFIGS, shrink: Record<string, unknown>): Record<string, unknown> => ({ ...PUBLISHED_CONFIGS[name], hidden_size: 64, num_attention_heads: 4, num_key_value_heads: 4, num_hidden_layers: 2, vocab_size: 1024, ...shrink });

describe('benchmark checkpoint generator', () => {
  after(() => fs.rmSync(scratch, { recursive: true, force: true }));

  for (const [name, shrink] of [
    ['olmoe-1b-7b', { num_experts: 8, intermediate_size: 32 }],
    ['qwen1.5-moe-a2.7b', { num_experts: 6, moe_intermediate_size: 32, shared_expert_intermediate_size: 96, intermediate_size: 96 }],
  ] as const) {
    it(`${name}: one shard per layer plus one, exact names, BF16, loadable and runnable`, async () => {
      const dir = path.join(scratch, name);
      const shards: number[] = [];
      const config = writeBenchCheckpoint(dir, small(name, shrink), { onShard: (done) => shards.push(done) });
      assert.deepEqual(shards, [1, 2, 3]);
      assert.ok(!fs.existsSync(`${dir}.partial`));
      const index = JSON.parse(fs.readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string>; metadata: { total_size: number } };
      assert.deepEqual(Object.keys(index.weight_map).sort(), expectedTensors(config).map((t) => t.name).sort());
      assert.equal(index.weight_map['model.layers.1.self_attn.q_proj.weight'], 'model-00003-of-00003.safetensors');
      const ckpt = openCheckpoint(dir);
      try {
        assert.deepEqual(new Set([...ckpt.tensors.values()].map((t) => t.entry.dtype)), new Set(['BF16']));
        assert.equal([...ckpt.tensors.values()].reduce((a, t) => a + t.entry.byteLength, 0), index.metadata.total_size);
        const norm = ckpt.readF32('model.layers.0.input_layernorm.weight');
        assert.ok(norm.every((v) => v >= 0.89 && v <= 1.11), 'norms near 1');
        const q = ckpt.readF32('model.layers.0.self_attn.q_proj.weight');
        const std = Math.sqrt(q.reduce((a, v) => a + v * v, 0) / q.length);
        assert.ok(Math.abs(std - 1 / Math.sqrt(64)) < 0.01, `q_proj std ${std}`);
      } finally {
        ckpt.close();
      }
      const engine = await MoeEngine.load(dir);
      try {
        assert.equal(engine.info.untrained !== undefined, true, 'marked untrained');
        const r = await engine.forward(engine.encodePrompt('The quick brown fox').map((t) => t.id), { routing: true, hidden: false, logits: false });
        assert.equal(r.routing.length, 2);
        assert.ok(Number.isFinite(r.loss), `loss ${r.loss}`);
      } finally {
        await engine.dispose();
      }
      // A complete folder with the same spec is reused, not written again.
      const before = fs.statSync(path.join(dir, 'model-00002-of-00003.safetensors')).mtimeMs;
      writeBenchCheckpoint(dir, small(name, shrink), { onShard: () => assert.fail('rewritten') });
      assert.equal(fs.statSync(path.join(dir, 'model-00002-of-00003.safetensors')).mtimeMs, before);
    });
  }
});
