// add-experts beyond plain copies (issue #11 §2): noise and drop edit whole neurons of a copy as upcycling
// does (neuronEdits.ts, keyed by the new id), cold experts are drawn from the layer's own statistics, hot
// sources are the most-used experts of an independent routing count on the data (cycling when N > E, fused
// layout), domain rows point the way the data's router inputs do (checked through the source router's own
// logits) at the mean row norm, the same seed gives the same bytes, and every refusal writes nothing.
// Run: node --import tsx --test test/engine/addExpertsEdits.test.ts
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { calibrationChunks } from '../../src/engine/calibration/calibrationChunks';
import { profileExperts } from '../../src/engine/experts/profileExperts';
import { writeProfile } from '../../src/engine/experts/profileFile';
import { readCalibrationSet } from '../../src/engine/calibration/calibrationSet';
import { ADD_EXPERTS_DEFAULTS, type AddExpertsOptions, neuronEditPlan, rankByUse } from '../../src/engine/grow/addExpertsPlan';
import { DOMAIN_CHUNK, DOMAIN_MAX_TOKENS, PROFILE_CHUNK, PROFILE_MAX_TOKENS } from '../../src/engine/grow/growData';
import { writeAddedExperts } from '../../src/engine/grow/writeAddedExperts';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { expertLayout } from '../../src/engine/model/tensorSpec';
import { MoeEngine } from '../../src/engine/moeEngine';
import { DOWN, dropPermutation, droppedNeurons, dropUpcycle, noisedNeurons } from '../../src/engine/upcycle/neuronEdits';
import { MoeError } from '../../src/protocol/moeError';
import { fixture } from '../support/paths';
import { copyFixture } from '../support/tempModel';
import { expertF32, routerF32, routerRow } from './addExpertsTensorBytes';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-add-edits-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => path.join(root, `out${n++}`);
const opts = (o: Partial<AddExpertsOptions>): AddExpertsOptions => ({ ...ADD_EXPERTS_DEFAULTS, count: 2, ...o });
const data = path.join(root, 'data.txt');
fs.writeFileSync(data, 'The quick brown fox jumps over the lazy dog; experts route tokens by content, and some experts are busier than others. '.repeat(6));

