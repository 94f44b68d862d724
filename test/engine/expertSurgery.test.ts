// Writing a checkpoint from an expert plan (issue #4): pruned and merged checkpoints of every MoE fixture are
// byte-exact where they copy, averaged where they merge, load in the engine, and every refusal leaves nothing.
// Run: node --import tsx --test test/engine/expertSurgery.test.ts
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Progress } from '../../src/protocol/engineProtocol';
import type { ExpertPlan, LayerPlan, OperationRecord, PlannedExpert } from '../../src/protocol/expertOps';
import { MoeError, type MoeErrorCode } from '../../src/protocol/moeError';
import { openCheckpoint, type Checkpoint } from '../../src/engine/model/checkpoint';
import { bf16ToF32 } from '../../src/engine/model/dtype';
import { type ModelConfig, moeLayerIndices } from '../../src/engine/model/modelConfig';
import { openSafetensors } from '../../src/engine/model/safetensors';
import { writeSafetensors, type TensorToWrite } from '../../src/engine/model/safetensorsWriter';
import { expectedTensors, expertLayout } from '../../src/engine/model/tensorSpec';
import { MoeEngine } from '../../src/engine/moeEngine';
import { writeExpertPlan } from '../../src/engine/surgery/writeExpertPlan';
import { assertClose } from '../support/compare';
import { fixture } from '../support/paths';

const MOE_FIXTURES = ['mixtral', 'qwen2_moe', 'qwen3_moe', 'olmoe', 'granitemoe'] as const;
const COUNT_KEY: Record<string, string> = { mixtral: 'num_local_experts', granitemoe: 'num_local_experts', qwen2_moe: 'num_experts', qwen3_moe: 'num_experts', olmoe: 'num_experts' };

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-surgery-'));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
let counter = 0;
/** A fresh empty folder; the output goes to `<it>/out`, so leftovers in `<it>` are ours. */
function freshDir(): string {
  const d = path.join(tmpRoot, `t${counter++}`);
  fs.mkdirSync(d);
  return d;
}

function withCheckpoint<T>(dir: string, fn: (c: Checkpoint) => T): T {
  const c = openCheckpoint(dir);
  try {
    return fn(c);
  } finally {
    c.close();
  }
}

/** A copy of a (read-only) fixture made writable. */
function writable(dir: string): void {
  fs.chmodSync(dir, 0o755);
  for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o644);
}

const rawOf = (c: Checkpoint, name: string): Uint8Array => c.tensors.get(name)!.file.readRaw(name);
const numExpertsOf = (c: ModelConfig): number => (c.layers.find((l) => l.kind === 'moe') as { routing: { numExperts: number } }).routing.numExperts;

// ---------------------------------------------------------------------------------------------- plans

function layerPlan(c: ModelConfig, L: number, experts: PlannedExpert[]): LayerPlan {
  const E = numExpertsOf(c);
  const used = new Set(experts.flatMap((x) => x.sources.map((s) => s.expert)));
  return { layer: L, numExperts: E, topK: 2, experts, removed: Array.from({ length: E }, (_, e) => e).filter((e) => !used.has(e)), scores: new Array<number>(E).fill(0) };
}

/** Removes `remove` in every MoE layer; the kept experts are reversed and rotated by the layer index. */
function prunePlan(c: ModelConfig, remove: readonly number[] = [1, 4]): ExpertPlan {
  const E = numExpertsOf(c);
  return {
    operation: 'prune',
    description: `test: remove ${remove.join(', ')}`,
    parameters: { method: 'frequency', target: { kind: 'keep', keep: E - remove.length }, protect: [] },
    layers: moeLayerIndices(c).map((L) => {
      const kept = Array.from({ length: E }, (_, e) => e)
        .filter((e) => !remove.includes(e))
        .reverse();
      const order = [...kept.slice(L % kept.length), ...kept.slice(0, L % kept.length)];
      return layerPlan(
        c,
        L,
        order.map((e) => ({ sources: [{ expert: e, weight: 1 }], routerRow: e })),
      );
    }),
  };
}

