// The pure parts behind the Profile / Prune / Merge commands: what the dialogs accept, the default output
// folder, progress wording, the plan preview's HTML (CSP, nonce, escaping, buttons, affected shares), the
// impact on an annotated document, the Model tree's profile text, and reading a saved report back.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { planMerge } from '../../src/engine/experts/planMerge';
import { planPrune } from '../../src/engine/experts/planPrune';
import type { DocumentRouting } from '../../src/features/annotation/documentRouting';
import { expertDescription, expertProfileLines, formatStatistic, layerRanking } from '../../src/features/modelTree/expertProfileText';
import { documentImpact } from '../../src/features/operations/documentImpact';
import {
  defaultOutputDir,
  outputFolderName,
  parseInteger,
  parseProtectInput,
  parseRatio,
  progressMessage,
  targetSlug,
  validateChunk,
  validateKeep,
  validateMaxTokens,
  validateMinPerLayer,
  validateOutputDir,
  validateRatio,
} from '../../src/features/operations/operationInputs';
import { sampleImpact } from '../../src/operations/expertOperation';
import type { ExpertProfile, LayerProfile } from '../../src/protocol/expertOps';
import { type PlanPreview, parsePreviewMessage, planPreviewHtml, previewCsp, visibleTokenText } from '../../src/webviews/planPreview/planPreviewHtml';
import { readReport, reportTitle } from '../../src/webviews/report/readReport';

const MODEL = { moeLayers: [0, 1, 2, 3], numExperts: 8, topK: 2 };

/** 4 experts, top-2, layers 0 and 1; usage decreasing with the id in layer 0, increasing in layer 1. */
function layer(L: number, count: number[]): LayerProfile {
  const E = count.length;
  const gram = new Array<number>(E * E).fill(0);
  for (let e = 0; e < E; e++) gram[e * E + e] = 1;
  return {
    layer: L,
    numExperts: E,
    topK: 2,
    tokens: count.reduce((a, b) => a + b, 0) / 2,
    count,
    gateSum: count.map((c) => c * 0.5),
    probSum: count.map((c) => c * 0.25),
    eanSum: count.map((c) => c * 2),
    reapSum: count.map((c) => c * c),
    maxNorm: count.map((_, e) => e + 1),
    logitSum: new Array<number>(E).fill(0),
    logitGram: gram,
  };
}

