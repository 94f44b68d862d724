// The addExpertsPreview and addExperts engine methods on a loaded MoE fixture (real checkpoints, the real
// engine, a real profile): the preview's sources and figures are what the written checkpoint has; Duplicate
// Expert's request (one listed expert, the other layers hot from the profile) copies that expert; refusals
// write nothing.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RequestContext } from '../../src/engine/engineService';
import { addedExperts } from '../../src/engine/grow/addedExperts';
import { rankByUse } from '../../src/engine/grow/addExpertsPlan';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { describeCheckpoint } from '../../src/engine/modelInfo';
import { MoeEngineService } from '../../src/engine/moeEngineService';
import type { ExpertProfile } from '../../src/protocol/expertOps';
import { type AddExpertsReport, addExpertsReportHtml } from '../../src/report/addExpertsReport';

const fixtures = path.resolve(process.env['MOE_FIXTURES'] ?? path.join(__dirname, '..', '..', '..', 'shared', 'fixtures', 'hf-moe'));
const ctx: RequestContext = { signal: new AbortController().signal, progress: () => undefined, pause: async () => undefined };

const info = (dir: string) => {
  const c = openCheckpoint(dir);
  try {
    return describeCheckpoint(c);
  } finally {
    c.close();
  }
};

describe('add-experts engine methods on the mixtral fixture', () => {
  const service = new MoeEngineService();
  const model = path.join(fixtures, 'mixtral');
  let tmp: string;
  let profileFile: string;
  let profile: ExpertProfile;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-grow-service-'));
    await service.handle('load', { modelDir: model }, ctx);
    const data = path.join(tmp, 'data.txt');
    fs.writeFileSync(data, Array.from({ length: 40 }, (_, i) => `Line ${i}: the router sends token ${i % 9} to the experts, ${(i * 7) % 13} times.`).join('\n'));
    const r = await service.handle('profile', { data: [data], chunkTokens: 64, out: path.join(tmp, 'profile.json') }, ctx);
    profileFile = r.file;
    profile = r.profile;
  });
  after(async () => {
    await service.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('previews hot sources from the profile and the figures the written checkpoint then has', async () => {
    const settings = { count: 2, from: 'hot' as const, profileFile };
    const p = await service.handle('addExpertsPreview', settings, ctx);
    assert.equal(p.oldExperts, 8);
    assert.equal(p.newExperts, 10);
    assert.deepEqual(p.moeLayers, [0, 1]);
    assert.equal(p.settings.router, 'copy');
    for (const l of p.layers) {
      const ranked = rankByUse(profile.layers.find((x) => x.layer === l.layer)!.count);
      assert.deepEqual(l.added.map((a) => [a.expert, a.from, a.rule]), [[8, ranked[0], 'hot'], [9, ranked[1], 'hot']]);
      assert.equal(l.added[0]!.sourceTokens, profile.layers.find((x) => x.layer === l.layer)!.count[ranked[0]!]);
    }
    const out = path.join(tmp, 'hot');
    const result = await service.handle('addExperts', { ...settings, out, model }, ctx);
    const written = info(out);
    const src = info(model);
    assert.equal(written.numExperts, 10);
    assert.equal(p.parameters.before, src.totalParams);
    assert.equal(p.parameters.activeBefore, src.activeParams);
    assert.equal(p.parameters.after, written.totalParams);
    assert.equal(p.parameters.activeAfter, written.activeParams);
    assert.equal(result.parameters.after, written.totalParams);
    assert.equal(result.parameters.activeAfter, written.activeParams);
    assert.equal(result.bytes.after, written.bytesOnDisk);
    assert.ok(Math.abs(p.bytes.after - written.bytesOnDisk) / written.bytesOnDisk < 0.02, `${p.bytes.after} vs ${written.bytesOnDisk}`);
    assert.deepEqual(result.layers, p.layers, 'the write made what the preview showed');
    assert.equal(typeof result.maxAbsLogitDiff, 'number');
    assert.deepEqual([...addedExperts(out)!.entries()], [[0, [8, 9]], [1, [8, 9]]]);
    // The result names the written page: absolute report.html in the new folder, drawn from the report.json beside it.
    assert.equal(result.reportFile, path.join(out, 'report.html'));
    assert.ok(path.isAbsolute(result.reportFile));
    const html = fs.readFileSync(result.reportFile, 'utf8');
    const report = JSON.parse(fs.readFileSync(path.join(path.dirname(result.reportFile), 'report.json'), 'utf8')) as AddExpertsReport;
    assert.equal(report.output.dir, out);
    const ids = (ls: readonly { added: readonly { expert: number; from: number | null; rule: string }[] }[]) => ls.map((l) => l.added.map((a) => [a.expert, a.from, a.rule]));
    assert.deepEqual(ids(report.layers), ids(result.layers), "the report's new experts are the result's");
    assert.equal(html, addExpertsReportHtml(report, { nonce: /nonce="([^"]+)"/.exec(html)![1]! }));
  });

  it("Duplicate Expert's request copies the chosen expert in its layer and each other layer's most-used one", async () => {
    const settings = { count: 1, from: { list: [{ layer: 1, expert: 5 }], rest: 'hot' as const }, profileFile };
    const p = await service.handle('addExpertsPreview', settings, ctx);
    const hot0 = rankByUse(profile.layers.find((x) => x.layer === 0)!.count)[0];
    assert.equal(p.settings.from, 'list+hot');
    assert.deepEqual(p.layers.map((l) => l.added.map((a) => [a.expert, a.from, a.rule])), [[[8, hot0, 'hot']], [[8, 5, 'list']]]);
    const out = path.join(tmp, 'dup');
    await service.handle('addExperts', { ...settings, method: 'noise', out, model }, ctx);
    const c = openCheckpoint(out);
    const s = openCheckpoint(model);
    try {
      // Router row 8 of layer 1 is row 5's bytes; the new expert's down matrix is expert 5's plus noise on some neurons.
      const row = (ck: typeof c, r: number): number[] => [...ck.readF32('model.layers.1.block_sparse_moe.gate.weight').subarray(r * 64, (r + 1) * 64)];
      assert.deepEqual(row(c, 8), row(s, 5));
      const w1 = (ck: typeof c, e: number): Float32Array => ck.readF32(`model.layers.1.block_sparse_moe.experts.${e}.w1.weight`);
      const diff = w1(c, 8).filter((x, i) => x !== w1(s, 5)[i]).length;
      assert.ok(diff > 0 && diff < w1(s, 5).length, `noise changes some of the copy's weights (${diff})`);
      assert.deepEqual([...w1(c, 5)], [...w1(s, 5)], 'the old expert is unchanged');
    } finally {
      c.close();
      s.close();
    }
  });

  it('refuses before writing: hot without a profile in the preview, another model, an unknown expert', async () => {
    // Profiling the data belongs to the write (the CLI's path); the preview names its sources, so it needs a profile.
    await assert.rejects(service.handle('addExpertsPreview', { count: 1, from: 'hot', data: [path.join(tmp, 'data.txt')] }, ctx), /the preview of hot sources needs a profile/);
    await assert.rejects(service.handle('addExpertsPreview', { count: 1, from: { list: [{ layer: 1, expert: 8 }], rest: 'hot' }, profileFile }, ctx), /expert 8 does not exist \(layer 1 has experts 0 to 7\)/);
    const out = path.join(tmp, 'refused');
    await assert.rejects(service.handle('addExperts', { count: 1, from: 'cold', router: 'random', out, model: path.join(fixtures, 'olmoe') }, ctx), /was previewed for adding experts, but .* is loaded now/);
    await assert.rejects(service.handle('addExperts', { count: 1, from: 'cold', router: 'copy', out }, ctx), /cold expert has no source whose router row could be copied/);
    assert.equal(fs.existsSync(out), false);
    assert.deepEqual(fs.readdirSync(tmp).filter((e) => e.includes('.partial-')), []);
  });
});
