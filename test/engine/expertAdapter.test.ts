// Expert adapters: written from changed tensors, applied back to their base into a full checkpoint equal to
// the base with exactly those tensors replaced (BF16 and F32 bases, one and two shards), refused on another
// base or a damaged adapter, and nothing left behind when refused or cancelled.
// Run: node --import tsx --test test/engine/expertAdapter.test.ts
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { ADAPTER_MANIFEST, ADAPTER_WEIGHTS, applyExpertAdapter, readAdapterManifest, writeExpertAdapter } from '../../src/engine/finetune/expertAdapter';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { f32ToBf16 } from '../../src/engine/model/dtype';
import { expertLayout } from '../../src/engine/model/tensorSpec';
import { readModelProvenance } from '../../src/engine/modelProvenance';
import { MoeEngine } from '../../src/engine/moeEngine';
import { fixture } from '../support/paths';
import { copyFixture, editJson, removeTempModels } from '../support/tempModel';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-adapter-'));
after(() => {
  fs.rmSync(root, { recursive: true, force: true });
  removeTempModels();
});
let n = 0;
const fresh = (label: string): string => path.join(root, `${label}-${n++}`);

/** New values for expert `e` of the first MoE layer's gate and down tensors: f(x) = 1.5x + 0.01. */
function changedExperts(name: string, e: number): { names: string[]; values: Map<string, Float32Array> } {
  const ckpt = openCheckpoint(fixture(name));
  try {
    const L = ckpt.config.layers.findIndex((l) => l.kind === 'moe');
    const lay = expertLayout(ckpt.config, L);
    assert.equal(lay.kind, 'separate');
    const names = lay.kind === 'separate' ? [lay.gate(e), lay.down(e)] : [];
    const values = new Map(names.map((t) => [t, Float32Array.from(ckpt.tensors.get(t)!.file.readF32(t), (x) => 1.5 * x + 0.01)]));
    return { names, values };
  } finally {
    ckpt.close();
  }
}