const b64 = (a: Uint16Array | Float32Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

/** Sample of 4 tokens; token 1 is hostile HTML. Layer 0 routes everyone to 0+1 except token 3 (to 2+3). */
function profile(): ExpertProfile {
  const tokens = ['Hello', '<img src=x onerror=alert(1)>', ' ', 'end'];
  const l0 = Uint16Array.from([0, 1, 0, 1, 0, 1, 2, 3]);
  const l1 = Uint16Array.from([3, 2, 0, 3, 3, 2, 3, 2]);
  const w = Float32Array.from([0.6, 0.4, 0.7, 0.3, 0.5, 0.5, 0.9, 0.1]);
  return {
    format: 'moe-workbench.profile',
    version: 1,
    createdAt: '2025-01-01T00:00:00Z',
    model: { sha256: 'x', name: 'tiny', dir: '/models/tiny', modelType: 'mixtral' },
    data: { files: ['/data/a.txt'], documents: [{ source: '/data/a.txt' }], sha256: 'd', chunkTokens: 8, chunks: 1, tokens: 4, truncated: false },
    runMs: 1,
    layers: [layer(0, [4, 3, 1, 0]), layer(1, [0, 1, 3, 4])],
    sample: { tokens, doc: [0, 0, 0, 0], offset: [0, 5, 33, 34], experts: [b64(l0), b64(l1)], weights: [b64(w), b64(w)] },
  };
}

describe('dialog input', () => {
  it('parses protected experts as LAYER:EXPERT lists and names what is wrong', () => {
    assert.deepEqual(parseProtectInput('', MODEL), { refs: [] });
    assert.deepEqual(parseProtectInput(' 0:3, 2:5 ,3:0', MODEL), { refs: [{ layer: 0, expert: 3 }, { layer: 2, expert: 5 }, { layer: 3, expert: 0 }] });
    assert.deepEqual(parseProtectInput('1:1,1:1', MODEL), { refs: [{ layer: 1, expert: 1 }] }, 'duplicates collapse');
    assert.match((parseProtectInput('0-3', MODEL) as { error: string }).error, /"0-3" is not LAYER:EXPERT/);
    assert.match((parseProtectInput('7:1', MODEL) as { error: string }).error, /layer 7 is not an MoE layer \(MoE layers: 0, 1, 2, 3\)/);
    assert.match((parseProtectInput('0:8', MODEL) as { error: string }).error, /experts are numbered 0\.\.7/);
    assert.match((parseProtectInput('0:x', MODEL) as { error: string }).error, /not LAYER:EXPERT/);
  });

  it('validates keep, ratios, minimums, chunk length and token limits against the model', () => {
    assert.equal(validateKeep('4', MODEL), undefined);
    assert.match(validateKeep('1', MODEL)!, /at least 2.*top-k/);
    assert.match(validateKeep('9', MODEL)!, /8 experts/);
    assert.match(validateKeep('8', MODEL)!, /would not prune/);
    assert.match(validateKeep('8', MODEL, 'merge')!, /would not merge/);
    assert.match(validateKeep('2.5', MODEL)!, /whole number/);
    assert.equal(validateRatio('25%', MODEL, 'ratio'), undefined);
    assert.equal(validateRatio('0.5', MODEL, 'ratio'), undefined);
    assert.match(validateRatio('0.9', MODEL, 'ratio')!, /leaves 1 experts.*fewer than the 2/);
    assert.equal(validateRatio('0.9', MODEL, 'global'), undefined, 'the global minimum protects each layer');
    assert.match(validateRatio('1', MODEL, 'ratio')!, /below 1/);
    assert.match(validateRatio('0', MODEL, 'global')!, /above 0/);
    assert.match(validateRatio('0.01', MODEL, 'ratio')!, /rounds to none/);
    assert.match(validateRatio('abc', MODEL, 'ratio')!, /e\.g\. 0\.25/);
    assert.equal(parseRatio('25%'), 0.25);
    assert.equal(parseRatio('.5'), 0.5);
    assert.equal(validateMinPerLayer('2', MODEL), undefined);
    assert.match(validateMinPerLayer('1', MODEL)!, /At least 2/);
    assert.equal(validateChunk('512', 4096), undefined);
    assert.match(validateChunk('8192', 4096)!, /context is 4096/);
    assert.match(validateChunk('1', 4096)!, /at least 2/);
    assert.equal(validateMaxTokens(''), undefined);
    assert.equal(validateMaxTokens('100000'), undefined);
    assert.match(validateMaxTokens('-3')!, /whole number/);
    assert.equal(parseInteger('10,000'), 10000);
    assert.equal(parseInteger('1e3'), undefined);
  });

  it('names the default output folder beside the model, never the model itself, and never an existing folder', () => {
    const prune = { operation: 'prune', method: 'reap', target: { kind: 'keep', keep: 6 } } as const;
    assert.equal(outputFolderName('Mixtral 8x7B', prune), 'Mixtral-8x7B-pruned-reap-keep6');
    assert.equal(outputFolderName('m', { operation: 'merge', keep: 4 }), 'm-merged-keep4');
    assert.equal(targetSlug({ kind: 'ratio', ratio: 0.125 }), 'prune12_5pct');
    assert.equal(targetSlug({ kind: 'global', ratio: 0.25, minPerLayer: 2 }), 'global25pct-min2');
    assert.equal(defaultOutputDir('/models/mix', prune, () => false), path.join('/models', 'mix-pruned-reap-keep6'));
    const taken = new Set([path.join('/models', 'mix-pruned-reap-keep6'), path.join('/models', 'mix-pruned-reap-keep6-2')]);
    assert.equal(defaultOutputDir('/models/mix', prune, (p) => taken.has(p)), path.join('/models', 'mix-pruned-reap-keep6-3'));
    assert.equal(defaultOutputDir('/ext/media/demo-model', prune, () => false, '/work'), path.join('/work', 'demo-model-pruned-reap-keep6'));
  });

  it('refuses output folders that are the source, inside it, a file or a non-empty folder', () => {
    const state = (p: string) => (p === '/data/full' ? 'nonEmptyDir' : p === '/data/file' ? 'file' : p === '/data/empty' ? 'emptyDir' : 'missing') as 'missing';
    assert.equal(validateOutputDir('/data/new', '/models/m', state), undefined);
    assert.equal(validateOutputDir('/data/empty', '/models/m', state), undefined);
    assert.match(validateOutputDir('/models/m', '/models/m', state)!, /source model folder/);
    assert.match(validateOutputDir('/models/m/out', '/models/m', state)!, /inside the source/);
    assert.match(validateOutputDir('/data/full', '/models/m', state)!, /not empty/);
    assert.match(validateOutputDir('/data/file', '/models/m', state)!, /file with that name/);
    assert.match(validateOutputDir('relative/dir', '/models/m', state)!, /absolute/);
    assert.match(validateOutputDir('  ', '/models/m', state)!, /Type the folder/);
  });

  it('words progress with the stage and the engine message (tokens, ETA)', () => {
    assert.equal(progressMessage({ stage: 'profile', done: 10, total: 100, message: '10 / 100 tokens · 5 tok/s, ~18 s left' }), 'Profiling: 10 / 100 tokens · 5 tok/s, ~18 s left');
    assert.equal(progressMessage({ stage: 'evaluate', done: 3, total: 9 }), 'Evaluating: 3 / 9');
    // The title already says "Profiling": the message does not repeat it.
    assert.equal(progressMessage({ stage: 'profile', done: 10, total: 100, message: '10 / 100 tokens' }, 'MoE: Profiling demo-model'), '10 / 100 tokens');
    assert.equal(progressMessage({ stage: 'other', done: 0, total: 0 }), 'other');
  });
});

describe('plan preview HTML', () => {
  const p = profile();
  const plan = planPrune(p, { method: 'reap', target: { kind: 'keep', keep: 2 }, protect: [] });
  const sample = sampleImpact(plan, p);
  const preview = (over: Partial<PlanPreview> = {}): PlanPreview => ({
    modelName: 'tiny <model>',
    plan,
    statistic: 'reap',
    statisticLabel: 'REAP & co',
    profileNote: 'Profile: 4 tokens (/data/<a>.json)',
    sources: [{ kind: 'sample', label: 'Calibration sample', impact: sample, revealable: true }],
    ...over,
  });

  it('has a strict CSP: nothing loads, the one style and the one script carry the nonce', () => {
    const html = planPreviewHtml(preview(), { nonce: 'N0nce+/=', cspSource: 'https://csp.example' });
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html)?.[1]?.replace(/&#39;/g, "'");
    assert.equal(csp, "default-src 'none'; style-src https://csp.example 'nonce-N0nce+/='; script-src 'nonce-N0nce+/='; form-action 'none'; base-uri 'none'");
    assert.equal(csp, previewCsp('N0nce+/=', 'https://csp.example'));
    const scripts = [...html.matchAll(/<script\b([^>]*)>/g)];
    assert.equal(scripts.length, 1);
    assert.equal(scripts[0]![1], ' nonce="N0nce+/="');
    const styles = [...html.matchAll(/<style\b([^>]*)>/g)];
    assert.equal(styles.length, 1);
    assert.equal(styles[0]![1], ' nonce="N0nce+/="');
    assert.doesNotMatch(html, /\sstyle="/, 'no style attributes (the CSP would block them)');
    assert.doesNotMatch(html, /\son[a-z]+="/i, 'no inline event handlers');
    assert.doesNotMatch(html, /(src|href)="(https?:|\/\/)/, 'nothing remote');
    const fresh = /nonce="([^"]+)"/.exec(planPreviewHtml(preview()))?.[1];
    assert.ok(fresh && fresh.length >= 16 && fresh !== /nonce="([^"]+)"/.exec(planPreviewHtml(preview()))?.[1], 'a fresh random nonce per render');
  });

  it('escapes every text: hostile token text, model name, labels and paths', () => {
    const html = planPreviewHtml(preview({ sources: [{ kind: 'document', label: '"><script>alert(2)</script>', impact: sample, revealable: true }] }));
    assert.doesNotMatch(html, /<img/);
    assert.match(html, /&lt;img·src=x·onerror=alert\(1\)&gt;/);
    assert.doesNotMatch(html, /<script>alert/);
    assert.match(html, /&quot;&gt;&lt;script&gt;alert\(2\)&lt;\/script&gt;/);
    assert.match(html, /Prune preview: tiny &lt;model&gt;/);
    assert.match(html, /REAP &amp; co/);
    assert.match(html, /\/data\/&lt;a&gt;\.json/);
    assert.equal(visibleTokenText(' a\nb\t'), '·a↵b⇥');
    assert.equal(visibleTokenText(''), '∅');
  });

  it('has the Write Checkpoint and Cancel buttons and clickable affected tokens', () => {
    const html = planPreviewHtml(preview());
    assert.match(html, /<button type="button" class="primary" data-action="write">Write Checkpoint…<\/button>/);
    assert.match(html, /<button type="button" class="secondary" data-action="cancel">Cancel<\/button>/);
    const reveals = [...html.matchAll(/data-action="reveal" data-source="(\d+)" data-token="(\d+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    assert.deepEqual(reveals, sample.worst.map((w) => [0, w.index]));
    const notRevealable = planPreviewHtml(preview({ sources: [{ kind: 'sample', label: 'S', impact: sample, revealable: false }] }));
    assert.doesNotMatch(notRevealable, /data-action="reveal"/);
  });

  it('shows the affected share per layer and in total, and marks removed experts', () => {
    // REAP keep 2: layer 0 keeps 0, 1 (removes 2, 3), layer 1 keeps 2, 3 (removes 0, 1).
    assert.deepEqual(plan.layers.map((l) => l.removed), [[2, 3], [0, 1]]);
    // Layer 0: token 3 routed to 2+3 -> 1 of 4. Layer 1: tokens 1 (0+3) and ... -> count those with 0 or 1.
    assert.deepEqual(sample.perLayer.map((l) => l.affected), [1, 1]);
    const html = planPreviewHtml(preview());
    const cells = [...html.matchAll(/<td class="impact" data-layer="(\d+)">.*?<span class="num">([\d.]+%)<\/span>/g)].map((m) => [m[1], m[2]]);
    assert.deepEqual(cells, [['0', '25.0%'], ['1', '25.0%']]);
    assert.match(html, /<strong class="share">50\.0%<\/strong>/, '2 of 4 tokens affected in some layer');
    assert.match(html, /Removes 4 of 8 experts across 2 MoE layers/);
    const removedRows = [...html.matchAll(/<tr class="removed[^"]*" data-expert="(\d+)">/g)].length;
    assert.equal(removedRows, 4);
    assert.match(html, /No open annotated document/);
  });

  it('puts the focused layer first and highlights the focused expert', () => {
    const html = planPreviewHtml(preview({ focus: { layer: 1, expert: 0 } }));
    const order = [...html.matchAll(/<details class="layer[^"]*" data-layer="(\d+)"/g)].map((m) => Number(m[1]));
    assert.deepEqual(order, [1, 0]);
    assert.match(html, /<details class="layer focus" data-layer="1"/);
    assert.match(html, /<tr class="removed focus" data-expert="0">.*?▶ Expert 0/);
  });

  it('shows merge groups', () => {
    const merge = planMerge(p, { keep: 2 });
    const html = planPreviewHtml(preview({ plan: merge, statistic: 'frequency', sources: [{ kind: 'sample', label: 'S', impact: sampleImpact(merge, p), revealable: false }] }));
    assert.match(html, /Merge preview/);
    assert.match(html, /Merges 8 experts into 4/);
    assert.match(html, /groups \[0\+\d(\+\d)?\] \[/);
    assert.match(html, /★ centre of new expert 0/);
    assert.match(html, /merged into new expert \d \(★ \d\)/);
  });

  it('accepts only well-formed messages from the webview', () => {
    assert.deepEqual(parsePreviewMessage({ type: 'write' }), { type: 'write' });
    assert.deepEqual(parsePreviewMessage({ type: 'cancel', extra: 1 }), { type: 'cancel' });
    assert.deepEqual(parsePreviewMessage({ type: 'reveal', source: 1, token: 7 }), { type: 'reveal', source: 1, token: 7 });
    for (const bad of [null, 'write', [], { type: 'reveal', source: -1, token: 0 }, { type: 'reveal', source: 0, token: 1.5 }, { type: 'reveal', source: 0 }, { type: 'delete' }]) {
      assert.equal(parsePreviewMessage(bad), undefined, JSON.stringify(bad));
    }
  });
});

describe('impact on an annotated document', () => {
  const p = profile();
  const plan = planPrune(p, { method: 'reap', target: { kind: 'keep', keep: 2 }, protect: [] });
  const doc = (known: number[]): DocumentRouting => ({
    uri: 'file:///w/x.prompt',
    version: 2,
    tokens: [
      { id: 1, text: 'a', start: 0, end: 1 },
      { id: 2, text: '<b>', start: 1, end: 4 },
      { id: 3, text: 'c', start: 4, end: 5 },
    ],
    numExperts: 4,
    topK: 2,
    complete: known.every((k) => k === 1),
    known: Uint8Array.from(known),
    layers: [
      // Token 1 uses removed expert 3 in layer 0 (weight 0.25); token 2 (maybe unknown) uses removed 2.
      { layer: 0, experts: Int32Array.from([0, 1, 0, 3, 2, 0]), weights: Float32Array.from([0.5, 0.5, 0.75, 0.25, 0.6, 0.4]), entropy: new Float32Array(3) },
      { layer: 1, experts: Int32Array.from([2, 3, 3, 2, 3, 1]), weights: Float32Array.from([0.5, 0.5, 0.5, 0.5, 0.9, 0.1]), entropy: new Float32Array(3) },
    ],
  });

  it('counts tokens with a removed expert per layer, lists them by document token index with spans', () => {
    const r = documentImpact(plan, doc([1, 1, 1]))!;
    assert.equal(r.impact.tokens, 3);
    assert.deepEqual(r.impact.perLayer.map((l) => l.affected), [2, 1]);
    assert.equal(r.impact.affectedTokens, 2);
    assert.deepEqual(r.impact.worst.map((w) => w.index), [2, 1]);
    assert.deepEqual(r.spans.get(1), { start: 1, end: 4 });
    assert.equal(r.unknownTokens, 0);
  });

  it('leaves out tokens without routing yet and keeps the indices of the others', () => {
    const r = documentImpact(plan, doc([1, 0, 1]))!;
    assert.equal(r.impact.tokens, 2);
    assert.equal(r.unknownTokens, 1);
    assert.deepEqual(r.impact.worst.map((w) => w.index), [2]);
    assert.deepEqual(r.spans.get(2), { start: 4, end: 5 });
  });

  it('refuses routing of another model', () => {
    assert.equal(documentImpact(plan, { ...doc([1, 1, 1]), numExperts: 8 }), undefined);
  });
});

describe('Model tree profile text', () => {
  const l = profile().layers[0]!;
  it('ranks experts by the statistic, highest first', () => {
    const r = layerRanking(l, 'frequency');
    assert.deepEqual(r.order, [0, 1, 2, 3]);
    assert.deepEqual(r.rank, [1, 2, 3, 4]);
    assert.deepEqual(layerRanking(profile().layers[1]!, 'reap').order, [3, 2, 1, 0]);
  });
  it('describes an expert by the statistic and its rank; the tooltip lists frequency, gate, REAP and EAN', () => {
    assert.equal(expertDescription(l, 'frequency', 1), '#2 · 75.0%');
    assert.equal(expertDescription(l, 'ean', 0), '#1 · 8.000');
    assert.equal(formatStatistic('reap', 0), '0');
    const lines = expertProfileLines(l, 2);
    assert.equal(lines.length, 4);
    assert.match(lines[0]!, /Selection frequency: \*\*25\.0%\*\* \(#3 of 4\)/);
    assert.match(lines[2]!, /REAP saliency: \*\*1\.000\*\*/);
    assert.match(lines[3]!, /EAN/);
    assert.equal(expertProfileLines(l, 2, 'reap').length, 4, 'the shown statistic is not repeated');
    assert.match(expertProfileLines(l, 2, 'maxNorm')[4]!, /max ‖f‖: \*\*3\.000\*\* \(#2 of 4\)/);
  });
});

describe('saved reports', () => {
  it('reads report.json from a checkpoint folder and refuses anything else with the file named', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-report-'));
    try {
      const report = { title: 'Pruned a → b', createdAt: '', record: { format: 'moe-workbench.operation', version: 1, createdAt: '', tool: 't', source: { dir: path.join(dir, 'a'), sha256: 'ab' }, plan: { operation: 'prune', description: 'd', parameters: { method: 'reap', target: { kind: 'keep', keep: 2 }, protect: [] }, layers: [] }, experts: [] }, written: { dir: path.join(dir, 'b'), files: [], bytes: 0 }, statistic: 'reap', notes: [] };
      fs.writeFileSync(path.join(dir, 'report.json'), JSON.stringify(report));
      const r = readReport(dir);
      assert.equal(r.title, 'Pruned a → b');
      assert.equal(reportTitle(r), 'MoE report: b');
      fs.writeFileSync(path.join(dir, 'other.json'), '{"title": 1}');
      assert.throws(() => readReport(path.join(dir, 'other.json')), /other\.json is not a MoE Workbench operation report/);
      fs.writeFileSync(path.join(dir, 'bad.json'), '{');
      assert.throws(() => readReport(path.join(dir, 'bad.json')), /bad\.json: not valid JSON/);
      assert.throws(() => readReport(path.join(dir, 'missing')), /does not exist/);
      fs.mkdirSync(path.join(dir, 'empty'));
      assert.throws(() => readReport(path.join(dir, 'empty')), /report\.json: not found/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
