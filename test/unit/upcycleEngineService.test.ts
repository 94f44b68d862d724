// The upcyclePreview and upcycle engine methods on the loaded dense fixture (real checkpoints, the real
// engine): the preview's figures are what the written checkpoint has, the report files are written into the
// folder with it (all or nothing), and refusals happen before anything is written.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RequestContext } from '../../src/engine/engineService';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { describeCheckpoint } from '../../src/engine/modelInfo';
import { MoeEngineService } from '../../src/engine/moeEngineService';
import { UPCYCLE_REPORT_FORMAT, type UpcycleReport } from '../../src/report/upcycleReport';

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

for (const family of ['llama', 'qwen3'] as const) {
  describe(`upcycle engine methods on the ${family} fixture`, () => {
    const service = new MoeEngineService();
    let tmp: string;
    before(async () => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-upcycle-service-'));
      await service.handle('load', { modelDir: path.join(fixtures, family) }, ctx);
    });
    after(async () => {
      await service.dispose();
      fs.rmSync(tmp, { recursive: true, force: true });
    });

    it('previews the figures the written checkpoint then has, and writes report.json/html with it', async () => {
      const settings = { experts: 4, topK: 2, method: 'copy' as const };
      const preview = await service.handle('upcyclePreview', settings, ctx);
      assert.equal(preview.target, family === 'llama' ? 'mixtral' : 'qwen3_moe');
      assert.equal(preview.functionPreserving, true);
      assert.deepEqual(preview.moeLayers, [0, 1]);
      const out = path.join(tmp, `${family}-copy`);
      const result = await service.handle('upcycle', { ...settings, out }, ctx);
      const written = info(out);
      const dense = info(path.join(fixtures, family));
      assert.equal(written.numExperts, 4);
      assert.equal(preview.parameters.before, dense.totalParams);
      assert.equal(preview.parameters.after, written.totalParams);
      assert.equal(preview.parameters.activeAfter, written.activeParams);
      assert.equal(result.parameters.after, written.totalParams);
      assert.equal(result.parameters.activeAfter, written.activeParams);
      assert.equal(result.bytes.after, written.bytesOnDisk);
      // The estimate is the tensor data plus the source's header overhead: close to the real size.
      assert.ok(Math.abs(preview.bytes.after - written.bytesOnDisk) / written.bytesOnDisk < 0.02, `${preview.bytes.after} vs ${written.bytesOnDisk}`);
      assert.ok(result.maxAbsLogitDiff !== undefined && result.maxAbsLogitDiff < 1e-4, `copies equal the dense model: ${result.maxAbsLogitDiff}`);
      assert.equal(result.reportFile, path.join(path.resolve(out), 'report.html'), "the page, as add-experts' and fine-tuning's results name it");
      assert.ok(path.isAbsolute(result.reportFile));
      assert.match(fs.readFileSync(result.reportFile, 'utf8'), /<html/i);
      const report = JSON.parse(fs.readFileSync(path.join(path.dirname(result.reportFile), 'report.json'), 'utf8')) as UpcycleReport;
      assert.equal(report.format, UPCYCLE_REPORT_FORMAT);
      assert.equal(report.output.modelType, preview.target);
      assert.equal(report.experts.length, 2);
      assert.equal(report.experts[0]!.experts.length, 4);
      assert.equal(report.figures.parameters.after, written.totalParams);
      assert.equal(report.evaluation?.maxAbsLogitDiff, result.maxAbsLogitDiff);
      const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
      assert.match(html, /Content-Security-Policy/);
      assert.match(html, /the result equals the dense model/);
      assert.ok(result.written.files.includes('report.json') && result.written.files.includes('report.html'), JSON.stringify(result.written.files));
    });

    it('split previews experts of I/E neurons; a refused setting writes nothing', async () => {
      const p = await service.handle('upcyclePreview', { experts: 4, topK: 1, method: 'split' }, ctx);
      assert.equal(p.expertIntermediate, p.denseIntermediate / 4);
      assert.equal(p.partition, 'random');
      // A split keeps the parameter count of the MLPs (plus the routers); one of four experts runs per token.
      assert.equal(p.parameters.after, p.parameters.before + 2 * 4 * p.hiddenSize);
      await assert.rejects(service.handle('upcyclePreview', { experts: 3, topK: 1, method: 'split' }, ctx), /3 does not divide 128/);
      await assert.rejects(service.handle('upcyclePreview', { experts: 2, topK: 3 }, ctx), /top-k must be an integer from 1 to the number of experts \(2\)/);
      const out = path.join(tmp, `${family}-refused`);
      await assert.rejects(service.handle('upcycle', { experts: 4, topK: 2, router: 'kmeans', out }, ctx), /give the data/);
      assert.equal(fs.existsSync(out), false);
    });
  });
}

describe('upcycle engine methods with data and a changed model', () => {
  const service = new MoeEngineService();
  let tmp: string;
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-upcycle-service-'));
    await service.handle('load', { modelDir: path.join(fixtures, 'qwen3') }, ctx);
  });
  after(async () => {
    await service.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('k-means routers on data: the report names the data and the tokens each expert is routed', async () => {
    const data = path.join(tmp, 'data.txt');
    fs.writeFileSync(data, Array.from({ length: 40 }, (_, i) => `Line ${i}: tokens ${i * 3} and ${i % 7} go to experts by content.`).join('\n'));
    const preview = await service.handle('upcyclePreview', { experts: 4, topK: 2, router: 'kmeans', data: [data], layers: [1] }, ctx);
    assert.deepEqual(preview.moeLayers, [1]);
    assert.deepEqual(preview.settings.data, [data]);
    const out = path.join(tmp, 'kmeans');
    const result = await service.handle('upcycle', { experts: 4, topK: 2, router: 'kmeans', data: [data], layers: [1], out, model: path.join(fixtures, 'qwen3') }, ctx);
    assert.equal(result.parameters.after, preview.parameters.after);
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as UpcycleReport;
    assert.ok(report.data && report.data.tokens > 0, 'the data is recorded');
    assert.equal(report.numLayers, 2);
    const sizes = report.experts[0]!.clusterSizes ?? [];
    assert.equal(sizes.length, 4);
    assert.equal(sizes.reduce((a, b) => a + b, 0), report.data!.tokens, 'every data token is routed to one expert');
    assert.match(fs.readFileSync(path.join(out, 'report.html'), 'utf8'), /k-means: rows from spherical k-means centroids/);
  });

  it('refuses to write when another model is loaded than the one previewed', async () => {
    const out = path.join(tmp, 'other');
    await assert.rejects(service.handle('upcycle', { experts: 2, topK: 1, out, model: path.join(fixtures, 'llama') }, ctx), /llama was previewed for upcycling, but .*qwen3 is loaded now/);
    assert.equal(fs.existsSync(out), false);
  });
});