/** Old experts 0 (weight 3) and 2 (weight 1) merged into new expert 1, routed by old row 2; the rest single. */
function mergePlan(c: ModelConfig): ExpertPlan {
  const E = numExpertsOf(c);
  const singles = Array.from({ length: E }, (_, e) => e).filter((e) => e !== 0 && e !== 2);
  const merged: PlannedExpert = { sources: [{ expert: 0, weight: 3 }, { expert: 2, weight: 1 }], routerRow: 2 };
  const experts = singles.map((e): PlannedExpert => ({ sources: [{ expert: e, weight: 1 }], routerRow: e }));
  experts.splice(1, 0, merged);
  return { operation: 'merge', description: 'test: merge 0+2', parameters: { keep: E - 1 }, layers: moeLayerIndices(c).map((L) => layerPlan(c, L, experts)) };
}

function recordOf(src: string, plan: ExpertPlan): OperationRecord {
  return {
    format: 'moe-workbench.operation',
    version: 1,
    createdAt: '2025-01-01T00:00:00.000Z',
    tool: 'moe-workbench test',
    source: { dir: src, sha256: '0'.repeat(64) },
    plan,
    experts: plan.layers.map((lp) => ({ layer: lp.layer, kept: lp.experts.map((x) => x.routerRow), removed: lp.removed })),
  };
}

// ---------------------------------------------------------------------------------------------- checks

/** Names of the router and routed-expert tensors of the MoE layers (for "everything else is copied"). */
function expertOwned(c: ModelConfig): Set<string> {
  const out = new Set<string>();
  for (const L of moeLayerIndices(c)) {
    const lay = expertLayout(c, L);
    out.add(lay.router);
    if (lay.kind === 'fused') out.add(lay.gateUp).add(lay.down);
    else for (let e = 0; e < numExpertsOf(c); e++) out.add(lay.gate(e)).add(lay.up(e)).add(lay.down(e));
  }
  return out;
}

/** The parts of a written checkpoint every plan must get right, whatever it does to the experts. */
function checkCommon(srcDir: string, outDir: string, plan: ExpertPlan, record: OperationRecord, newE: number): void {
  const srcCfg = JSON.parse(fs.readFileSync(path.join(srcDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const outText = fs.readFileSync(path.join(outDir, 'config.json'), 'utf8');
  const outCfg = JSON.parse(outText) as Record<string, unknown>;
  const key = COUNT_KEY[String(srcCfg['model_type'])]!;
  assert.equal(outCfg[key], newE);
  assert.equal(outCfg['num_experts_per_tok'], srcCfg['num_experts_per_tok']);
  assert.deepEqual(Object.keys(outCfg), Object.keys(srcCfg), 'config.json keeps every key in order');
  assert.deepEqual({ ...outCfg, [key]: srcCfg[key] }, srcCfg, 'only the expert count changes');
  assert.ok(outText.endsWith('}\n') && outText.includes('\n  "'), 'config.json: 2-space indent and a trailing newline');

  for (const f of ['tokenizer.json', 'tokenizer_config.json']) assert.deepEqual(fs.readFileSync(path.join(outDir, f)), fs.readFileSync(path.join(srcDir, f)), f);
  const files = fs.readdirSync(outDir);
  assert.ok(!files.some((f) => f.startsWith('expected')), 'reference outputs are not copied');
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(outDir, 'moe_workbench.json'), 'utf8')), JSON.parse(JSON.stringify(record)));
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(outDir, 'moe_workbench.json'), 'utf8')).plan, plan);

  withCheckpoint(srcDir, (src) =>
    withCheckpoint(outDir, (out) => {
      assert.equal(numExpertsOf(out.config), newE);
      const extras = [...src.tensors.keys()].filter((n) => !expectedTensors(src.config).some((t) => t.name === n));
      const want = [...expectedTensors(out.config).map((t) => t.name), ...extras].sort();
      assert.deepEqual([...out.tensors.keys()].sort(), want, 'tensor names: what the new config implies, plus the source extras');
      const owned = expertOwned(src.config);
      for (const [name, loc] of src.tensors) {
        if (owned.has(name)) continue;
        assert.equal(out.tensors.get(name)!.entry.dtype, loc.entry.dtype, name);
        assert.deepEqual(rawOf(out, name), rawOf(src, name), `${name} is copied byte for byte`);
      }
      for (const [name, loc] of out.tensors) {
        const srcName = src.tensors.has(name) ? name : name.replace(/\.experts\.\d+\./, '.experts.0.');
        assert.equal(loc.entry.dtype, src.tensors.get(srcName)!.entry.dtype, `${name} keeps the source dtype`);
      }
    }),
  );
}

