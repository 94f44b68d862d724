// What each weight mode holds, measured as the bytes the weight store keeps (not RSS): resident keeps the
// float32 weights and nothing else; cached keeps every tensor in its stored dtype except the float32
// layers', plus those layers' float32 copies and two reused buffers of the largest converted unit (the
// running one and the next, prepared meanwhile by the conversion worker; one without the worker);
// streaming keeps only those buffers (and a scratch block of one expert projection per reading thread).
// Expected figures come from the safetensors headers, independently of the store.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { expectedTensors } from '../../src/engine/model/tensorSpec';
import { MoeEngine } from '../../src/engine/moeEngine';
import { fixture } from '../support/paths';

/** Stored and float32 bytes of the fixture, per unit ('layer.L', 'head', 'embeddings'). */
function sizes(name: string): { stored: Map<string, number>; f32: Map<string, number> } {
  const ckpt = openCheckpoint(fixture(name));
  const stored = new Map<string, number>();
  const f32 = new Map<string, number>();
  try {
    for (const t of expectedTensors(ckpt.config)) {
      const m = /^model\.layers\.(\d+)\./.exec(t.name);
      const unit = m ? `layer.${m[1]}` : t.name === 'model.embed_tokens.weight' ? 'embeddings' : 'head';
      stored.set(unit, (stored.get(unit) ?? 0) + ckpt.tensors.get(t.name)!.entry.byteLength);
      f32.set(unit, (f32.get(unit) ?? 0) + t.shape.reduce((a, b) => a * b, 1) * 4);
    }
    if (ckpt.config.tieWordEmbeddings) f32.set('head', f32.get('head')! + f32.get('embeddings')!);
  } finally {
    ckpt.close();
  }
  return { stored, f32 };
}
const total = (m: Map<string, number>, skip: (k: string) => boolean = () => false): number => [...m].reduce((n, [k, v]) => n + (skip(k) ? 0 : v), 0);

describe('bytes held by the weight store in each mode', () => {
  // qwen3_moe: BF16, untied (2 MoE layers); olmoe: BF16, untied.
  for (const name of ['qwen3_moe', 'olmoe']) {
    const { stored, f32 } = sizes(name);
    const ids = [1, 2, 3, 4, 5, 6, 7, 8];
    const largestConverted = (kept: (k: string) => boolean): number => Math.max(...[...f32].filter(([k]) => k !== 'embeddings' && !kept(k)).map(([, v]) => v));

    it(`${name}: resident holds exactly the float32 weights`, async () => {
      const e = await MoeEngine.load(fixture(name));
      await e.forward(ids, { routing: true, hidden: false, logits: false });
      const h = e.weights.holding;
      await e.dispose();
      assert.deepEqual([h.storedBytes, h.bufferBytes, h.f32Bytes], [0, 0, total(f32)]);
    });

    for (const prefetch of [true, false]) {
      it(`${name}: cached holds the stored dtype, layer 0 as float32, and ${prefetch ? 'two unit buffers' : 'one unit buffer (no worker)'}`, async () => {
        const e = await MoeEngine.load(fixture(name), { weightMode: 'cached', f32Layers: new Set([0]), prefetch });
        const before = e.weights.holding;
        await e.forward(ids, { routing: true, hidden: false, logits: false });
        const h = e.weights.holding;
        await e.dispose();
        assert.equal(before.bufferBytes, 0, 'no buffer before the first forward');
        assert.equal(h.storedBytes, total(stored, (k) => k === 'layer.0'), 'every tensor but layer 0 in its stored dtype');
        assert.equal(h.f32Bytes, f32.get('layer.0'), 'float32 copy of layer 0 only');
        assert.equal(h.bufferBytes, (prefetch ? 2 : 1) * largestConverted((k) => k === 'layer.0'), 'buffers the size of the largest converted unit');
      });
    }

    it(`${name}: streaming holds two unit buffers and scratch blocks, no weights`, async () => {
      const e = await MoeEngine.load(fixture(name), { weightMode: 'streaming', f32Layers: new Set<number>() });
      assert.equal(e.weights.holding.totalBytes, 0, 'nothing before the first forward');
      await e.forward(ids, { routing: true, hidden: false, logits: false });
      const h = e.weights.holding;
      await e.dispose();
      assert.deepEqual([h.storedBytes, h.f32Bytes, h.overrideBytes], [0, 0, 0]);
      // 16-bit blocks are read into the conversion kernel's fixed memory (widener.ts), not a scratch buffer.
      assert.equal(h.bufferBytes, 2 * largestConverted(() => false));
    });
  }
});
