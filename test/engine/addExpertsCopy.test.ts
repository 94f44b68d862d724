// add-experts copy (issue #11 §2) on every MoE fixture (mixtral sharded, qwen2_moe with shared experts,
// qwen3_moe and olmoe in BF16, granitemoe with fused experts): the old experts and router rows are
// bit-identical at their old ids, the new ones (ids E..E+N−1) equal their listed sources byte for byte, every
// other tensor and config key is unchanged but the expert count, the result loads through MoeEngine without
// warnings, and the routing relation the record states holds: at layer 0 (whose router input the new
// experts cannot change) the copies' logits equal their sources', and the chosen experts as functions are
// unchanged for every token whose first k−1 choices hold no copied source; with renormalised top-1 the logits
// equal the source model's.
// Run: node --import tsx --test test/engine/addExpertsCopy.test.ts
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { ADD_EXPERTS_DEFAULTS, type AddExpertsOptions } from '../../src/engine/grow/addExpertsPlan';
import { writeAddedExperts } from '../../src/engine/grow/writeAddedExperts';
import { openCheckpoint, type Checkpoint } from '../../src/engine/model/checkpoint';
import { moeLayerIndices } from '../../src/engine/model/modelConfig';
import { numExpertsKey } from '../../src/engine/model/parseConfig';
import { expertLayout } from '../../src/engine/model/tensorSpec';
import { MoeEngine } from '../../src/engine/moeEngine';
import type { ForwardResult } from '../../src/protocol/engineProtocol';
import { assertClose } from '../support/compare';
import { fixture, moeFixtureNames } from '../support/paths';
import { copyFixture, editJson, removeTempModels } from '../support/tempModel';
import { expertBytes, routerRow } from './addExpertsTensorBytes';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-add-experts-'));
after(() => {
  fs.rmSync(root, { recursive: true, force: true });
  removeTempModels();
});
let n = 0;
const fresh = (): string => path.join(root, `out${n++}`);
const readJson = (f: string): Record<string, unknown> => JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, unknown>;
const opts = (o: Partial<AddExpertsOptions>): AddExpertsOptions => ({ ...ADD_EXPERTS_DEFAULTS, count: 2, ...o });
const rawOf = (c: Checkpoint, name: string): Buffer => Buffer.from(c.tensors.get(name)!.file.readRaw(name));

async function run(dir: string, ids: readonly number[]): Promise<ForwardResult> {
  const e = await MoeEngine.load(dir);
  try {
    assert.equal(e.info.warnings, undefined, `${dir} loads without warnings`);
    return await e.forward(ids, { routing: true, hidden: false, logits: true });
  } finally {
    await e.dispose();
  }
}

const promptOf = (dir: string): number[] => (readJson(path.join(dir, 'expected.json'))['prompts'] as { input_ids: number[] }[])[0]!.input_ids;