/** Router rows and kept (single-source) experts are the source's bytes, renumbered. */
function checkCopiedExperts(srcDir: string, outDir: string, plan: ExpertPlan): void {
  withCheckpoint(srcDir, (src) =>
    withCheckpoint(outDir, (out) => {
      const E = numExpertsOf(src.config);
      for (const lp of plan.layers) {
        const lay = expertLayout(src.config, lp.layer);
        const srcRouter = rawOf(src, lay.router);
        const outRouter = rawOf(out, lay.router);
        const row = srcRouter.length / E;
        assert.equal(outRouter.length, row * lp.experts.length);
        lp.experts.forEach((x, j) => {
          assert.deepEqual(outRouter.subarray(j * row, (j + 1) * row), srcRouter.subarray(x.routerRow * row, (x.routerRow + 1) * row), `layer ${lp.layer} router row ${j}`);
          if (x.sources.length !== 1) return;
          const old = x.sources[0]!.expert;
          if (lay.kind === 'separate') {
            for (const name of [lay.gate, lay.up, lay.down]) assert.deepEqual(rawOf(out, name(j)), rawOf(src, name(old)), `${name(j)} = old ${name(old)}`);
          } else {
            for (const name of [lay.gateUp, lay.down]) {
              const s = rawOf(src, name);
              const o = rawOf(out, name);
              const slice = s.length / E;
              assert.deepEqual(o.subarray(j * slice, (j + 1) * slice), s.subarray(old * slice, (old + 1) * slice), `${name}[${j}] = old [${old}]`);
            }
          }
        });
      }
    }),
  );
}

/** Loads and runs the written model; returns the engine's routing result. */
async function runEngine(dir: string, masked?: ReadonlyMap<number, readonly number[]>): Promise<Awaited<ReturnType<MoeEngine['forward']>>> {
  const engine = await MoeEngine.load(dir);
  try {
    return await engine.forward([1, 2, 3, 4], { routing: true, hidden: false, logits: true }, masked ? { maskedExperts: masked } : {});
  } finally {
    await engine.dispose();
  }
}