describe('expert adapters', () => {
  for (const name of ['olmoe', 'mixtral']) {
    test(`${name}: adapter holds only the changed tensors; applied, it gives the base with exactly those replaced`, async () => {
      const { names, values } = changedExperts(name, 1);
      const adapter = fresh('adapter');
      const manifest = await writeExpertAdapter(fixture(name), new Map(names.map((t) => [t, () => values.get(t)!.slice()])), adapter, { training: { note: 'test' } });
      assert.deepEqual(fs.readdirSync(adapter).sort(), [ADAPTER_MANIFEST, ADAPTER_WEIGHTS].sort());
      assert.deepEqual(manifest.tensors.map((t) => t.name).sort(), [...names].sort());
      assert.deepEqual(readAdapterManifest(adapter), manifest);
      const out = fresh('applied');
      const { written, record } = await applyExpertAdapter(fixture(name), adapter, out);
      assert.equal(written.dir, out);
      assert.deepEqual(record.tensors, manifest.tensors.map((t) => t.name));
      const base = openCheckpoint(fixture(name));
      const got = openCheckpoint(out);
      try {
        assert.deepEqual([...got.tensors.keys()].sort(), [...base.tensors.keys()].sort());
        for (const [t, loc] of base.tensors) {
          const g = got.tensors.get(t)!;
          assert.equal(g.entry.dtype, loc.entry.dtype, t);
          assert.deepEqual(g.entry.shape, loc.entry.shape, t);
          const gb = Buffer.from(g.file.readRaw(t));
          if (!values.has(t)) {
            assert.ok(gb.equals(Buffer.from(loc.file.readRaw(t))), `${t} is byte-identical`);
            continue;
          }
          // The defining transformation, rounded to the stored dtype.
          const v = values.get(t)!;
          const want = loc.entry.dtype === 'BF16' ? Buffer.from((() => { const u = new Uint16Array(v.length); f32ToBf16(v, u); return u.buffer; })()) : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
          assert.ok(gb.equals(want), `${t} holds the new values`);
        }
      } finally {
        base.close();
        got.close();
      }
      assert.ok(fs.readFileSync(path.join(out, 'config.json')).equals(fs.readFileSync(path.join(fixture(name), 'config.json'))));
      assert.ok(fs.readFileSync(path.join(out, 'tokenizer.json')).equals(fs.readFileSync(path.join(fixture(name), 'tokenizer.json'))));
      // It loads and runs, and its provenance reads without warnings.
      const engine = await MoeEngine.load(out);
      try {
        const r = await engine.forward([1, 2, 3, 4], { routing: true, hidden: false, logits: false });
        assert.ok(Number.isFinite(r.loss));
        assert.deepEqual(engine.info.warnings ?? [], []);
      } finally {
        await engine.dispose();
      }
    });
  }

  test('refused on another model, on a base whose replaced tensor differs, and for a damaged adapter; nothing written', async () => {
    const { names, values } = changedExperts('olmoe', 0);
    const adapter = fresh('adapter');
    await writeExpertAdapter(fixture('olmoe'), new Map(names.map((t) => [t, () => values.get(t)!])), adapter);
    const out = fresh('refused');
    await assert.rejects(applyExpertAdapter(fixture('qwen3_moe'), adapter, out), /was made for olmoe .* not for .*qwen3_moe.*apply it to its own base model/);
    // Same architecture, routers and headers (so the same model identity), one replaced tensor different.
    const other = copyFixture('olmoe');
    const file = path.join(other, 'model.safetensors');
    const c = openCheckpoint(other);
    const entry = c.tensors.get(names[0]!)!.entry;
    c.close();
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([0x3f]), 0, 1, entry.byteOffset + 3);
    fs.closeSync(fd);
    await assert.rejects(applyExpertAdapter(other, adapter, out), new RegExp(`base whose "${names[0]!.replace(/\./g, '\\.')}" differs`));
    // A damaged adapter file.
    const damaged = fresh('damaged');
    fs.cpSync(adapter, damaged, { recursive: true });
    const w = path.join(damaged, ADAPTER_WEIGHTS);
    const bytes = fs.readFileSync(w);
    bytes[bytes.length - 1] ^= 0xff;
    fs.writeFileSync(w, bytes);
    await assert.rejects(applyExpertAdapter(fixture('olmoe'), damaged, out), /does not match its sha256/);
    // Malformed manifests name the field.
    editJson(path.join(damaged, ADAPTER_MANIFEST), (m) => {
      (m['tensors'] as Record<string, unknown>[])[0]!['sha256'] = 'xyz';
    });
    assert.throws(() => readAdapterManifest(damaged), /tensors\[0\] must be/);
    editJson(path.join(damaged, ADAPTER_MANIFEST), (m) => {
      m['version'] = 2;
    });
    assert.throws(() => readAdapterManifest(damaged), /version 2 is not supported/);
    assert.throws(() => readAdapterManifest(fixture('olmoe')), /is not an expert adapter: it has no moe_workbench_adapter\.json/);
    assert.equal(fs.existsSync(out), false, 'nothing written');
    assert.deepEqual(fs.readdirSync(root).filter((f) => f.startsWith('.')), [], 'no staging left');
  });

  test('an existing output folder and a cancelled write leave nothing behind; unknown tensors are refused', async () => {
    const { names, values } = changedExperts('mixtral', 2);
    const adapter = fresh('adapter');
    await assert.rejects(writeExpertAdapter(fixture('mixtral'), new Map([['model.layers.0.nope.weight', () => new Float32Array(1)]]), adapter), /has no tensor "model\.layers\.0\.nope\.weight" to update/);
    assert.equal(fs.existsSync(adapter), false);
    await writeExpertAdapter(fixture('mixtral'), new Map(names.map((t) => [t, () => values.get(t)!])), adapter);
    await assert.rejects(writeExpertAdapter(fixture('mixtral'), new Map(names.map((t) => [t, () => values.get(t)!])), adapter), (e: Error & { code?: string }) => e.code === 'E_IO');
    const ac = new AbortController();
    const out = fresh('cancelled');
    let calls = 0;
    const p = applyExpertAdapter(fixture('mixtral'), adapter, out, {
      signal: ac.signal,
      onProgress: () => {
        if (++calls === 3) ac.abort();
      },
    });
    await assert.rejects(p, (e: Error & { code?: string }) => e.code === 'E_CANCELLED');
    assert.equal(fs.existsSync(out), false);
    assert.deepEqual(fs.readdirSync(root).filter((f) => f.startsWith('.')), [], 'no staging left');
  });

  test('a checkpoint made from a pruned model keeps the expert origins of its previous record', async () => {
    // Provenance follows `previous`: a tensor-update record over a prune record gives the prune's origins.
    const dir = copyFixture('mixtral');
    const c = openCheckpoint(dir);
    const moe = c.config.layers.flatMap((l, i) => (l.kind === 'moe' ? [i] : []));
    const E = c.config.layers.find((l) => l.kind === 'moe')!.kind === 'moe' ? (c.config.layers.find((l) => l.kind === 'moe') as { routing: { numExperts: number } }).routing.numExperts : 0;
    c.close();
    const prune = { format: 'moe-workbench.operation', source: { dir: '/src' }, plan: { operation: 'prune' }, experts: moe.map((layer) => ({ layer, kept: Array.from({ length: E }, (_, i) => i + 1), removed: [0] })) };
    fs.writeFileSync(path.join(dir, 'moe_workbench.json'), JSON.stringify({ format: 'moe-workbench.tensor-update', previous: prune }));
    const p = readModelProvenance(dir, moe, E);
    assert.deepEqual(p.warnings, []);
    assert.equal(p.expertOrigins?.operation, 'prune');
    assert.deepEqual(p.expertOrigins?.layers[0]?.experts[0], [1]);
    fs.writeFileSync(path.join(dir, 'moe_workbench.json'), JSON.stringify({ format: 'moe-workbench.tensor-update' }));
    assert.deepEqual(readModelProvenance(dir, moe, E), { warnings: [] });
  });
});