describe('add-experts copy', () => {
  for (const name of moeFixtureNames) {
    it(`${name}: old experts and router rows bit-identical, new ones byte copies of their sources, config and every other tensor unchanged, layer-0 routing as documented`, async () => {
      const src = openCheckpoint(fixture(name));
      const moe = moeLayerIndices(src.config);
      const E = (src.config.layers[moe[0]!] as { routing: { numExperts: number } }).routing.numExperts;
      // Layer L's new experts copy E−1 and (L mod E): different per layer, one repeated across layers.
      const list = moe.flatMap((L) => [{ layer: L, expert: E - 1 }, { layer: L, expert: L % E }]);
      const out = fresh();
      const { record, plan } = await writeAddedExperts(fixture(name), out, opts({ from: { list } }));
      const grown = openCheckpoint(out);
      try {
        assert.equal(plan.newExperts, E + 2);
        const cfgSrc = readJson(path.join(fixture(name), 'config.json'));
        const cfgOut = readJson(path.join(out, 'config.json'));
        assert.deepEqual(cfgOut, { ...cfgSrc, [numExpertsKey(src.config.modelType)]: E + 2 });
        for (const L of moe) {
          for (let e = 0; e < E; e++) {
            assert.ok(routerRow(grown, L, e).equals(routerRow(src, L, e)), `layer ${L} router row ${e}`);
            for (const m of [0, 1, 2] as const) assert.ok(expertBytes(grown, L, e, m).equals(expertBytes(src, L, e, m)), `layer ${L} expert ${e} matrix ${m}`);
          }
          for (const [j, s] of [E - 1, L % E].entries()) {
            assert.ok(routerRow(grown, L, E + j).equals(routerRow(src, L, s)), `layer ${L} new router row ${E + j} = row ${s}`);
            for (const m of [0, 1, 2] as const) assert.ok(expertBytes(grown, L, E + j, m).equals(expertBytes(src, L, s, m)), `layer ${L} new expert ${E + j} matrix ${m} = expert ${s}`);
          }
          assert.deepEqual(record.layers.find((l) => l.layer === L)!.added, [
            { expert: E, from: E - 1, rule: 'list' },
            { expert: E + 1, from: L % E, rule: 'list' },
          ]);
        }
        // Every tensor that is not a router or a fused expert tensor is the source's, byte for byte (shared experts too).
        const regrown = new Set(moe.flatMap((L) => {
          const lay = expertLayout(src.config, L);
          return lay.kind === 'fused' ? [lay.router, lay.gateUp, lay.down] : [lay.router, ...[0, 1].flatMap((j) => [lay.gate(E + j), lay.up(E + j), lay.down(E + j)])];
        }));
        assert.equal(grown.tensors.size, src.tensors.size + (regrown.size - moe.length * (expertLayout(src.config, moe[0]!).kind === 'fused' ? 3 : 1)));
        for (const [t, loc] of grown.tensors) {
          if (regrown.has(t)) continue;
          assert.deepEqual(loc.entry.shape, src.tensors.get(t)!.entry.shape, t);
          assert.ok(rawOf(grown, t).equals(rawOf(src, t)), `${t} byte-identical`);
        }
        if (name === 'qwen2_moe') assert.ok([...grown.tensors.keys()].some((t) => t.includes('shared_expert.')));
        assert.equal(record.operation, 'add-experts');
        assert.equal(record.settings.router, 'copy');
        assert.ok(record.evaluation && Number.isFinite(record.evaluation.maxAbsLogitDiff));
        const renorm = src.config.layers[moe[0]!]!.kind === 'moe' && (src.config.layers[moe[0]!] as { routing: { renormalize: boolean } }).routing.renormalize;
        assert.equal(record.functionPreservation.exact, false);
        assert.match(record.functionPreservation.rule, renorm ? /renormalised top-2: a copy ties with its source/ : /without renormalised top-k/);
      } finally {
        grown.close();
      }

      // Layer 0's router input does not depend on the experts: the copies' logits equal their sources'.
      const ids = promptOf(fixture(name));
      const before = await run(fixture(name), ids);
      const afterRes = await run(out, ids);
      const L0 = moe[0]!;
      const rb = before.routing.find((r) => r.layer === L0)!;
      const ra = afterRes.routing.find((r) => r.layer === L0)!;
      const T = ids.length;
      const K = rb.experts.cols;
      const fnOf = (e: number): number => (e === E ? E - 1 : e === E + 1 ? L0 % E : e);
      const copied = new Set([E - 1, L0 % E]);
      let unchanged = 0;
      for (let t = 0; t < T; t++) {
        const zb = rb.routerLogits.data.subarray(t * E, (t + 1) * E);
        const za = ra.routerLogits.data.subarray(t * (E + 2), (t + 1) * (E + 2));
        assertClose(za.subarray(0, E), zb, 1e-5, `${name} token ${t} old logits`);
        assertClose([za[E]!, za[E + 1]!], [zb[E - 1]!, zb[L0 % E]!], 1e-5, `${name} token ${t} copies' logits`);
        const first = Array.from(rb.experts.data.subarray(t * K, t * K + K - 1));
        if (first.some((e) => copied.has(e))) continue;
        // No copied source among the first k−1: the same experts (as functions) are chosen.
        const fa = Array.from(ra.experts.data.subarray(t * K, (t + 1) * K), fnOf).sort();
        const fb = Array.from(rb.experts.data.subarray(t * K, (t + 1) * K)).sort();
        assert.deepEqual(fa, fb, `${name} token ${t}: chosen experts`);
        unchanged++;
      }
      assert.ok(unchanged > 0, `${name}: some tokens have no copied source first`);
      src.close();
    });
  }

  for (const name of ['mixtral', 'granitemoe']) {
    it(`${name} with renormalised top-1: copies with copied router rows compute the source model's logits (within 1e-5), as the record says`, async () => {
      const dir = copyFixture(name);
      editJson(path.join(dir, 'config.json'), (v) => {
        v['num_experts_per_tok'] = 1;
      });
      const out = fresh();
      const c = openCheckpoint(dir);
      const moe = moeLayerIndices(c.config);
      c.close();
      const { record } = await writeAddedExperts(dir, out, opts({ count: 3, from: { list: moe.flatMap((L) => [0, 1, 0].map((expert) => ({ layer: L, expert }))) } }));
      assert.equal(record.functionPreservation.exact, true);
      assert.ok(record.evaluation!.maxAbsLogitDiff <= 1e-5, `recorded difference ${record.evaluation!.maxAbsLogitDiff}`);
      assert.equal(record.evaluation!.top1Agreement, 1);
      const ids = promptOf(fixture(name));
      const a = await run(dir, ids);
      const b = await run(out, ids);
      assertClose(b.logits!.data, a.logits!.data, 1e-5, `${name} top-1 logits`);
    });
  }
});