/** What is at `p`: a folder's entries, a file's text, or undefined. */
function snapshot(p: string): string[] | string | undefined {
  if (!fs.existsSync(p)) return undefined;
  return fs.statSync(p).isDirectory() ? fs.readdirSync(p).sort() : fs.readFileSync(p, 'utf8');
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function leftovers(parent: string): string[] {
  return fs.existsSync(parent) ? fs.readdirSync(parent).filter((f) => f.includes('.partial-') || f.includes('.tmp-')) : [];
}

async function expectRefused(p: Promise<unknown>, code: MoeErrorCode, message: RegExp | string): Promise<MoeError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof MoeError, `expected a MoeError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  if (typeof message === 'string') assert.ok(err.message.includes(message), `message "${err.message}" should include "${message}"`);
  else assert.match(err.message, message);
  return err;
}

// ---------------------------------------------------------------------------------------------- tests

describe('writeExpertPlan: pruning', () => {
  for (const name of MOE_FIXTURES) {
    it(`${name}: removes experts 1 and 4, renumbers the rest byte for byte, and the result loads and runs`, async () => {
      const src = fixture(name);
      const config = withCheckpoint(src, (c) => c.config);
      const plan = prunePlan(config);
      const record = recordOf(src, plan);
      const parent = freshDir();
      const out = path.join(parent, 'pruned');
      const events: Progress[] = [];
      const { written } = await writeExpertPlan(src, plan, out, record, { onProgress: (p) => events.push(p) });

      const E = numExpertsOf(config);
      assert.equal(written.dir, out);
      assert.deepEqual(written.files, fs.readdirSync(out).sort());
      assert.equal(written.bytes, written.files.reduce((s, f) => s + fs.statSync(path.join(out, f)).size, 0));
      assert.ok(written.files.includes('model.safetensors') && !written.files.includes('model.safetensors.index.json'), 'a small model is one file');
      assert.deepEqual(leftovers(parent), []);
      assert.ok(events.length > withCheckpoint(out, (c) => c.tensors.size), 'progress at least per tensor');
      assert.ok(events.every((p) => p.stage === 'write' && p.done <= p.total));
      assert.equal(events.at(-1)!.done, events.at(-1)!.total);

      checkCommon(src, out, plan, record, E - 2);
      checkCopiedExperts(src, out, plan);

      // Pruning = the source model with the removed experts masked out of the router (same logits, same
      // routing once new ids are mapped back to old ones).
      const pruned = await runEngine(out);
      assert.equal(pruned.routing.length, moeLayerIndices(config).length);
      const masked = await runEngine(src, new Map(plan.layers.map((lp) => [lp.layer, lp.removed])));
      assertClose(pruned.logits!.data, masked.logits!.data, 1e-4, `${name} logits`);
      pruned.routing.forEach((r, i) => {
        const lp = plan.layers[i]!;
        assert.ok(r.experts.data.every((e) => e >= 0 && e < E - 2));
        assert.deepEqual(Array.from(r.experts.data, (e) => lp.experts[e]!.routerRow), Array.from(masked.routing[i]!.experts.data), `layer ${lp.layer} routing`);
      });
    });
  }
});

describe('writeExpertPlan: merging', () => {
  for (const name of MOE_FIXTURES) {
    it(`${name}: a 3:1 group is the weighted average in the source dtype; the rest is copied`, async () => {
      const src = fixture(name);
      const config = withCheckpoint(src, (c) => c.config);
      const plan = mergePlan(config);
      const record = recordOf(src, plan);
      const out = path.join(freshDir(), 'merged');
      await writeExpertPlan(src, plan, out, record);
      const E = numExpertsOf(config);
      checkCommon(src, out, plan, record, E - 1);
      checkCopiedExperts(src, out, plan);

      withCheckpoint(src, (s) =>
        withCheckpoint(out, (o) => {
          for (const L of moeLayerIndices(config)) {
            const lay = expertLayout(config, L);
            // [name in the output, the new expert's values, old expert 0's, old expert 2's, dtype]
            const cases: [string, Float32Array, Float32Array, Float32Array, string][] = [];
            if (lay.kind === 'separate') {
              for (const n of [lay.gate, lay.up, lay.down]) cases.push([n(1), o.readF32(n(1)), s.readF32(n(0)), s.readF32(n(2)), o.tensors.get(n(1))!.entry.dtype]);
            } else {
              for (const n of [lay.gateUp, lay.down]) {
                const a = s.readF32(n);
                const b = o.readF32(n);
                const k = a.length / E;
                cases.push([`${n}[1]`, b.subarray(k, 2 * k), a.subarray(0, k), a.subarray(2 * k, 3 * k), o.tensors.get(n)!.entry.dtype]);
              }
            }
            for (const [label, got, x0, x2, dtype] of cases) {
              for (let i = 0; i < got.length; i++) {
                const want = (3 * x0[i]! + x2[i]!) / 4;
                // F32: float32 rounding of the sum; BF16: within one bf16 ulp (2^(e-7)) of the average.
                const tol = dtype === 'BF16' ? 2 ** (Math.floor(Math.log2(Math.abs(want) || 2 ** -126)) - 7) : 1e-6 * Math.max(1, Math.abs(want));
                assert.ok(Math.abs(got[i]! - want) <= tol, `${label} [${i}]: ${got[i]} vs ${want} (${dtype}, tol ${tol})`);
              }
            }
          }
        }),
      );
      const r = await runEngine(out);
      assert.ok(r.routing.every((l) => l.experts.data.every((e) => e >= 0 && e < E - 1)));
    });
  }
});

describe('writeExpertPlan: output layout', () => {
  it('shards like save_pretrained when the model is larger than the shard size, with an index', async () => {
    const src = fixture('mixtral');
    const plan = prunePlan(withCheckpoint(src, (c) => c.config));
    const out = path.join(freshDir(), 'sharded');
    const { written } = await writeExpertPlan(src, plan, out, recordOf(src, plan), { maxShardBytes: 300_000 });
    const shards = written.files.filter((f) => f.endsWith('.safetensors'));
    assert.ok(shards.length >= 3, `${shards.length} shards`);
    shards.forEach((f, i) => assert.equal(f, `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`));
    const index = JSON.parse(fs.readFileSync(path.join(out, 'model.safetensors.index.json'), 'utf8')) as { metadata: { total_size: number }; weight_map: Record<string, string> };
    let total = 0;
    for (const f of shards) {
      const st = openSafetensors(path.join(out, f));
      let size = 0;
      for (const e of st.tensors.values()) {
        size += e.byteLength;
        assert.equal(index.weight_map[e.name], f);
      }
      assert.equal(st.metadata['format'], 'pt');
      st.close();
      assert.ok(size <= 300_000 || st.tensors.size === 1, `${f}: ${size} bytes`);
      total += size;
    }
    assert.equal(index.metadata.total_size, total);
    assert.deepEqual(Object.keys(index.weight_map), Object.keys(index.weight_map).sort());
    checkCommon(src, out, plan, recordOf(src, plan), 6);
    checkCopiedExperts(src, out, plan);
  });

  it('copies extra tensors and files, skips subfolders and stale weights, writes into an existing empty folder', async () => {
    // A qwen3_moe copy with an extra tensor, extra files, a PyTorch weights file and a subfolder.
    const src = path.join(freshDir(), 'src');
    fs.cpSync(fixture('qwen3_moe'), src, { recursive: true });
    writable(src);
    const st = openSafetensors(path.join(fixture('qwen3_moe'), 'model.safetensors'));
    const tensors: TensorToWrite[] = [...st.tensors.values()].map((e) => ({ name: e.name, dtype: e.dtype as 'BF16', shape: e.shape, data: () => st.readRaw(e.name) }));
    tensors.push({ name: 'model.rotary_emb.inv_freq', dtype: 'F32', shape: [3], data: new Float32Array([1, 0.5, 0.25]) });
    await writeSafetensors(path.join(src, 'model.safetensors'), tensors, { format: 'pt' });
    st.close();
    fs.writeFileSync(path.join(src, 'README.md'), '# model card\n');
    fs.writeFileSync(path.join(src, 'generation_config.json'), '{"do_sample": false}\n');
    fs.writeFileSync(path.join(src, 'pytorch_model.bin'), 'stale');
    fs.writeFileSync(path.join(src, 'moe_workbench.json'), '{"old": true}');
    fs.mkdirSync(path.join(src, 'sub'));
    fs.writeFileSync(path.join(src, 'sub', 'x.txt'), 'x');

    const plan = prunePlan(withCheckpoint(src, (c) => c.config), [0, 7]);
    const record = recordOf(src, plan);
    const out = path.join(freshDir(), 'out');
    fs.mkdirSync(out);
    const { written } = await writeExpertPlan(src, plan, out, record);
    assert.deepEqual(written.files, ['README.md', 'config.json', 'generation_config.json', 'model.safetensors', 'moe_workbench.json', 'tokenizer.json', 'tokenizer_config.json']);
    assert.equal(fs.readFileSync(path.join(out, 'README.md'), 'utf8'), '# model card\n');
    checkCommon(src, out, plan, record, 6);
    checkCopiedExperts(src, out, plan);
    withCheckpoint(out, (c) => assert.deepEqual([...c.readF32('model.rotary_emb.inv_freq')], [1, 0.5, 0.25]));
  });

  it('refuses an unknown tensor among the experts (it could not be renumbered)', async () => {
    const src = path.join(freshDir(), 'src');
    fs.cpSync(fixture('olmoe'), src, { recursive: true });
    writable(src);
    const st = openSafetensors(path.join(fixture('olmoe'), 'model.safetensors'));
    const tensors: TensorToWrite[] = [...st.tensors.values()].map((e) => ({ name: e.name, dtype: e.dtype as 'BF16', shape: e.shape, data: st.readRaw(e.name) }));
    st.close();
    tensors.push({ name: 'model.layers.1.mlp.experts.3.gate_proj.bias', dtype: 'F32', shape: [48], data: new Float32Array(48) });
    await writeSafetensors(path.join(src, 'model.safetensors'), tensors);
    const plan = prunePlan(withCheckpoint(src, (c) => c.config));
    const parent = freshDir();
    await expectRefused(writeExpertPlan(src, plan, path.join(parent, 'out'), recordOf(src, plan)), 'E_UNSUPPORTED', /"model\.layers\.1\.mlp\.experts\.3\.gate_proj\.bias" belongs to the experts or router of MoE layer 1/);
    assert.deepEqual(fs.readdirSync(parent), []);
  });
});

describe('writeExpertPlan: refusals leave nothing behind', () => {
  /** Runs a write that must fail and checks that neither the output nor a temp folder appeared. */
  async function refused(src: string, plan: ExpertPlan, code: MoeErrorCode, message: RegExp | string, opts: Parameters<typeof writeExpertPlan>[4] = {}, out?: string): Promise<void> {
    const parent = freshDir();
    const dest = out ?? path.join(parent, 'out');
    const before = snapshot(dest);
    await expectRefused(writeExpertPlan(src, plan, dest, recordOf(src, plan), opts), code, message);
    assert.deepEqual(snapshot(dest), before, 'the output is untouched');
    assert.deepEqual(leftovers(parent), []);
    assert.deepEqual(leftovers(path.dirname(dest)), []);
  }

  const mixtral = fixture('mixtral');
  const mixtralConfig = (): ModelConfig => withCheckpoint(mixtral, (c) => c.config);

  it('top-k larger than the experts left', async () => {
    const plan = prunePlan(mixtralConfig(), [0, 1, 2, 3, 4, 5, 6]);
    await refused(mixtral, plan, 'E_INPUT', 'layer 0 would keep 1 expert, fewer than num_experts_per_tok = 2');
  });

  it('different counts per layer (HF configs hold one expert count)', async () => {
    for (const name of ['mixtral', 'qwen2_moe']) {
      const src = fixture(name);
      const c = withCheckpoint(src, (x) => x.config);
      const plan = prunePlan(c, [1]);
      const two = prunePlan(c, [1, 4]);
      const mixed: ExpertPlan = { ...plan, parameters: { method: 'reap', target: { kind: 'global', ratio: 0.2, minPerLayer: 2 }, protect: [] }, layers: [plan.layers[0]!, ...two.layers.slice(1)] };
      const arch = c.architecture;
      await refused(src, mixed, 'E_INPUT', `a global target leaves 6–7 experts per layer (layer 0: 7, layer 1: 6`);
      await refused(src, mixed, 'E_INPUT', `but ${arch}'s config.json has one ${COUNT_KEY[name]} for all layers, so transformers could not load the result; use a per-layer target (--keep N or --ratio R)`);
    }
  });

  it('plans that do not fit the model', async () => {
    const c = mixtralConfig();
    const base = prunePlan(c);
    const l0 = base.layers[0]!;
    const withL0 = (lp: Partial<LayerPlan>): ExpertPlan => ({ ...base, layers: [{ ...l0, ...lp }, ...base.layers.slice(1)] });
    const x = (sources: [number, number][], routerRow: number): PlannedExpert => ({ sources: sources.map(([expert, weight]) => ({ expert, weight })), routerRow });
    await refused(mixtral, withL0({ numExperts: 16 }), 'E_INPUT', 'layer 0 was planned for 16 experts, but the model has 8');
    await refused(mixtral, withL0({ experts: [...l0.experts.slice(0, 5), x([[9, 1]], 9)] }), 'E_INPUT', 'layer 0, new expert 5: source expert 9 does not exist (the layer has experts 0..7)');
    await refused(mixtral, withL0({ experts: [...l0.experts.slice(0, 5), x([[7, 1]], 7)] }), 'E_INPUT', /layer 0: old expert 7 is used by new experts 0 and 5/);
    await refused(mixtral, withL0({ experts: [...l0.experts.slice(0, 5), x([[1, 0]], 1)] }), 'E_INPUT', 'source expert 1 has weight 0; weights must be finite and > 0');
    await refused(mixtral, withL0({ experts: [...l0.experts.slice(0, 5), x([[1, NaN]], 1)] }), 'E_INPUT', 'source expert 1 has weight NaN');
    await refused(mixtral, withL0({ experts: [...l0.experts.slice(0, 5), x([[1, 1], [4, 1]], 3)] }), 'E_INPUT', 'layer 0, new expert 5: router row 3 is not one of its source experts (1, 4)');
    await refused(mixtral, withL0({ removed: [1] }), 'E_INPUT', 'layer 0: "removed" lists [1], but the experts in no new expert are [1, 4]');
    await refused(mixtral, { ...base, layers: [base.layers[0]!] }, 'E_INPUT', 'MoE layer 1 of MixtralForCausalLM has no plan');
    await refused(mixtral, { ...base, layers: [...base.layers, { ...l0, layer: 5 }] }, 'E_INPUT', 'layer 5 is not an MoE layer of MixtralForCausalLM (its MoE layers are 0, 1)');
    await refused(mixtral, { ...base, layers: [...base.layers, l0] }, 'E_INPUT', 'layer 0 is planned twice');
    await refused(fixture('llama'), base, 'E_INPUT', 'LlamaForCausalLM is a dense model');
  });

  it('output folder exists and is not empty', async () => {
    const parent = freshDir();
    const out = path.join(parent, 'out');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'keep.txt'), 'mine');
    const plan = prunePlan(mixtralConfig());
    await refused(mixtral, plan, 'E_IO', `${out}: the output folder already exists and is not empty`, {}, out);
    assert.equal(fs.readFileSync(path.join(out, 'keep.txt'), 'utf8'), 'mine');
    const file = path.join(parent, 'afile');
    fs.writeFileSync(file, 'x');
    await refused(mixtral, plan, 'E_IO', `${file}: exists and is not a folder`, {}, file);
  });

  it('output folder under a regular file', async () => {
    const parent = freshDir();
    const file = path.join(parent, 'plain');
    fs.writeFileSync(file, 'x');
    const out = path.join(file, 'sub', 'out');
    await refused(mixtral, prunePlan(mixtralConfig()), 'E_IO', new RegExp(`^${escapeRe(out)}: cannot create the parent folder .*(ENOTDIR|EEXIST)`), {}, out);
    assert.deepEqual(fs.readdirSync(parent), ['plain']);
  });

  it('missing parent folders are created, and removed again when the write fails', async () => {
    const parent = freshDir();
    const out = path.join(parent, 'a', 'b', 'out');
    const ac = new AbortController();
    const plan = prunePlan(mixtralConfig());
    await expectRefused(writeExpertPlan(mixtral, plan, out, recordOf(mixtral, plan), { signal: ac.signal, onProgress: () => ac.abort() }), 'E_CANCELLED', out);
    assert.deepEqual(fs.readdirSync(parent), []);
    const { written } = await writeExpertPlan(mixtral, plan, out, recordOf(mixtral, plan));
    assert.equal(written.dir, out);
  });

  it('output folder inside (or equal to) the source folder', async () => {
    const src = path.join(freshDir(), 'model');
    fs.cpSync(fixture('granitemoe'), src, { recursive: true });
    writable(src);
    const before = fs.readdirSync(src).sort();
    const plan = prunePlan(withCheckpoint(src, (c) => c.config));
    for (const out of [path.join(src, 'pruned'), path.join(src, 'a', 'b'), src, `${src}/./pruned/..`]) {
      await expectRefused(writeExpertPlan(src, plan, out, recordOf(src, plan)), 'E_IO', /the output folder is (the source model folder|inside the source model folder)/);
      assert.deepEqual(fs.readdirSync(src).sort(), before);
    }
    // Through a symlink to the source folder too.
    const link = path.join(path.dirname(src), 'alias');
    fs.symlinkSync(src, link);
    await expectRefused(writeExpertPlan(src, plan, path.join(link, 'pruned'), recordOf(src, plan)), 'E_IO', `inside the source model folder ${src}`);
    assert.deepEqual(fs.readdirSync(src).sort(), before);
  });

  for (const name of ['mixtral', 'qwen3_moe'] as const) {
    it(`${name}: cancelled after the first progress event: E_CANCELLED, nothing left`, async () => {
      const src = fixture(name);
      const plan = mergePlan(withCheckpoint(src, (c) => c.config));
      const ac = new AbortController();
      let events = 0;
      await refused(src, plan, 'E_CANCELLED', 'was cancelled', {
        signal: ac.signal,
        onProgress: () => {
          events++;
          ac.abort();
        },
      });
      assert.equal(events, 1);
    });
  }

  it('an already aborted signal: E_CANCELLED before anything is touched', async () => {
    const ac = new AbortController();
    ac.abort();
    await refused(mixtral, prunePlan(mixtralConfig()), 'E_CANCELLED', 'was cancelled', { signal: ac.signal });
  });
});