function moments(w: ArrayLike<number>): { mean: number; std: number } {
  let s = 0;
  let q = 0;
  for (let i = 0; i < w.length; i++) s += w[i]!;
  const mean = s / w.length;
  for (let i = 0; i < w.length; i++) q += (w[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(q / (w.length - 1)) };
}

function assertNothingWritten(out: string): void {
  assert.equal(fs.existsSync(out), false, `${out} exists`);
  assert.deepEqual(fs.readdirSync(path.dirname(out)).filter((f) => f.includes('partial')), []);
}

describe('add-experts noise, drop, cold, hot, domain', () => {
  it('noise (mixtral, F32): only the r·I neurons noisedNeurons names change, by N(0, 0.02²); other neurons byte copies', async () => {
    const out = fresh();
    const { plan, record } = await writeAddedExperts(fixture('mixtral'), out, opts({ from: { list: [0, 1].flatMap((L) => [{ layer: L, expert: 2 }, { layer: L, expert: 5 }]) }, method: 'noise', ratio: 0.5, 'noiseStd': 0.02 }));
    assert.equal(record.settings.ratio, 0.5);
    assert.equal(record.settings.noiseStd, 0.02);
    const src = openCheckpoint(fixture('mixtral'));
    const grown = openCheckpoint(out);
    const H = src.config.hiddenSize;
    const I = plan.intermediate;
    const diffs: number[] = [];
    for (const L of [0, 1]) {
      for (const [j, s] of [2, 5].entries()) {
        const S = new Set(noisedNeurons(neuronEditPlan(plan), L, 8 + j));
        assert.equal(S.size, I / 2);
        for (const m of [0, 1, 2] as const) {
          const a = expertF32(src, L, s, m);
          const b = expertF32(grown, L, 8 + j, m);
          for (let nrn = 0; nrn < I; nrn++) {
            for (let k = 0; k < H; k++) {
              const at = m === DOWN ? k * I + nrn : nrn * H + k;
              if (S.has(nrn)) diffs.push(b[at]! - a[at]!);
              else assert.equal(b[at], a[at], `layer ${L} new ${8 + j} matrix ${m} neuron ${nrn} untouched`);
            }
          }
        }
      }
    }
    const d = moments(diffs);
    assert.ok(Math.abs(d.mean) < 0.002 && Math.abs(d.std - 0.02) < 0.001, `noise mean ${d.mean} std ${d.std}`);
    src.close();
    grown.close();
  });

  it('drop (qwen3_moe, BF16): each new expert is its source permuted with r·I neurons redrawn, as Drop-Upcycling keyed by the new id', async () => {
    const out = fresh();
    const { plan } = await writeAddedExperts(fixture('qwen3_moe'), out, opts({ count: 1, from: { list: [{ layer: 0, expert: 3 }, { layer: 1, expert: 6 }] }, method: 'drop', ratio: 0.25 }));
    const src = openCheckpoint(fixture('qwen3_moe'));
    const grown = openCheckpoint(out);
    const H = src.config.hiddenSize;
    const I = plan.intermediate;
    const ed = neuronEditPlan(plan);
    for (const [L, s] of [[0, 3], [1, 6]] as const) {
      const perm = dropPermutation(ed, L, 8);
      for (const m of [0, 1, 2] as const) {
        const a = expertF32(src, L, s, m);
        const b = expertF32(grown, L, 8, m);
        const S = new Set(droppedNeurons(ed, L, 8, m));
        assert.equal(S.size, Math.floor(0.25 * I));
        // Neurons outside S are the source's neuron perm[j], exactly (BF16 values survive the float32 round trip).
        for (let j = 0; j < I; j++) {
          if (S.has(j)) continue;
          for (let k = 0; k < H; k++) {
            const at = (nrn: number): number => (m === DOWN ? k * I + nrn : nrn * H + k);
            assert.equal(b[at(j)], a[at(perm[j]!)], `layer ${L} matrix ${m} neuron ${j} = source neuron ${perm[j]}`);
          }
        }
        const expected = dropUpcycle(ed, L, 8, m, a, H);
        const rounded = expertF32(grown, L, 8, m);
        for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(rounded[i]! - expected[i]!) <= Math.abs(expected[i]!) * 2 ** -8 + 1e-30, `matrix ${m} element ${i}: BF16 of the redraw`);
      }
    }
    src.close();
    grown.close();
  });

  it('cold (olmoe): each matrix drawn from the mean and std of the layer\'s experts, random router rows of std 0.02; not function-preserving', async () => {
    const out = fresh();
    const { record } = await writeAddedExperts(fixture('olmoe'), out, opts({ count: 2, from: 'cold' }));
    assert.equal(record.settings.router, 'random');
    assert.equal(record.settings.routerStd, 0.02);
    assert.equal(record.functionPreservation.exact, false);
    assert.ok(record.layers.every((l) => l.added.every((a) => a.from === null && a.rule === 'cold')));
    const src = openCheckpoint(fixture('olmoe'));
    const grown = openCheckpoint(out);
    for (const L of [0, 1]) {
      for (const m of [0, 1, 2] as const) {
        const pooled = moments(Array.from({ length: 8 }, (_, e) => Array.from(expertF32(src, L, e, m))).flat());
        for (const id of [8, 9]) {
          const got = moments(expertF32(grown, L, id, m));
          assert.ok(Math.abs(got.mean - pooled.mean) < 0.1 * pooled.std && Math.abs(got.std / pooled.std - 1) < 0.1, `layer ${L} matrix ${m} expert ${id}: ${JSON.stringify(got)} vs ${JSON.stringify(pooled)}`);
        }
      }
      const rows = [8, 9].flatMap((id) => Array.from(routerF32(grown, L, id)));
      const r = moments(rows);
      assert.ok(Math.abs(r.std - 0.02) < 0.004, `router std ${r.std}`);
      assert.ok(!routerRow(grown, L, 8).equals(routerRow(grown, L, 9)));
    }
    src.close();
    grown.close();
  });

  it('hot (granitemoe, fused, N > E cycles, noise): the sources are the experts ranked by tokens routed to them on the data', async () => {
    // An independent count: the engine's top-k choices on the same chunks the profile reads.
    const e = await MoeEngine.load(fixture('granitemoe'));
    const counts = new Map<number, number[]>();
    try {
      const { chunks } = calibrationChunks(e.tokenizer, readCalibrationSet([data]), PROFILE_CHUNK, PROFILE_MAX_TOKENS);
      for (const ch of chunks) {
        const r = await e.forward(ch.spans.map((s) => s.id), { routing: true, hidden: false, logits: false });
        for (const lr of r.routing) {
          const c = counts.get(lr.layer) ?? new Array<number>(6).fill(0);
          for (const x of lr.experts.data) c[x]!++;
          counts.set(lr.layer, c);
        }
      }
    } finally {
      await e.dispose();
    }
    const out = fresh();
    const { record } = await writeAddedExperts(fixture('granitemoe'), out, opts({ count: 8, from: 'hot', method: 'noise', data: [data] }), { evaluate: false });
    assert.equal(record.settings.from, 'hot');
    assert.equal(record.evaluation, undefined);
    assert.ok(record.data && record.data.tokens > 100);
    for (const l of record.layers) {
      const ranked = rankByUse(counts.get(l.layer)!);
      assert.deepEqual(l.added.map((a) => a.from), [...ranked, ranked[0], ranked[1]], `layer ${l.layer}`);
      assert.deepEqual(l.added.map((a) => a.expert), [6, 7, 8, 9, 10, 11, 12, 13]);
      assert.deepEqual(l.added.map((a) => a.sourceTokens), l.added.map((a) => counts.get(l.layer)![a.from!]));
    }
    const grown = openCheckpoint(out);
    assert.deepEqual(grown.tensors.get('model.layers.0.block_sparse_moe.input_linear.weight')!.entry.shape, [14, 96, 64]);
    grown.close();

    // A profile of this model (what the UI holds) ranks the same way without --data; one of another model is refused.
    const pe = await MoeEngine.load(fixture('granitemoe'));
    const profileFile = path.join(root, 'granite-profile.json');
    try {
      await writeProfile(profileFile, await profileExperts(pe, readCalibrationSet([data]), { chunkTokens: PROFILE_CHUNK }));
    } finally {
      await pe.dispose();
    }
    const viaProfile = await writeAddedExperts(fixture('granitemoe'), fresh(), opts({ count: 8, from: 'hot', method: 'noise', profileFile }), { evaluate: false });
    assert.deepEqual(viaProfile.record.layers.map((l) => l.added), record.layers.map((l) => l.added));
    assert.deepEqual(viaProfile.record.profile, { file: profileFile });
    const other = fresh();
    await assert.rejects(writeAddedExperts(fixture('olmoe'), other, opts({ from: 'hot', profileFile })), /was computed on granitemoe .* not on the loaded model olmoe/);
    assertNothingWritten(other);
    await assert.rejects(writeAddedExperts(fixture('granitemoe'), other, opts({ from: 'cold', profileFile })), /a profile is used by hot sources only/);
  });

  for (const count of [1, 2]) {
    it(`domain (qwen3_moe, N = ${count}): the source router scores each new row like the data's mean router input, at the mean row norm`, async () => {
      const out = fresh();
      const { record } = await writeAddedExperts(fixture('qwen3_moe'), out, opts({ count, from: { list: [0, 1].flatMap((L) => Array.from({ length: count }, () => ({ layer: L, expert: 1 }))) }, router: 'domain', data: [data] }), { evaluate: false });
      assert.equal(record.settings.router, 'domain');
      const src = openCheckpoint(fixture('qwen3_moe'));
      const grown = openCheckpoint(out);
      const e = await MoeEngine.load(fixture('qwen3_moe'));
      const H = 64;
      try {
        const { chunks, tokens } = calibrationChunks(e.tokenizer, readCalibrationSet([data]), DOMAIN_CHUNK, DOMAIN_MAX_TOKENS);
        assert.equal(record.data!.tokens, tokens);
        assert.equal(record.domain!.tokens, tokens);
        const meanLogits = new Map<number, Float64Array>();
        for (const ch of chunks) {
          const r = await e.forward(ch.spans.map((s) => s.id), { routing: true, hidden: false, logits: false });
          for (const lr of r.routing) {
            const acc = meanLogits.get(lr.layer) ?? new Float64Array(8);
            for (let t = 0; t < lr.routerLogits.rows; t++) for (let j = 0; j < 8; j++) acc[j] = acc[j]! + lr.routerLogits.data[t * 8 + j]! / tokens;
            meanLogits.set(lr.layer, acc);
          }
        }
        for (const L of [0, 1]) {
          const name = expertLayout(src.config, L).router;
          const W = src.readF32(name);
          let norm = 0;
          for (let r = 0; r < 8; r++) norm += Math.hypot(...W.subarray(r * H, (r + 1) * H)) / 8;
          const rows = [...Array(count).keys()].map((j) => routerF32(grown, L, 8 + j));
          for (const row of rows) assert.ok(Math.abs(Math.hypot(...row) / norm - 1) < 0.01, `layer ${L}: row norm ${Math.hypot(...row)} vs mean ${norm}`);
          if (count === 1) {
            // W·x̄ = mean of the logits, so W·row (row ∝ x̄) points the same way.
            const wr = Array.from({ length: 8 }, (_, r) => W.subarray(r * H, (r + 1) * H).reduce((s, w, k) => s + w * rows[0]![k]!, 0));
            const m = Array.from(meanLogits.get(L)!);
            const cos = wr.reduce((s, x, i) => s + x * m[i]!, 0) / (Math.hypot(...wr) * Math.hypot(...m));
            assert.ok(cos > 0.999, `layer ${L}: cosine ${cos}`);
          } else {
            assert.ok(!routerRow(grown, L, 8).equals(routerRow(grown, L, 9)), 'two k-means centroids, not one row twice');
          }
        }
      } finally {
        await e.dispose();
        src.close();
        grown.close();
      }
    });
  }

  it('the same seed writes the same bytes; another seed other noise', async () => {
    const o = opts({ count: 1, from: { list: [0, 1].map((layer) => ({ layer, expert: 0 })) }, method: 'noise', seed: 9 });
    const [a, b, c] = [fresh(), fresh(), fresh()];
    await writeAddedExperts(fixture('olmoe'), a, o, { evaluate: false });
    await writeAddedExperts(fixture('olmoe'), b, o, { evaluate: false });
    await writeAddedExperts(fixture('olmoe'), c, { ...o, seed: 10 }, { evaluate: false });
    const bytes = (d: string): Buffer => fs.readFileSync(path.join(d, 'model.safetensors'));
    assert.ok(bytes(a).equals(bytes(b)));
    assert.ok(!bytes(a).equals(bytes(c)));
  });

  it('refusals name the reason and write nothing', async () => {
    const out = path.join(root, 'refused', 'out');
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const list = (pairs: [number, number][]): AddExpertsOptions['from'] => ({ list: pairs.map(([layer, expert]) => ({ layer, expert })) });
    const cases: [string, Partial<AddExpertsOptions>, RegExp][] = [
      ['llama', { from: list([[0, 0]]) }, /model_type "llama" is a dense model: it has no experts to add to; upcycle it into an MoE first/],
      ['olmoe', { count: 0, from: list([]) }, /the number of experts to add must be an integer from 1/],
      ['olmoe', { count: 1, from: list([[0, 1]]) }, /the list gives no sources for MoE layer 1: a Hugging Face config holds one expert count for all MoE layers/],
      ['olmoe', { count: 2, from: list([[0, 1], [1, 1], [1, 2]]) }, /the list gives layer 0 1 source expert, but 2 experts are added to every MoE layer/],
      ['olmoe', { count: 1, from: list([[0, 8], [1, 0]]) }, /source 0:8: expert 8 does not exist \(layer 0 has experts 0 to 7\)/],
      ['olmoe', { count: 1, from: list([[2, 0], [1, 0]]) }, /source 2:0: layer 2 does not exist/],
      ['olmoe', { from: 'cold', router: 'copy' }, /a cold expert has no source whose router row could be copied/],
      ['olmoe', { from: 'cold', method: 'noise' }, /a cold expert is drawn from scratch; noise edits a copy/],
      ['olmoe', { from: 'hot' }, /hot sources are the most-used experts of each layer on data: give the data/],
      ['olmoe', { from: 'hot', data: [data], profileFile: data }, /data is used by the domain router init only when hot sources come from a profile/],
      ['olmoe', { from: 'cold', router: 'domain' }, /the domain router init averages the router inputs of data tokens: give the data/],
      ['olmoe', { from: 'cold', data: [data] }, /data is used by hot sources and the domain router init only/],
      ['olmoe', { from: list([[0, 0], [1, 0]]), count: 1, method: 'drop', ratio: 0 }, /the ratio of changed neurons must be in \(0, 1\]/],
    ];
    for (const [model, o, re] of cases) {
      await assert.rejects(writeAddedExperts(fixture(model), out, opts(o)), (e: unknown) => e instanceof MoeError && re.test(e.message), `${model} ${JSON.stringify(o)} → ${re}`);
      assertNothingWritten(out);
    }
    // A list may leave layers to the hot rule only with data.
    await assert.rejects(writeAddedExperts(fixture('olmoe'), out, opts({ count: 1, from: { list: [{ layer: 0, expert: 1 }], rest: 'hot' } })), /hot sources are the most-used experts/);
    const ok = { count: 1, from: list([[0, 0], [1, 0]]) };
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'x'), 'x');
    await assert.rejects(writeAddedExperts(fixture('olmoe'), out, opts(ok)), /already exists and is not empty/);
    fs.rmSync(out, { recursive: true });
    const copy = copyFixture('olmoe');
    await assert.rejects(writeAddedExperts(copy, path.join(copy, 'grown'), opts(ok)), /inside the source model folder/);
    assert.equal(fs.existsSync(path.join(copy, 'grown')), false);
    assertNothingWritten(out);
  });
});