describe('writeSafetensors with tensor data functions', () => {
  it('calls each function once, in on-disk order, and checks what it returns', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'lazy.safetensors');
    const calls: string[] = [];
    const lazy = (name: string, dtype: 'F32' | 'BF16', values: number[]): TensorToWrite => ({
      name,
      dtype,
      shape: [values.length],
      data: () => {
        calls.push(name);
        return new Float32Array(values);
      },
    });
    await writeSafetensors(file, [lazy('b16', 'BF16', [1, 2]), lazy('z32', 'F32', [3]), lazy('a32', 'F32', [4, 5, 6])]);
    assert.deepEqual(calls, ['a32', 'z32', 'b16']);
    const st = openSafetensors(file);
    assert.deepEqual([...st.readF32('a32')], [4, 5, 6]);
    assert.deepEqual([...st.readF32('b16')], [1, 2]);
    const raw = st.readRaw('b16');
    assert.deepEqual([...bf16ToF32Of(raw)], [1, 2]);
    st.close();

    await expectRefused(writeSafetensors(file, [{ name: 'x', dtype: 'F32', shape: [3], data: () => new Float32Array(2) }]), 'E_IO', 'tensor "x": 2 float32 values given, shape [3] needs 3');
    await expectRefused(
      writeSafetensors(file, [{ name: 'x', dtype: 'F32', shape: [1], data: () => 'nope' as unknown as Float32Array }]),
      'E_IO',
      'data must be a Float32Array or a Uint8Array (the data function returned something else)',
    );
    await expectRefused(
      writeSafetensors(file, [
        { name: 'x', dtype: 'F32', shape: [1], data: new Float32Array(1) },
        {
          name: 'y',
          dtype: 'F32',
          shape: [1],
          data: () => {
            throw new MoeError('E_CANCELLED', 'stop');
          },
        },
      ]),
      'E_CANCELLED',
      'stop',
    );
    assert.deepEqual(fs.readdirSync(dir), ['lazy.safetensors'], 'failed writes leave no temp file and keep the old file');
    const again = openSafetensors(file);
    assert.deepEqual([...again.readF32('z32')], [3]);
    again.close();
  });
});

function bf16ToF32Of(raw: Uint8Array): Float32Array {
  const out = new Float32Array(raw.length / 2);
  bf16ToF32(new Uint16Array(raw.slice().buffer), out);
  return out;
}
