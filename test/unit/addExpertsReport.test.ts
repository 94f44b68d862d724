// The report add-experts writes beside its checkpoint (issue #11 §2, §4): report.json and report.html exist in
// the grown folder (written by writeAddedExperts on the real Mixtral fixture, as the CLI and the engine service
// do), parse, and hold the record's plan, sources per new expert and measured difference, and the parameters
// and bytes of both checkpoints; the page escapes hostile strings and has no script; MoE: Open Report… (the
// command, through the fake vscode) draws it with the add-experts page and refuses a malformed one by name.
// Run: node --import tsx --test test/unit/addExpertsReport.test.ts
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ADD_EXPERTS_DEFAULTS } from '../../src/engine/grow/addExpertsPlan';
import { figuresOf } from '../../src/engine/grow/growFigures';
import { writeAddedExperts } from '../../src/engine/grow/writeAddedExperts';
import { ADD_EXPERTS_REPORT_FORMAT, type AddExpertsReport, addExpertsReportHtml } from '../../src/report/addExpertsReport';
import { fakeVscode, withFakeVscode } from '../support/fakeVscode';
import { fixture } from '../support/paths';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-add-experts-report-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const grown = path.join(root, 'grown');
let written: Awaited<ReturnType<typeof writeAddedExperts>>;

const panels: { title: string; webview: { cspSource: string; html: string }; disposed: boolean }[] = [];
Object.assign(fakeVscode.window, {
  createWebviewPanel: (_id: string, title: string) => {
    const p = { title, webview: { cspSource: 'vscode-webview://fake', html: '' }, disposed: false, dispose: () => (p.disposed = true) };
    panels.push(p);
    return p;
  },
});
Object.assign(fakeVscode, { ViewColumn: { Active: -1 } });
const { OpenReportCommand } = withFakeVscode(() => require('../../src/features/commands/expertCommands') as typeof import('../../src/features/commands/expertCommands'));
const { addExpertsReportPage } = withFakeVscode(() => require('../../src/webviews/growPreview/addExpertsReportPanel') as typeof import('../../src/webviews/growPreview/addExpertsReportPanel'));

describe('add-experts report', () => {
  before(async () => {
    written = await writeAddedExperts(fixture('mixtral'), grown, { ...ADD_EXPERTS_DEFAULTS, count: 2, from: { list: [{ layer: 0, expert: 3 }, { layer: 0, expert: 5 }, { layer: 1, expert: 1 }, { layer: 1, expert: 6 }] }, method: 'noise' }, { evaluate: true });
  });

  test('report.json and report.html are written with the checkpoint and hold the plan, sources, figures and difference', () => {
    const { record, plan } = written;
    assert.ok(written.written.files.includes('report.json') && written.written.files.includes('report.html'), written.written.files.join(', '));
    const r = JSON.parse(fs.readFileSync(path.join(grown, 'report.json'), 'utf8')) as AddExpertsReport;
    assert.equal(r.format, ADD_EXPERTS_REPORT_FORMAT);
    assert.equal(r.version, 1);
    assert.equal(r.output.dir, grown);
    assert.deepEqual(r.source, record.source);
    assert.deepEqual(r.settings, record.settings);
    assert.equal(r.method, 'noise');
    assert.deepEqual(r.layers, record.layers);
    assert.deepEqual(r.layers.map((l) => l.added.map((a) => `${a.expert}←${a.from}`)), [['8←3', '9←5'], ['8←1', '9←6']]);
    assert.deepEqual(r.evaluation, record.evaluation);
    assert.ok(r.evaluation && r.evaluation.maxAbsLogitDiff > 0, 'noise changes the function: a measured difference');
    assert.deepEqual(r.functionPreservation, record.functionPreservation);
    assert.equal(r.changedNeurons, plan.changedNeurons);
    const b = figuresOf(fixture('mixtral'), plan, 8);
    const a = figuresOf(grown, plan, 10);
    assert.deepEqual(r.figures, { parameters: { before: b.parameters, after: a.parameters, activeBefore: b.active, activeAfter: a.active }, bytes: { before: b.bytes, after: a.bytes } });
    assert.ok(r.figures.parameters.after > r.figures.parameters.before);
    // Top-2 of more experts: the same experts' parameters per token, plus the new router rows (2 × H per layer).
    assert.equal(r.figures.parameters.activeAfter - r.figures.parameters.activeBefore, 2 * 64 * 2);
    const html = fs.readFileSync(path.join(grown, 'report.html'), 'utf8');
    // The result names the page it wrote: absolute, in the folder, the page of report.json (its nonce reused).
    assert.equal(written.reportFile, path.join(grown, 'report.html'));
    assert.ok(path.isAbsolute(written.reportFile));
    const nonce = /nonce="([^"]+)"/.exec(html)?.[1];
    assert.ok(nonce, 'the page has a nonce');
    assert.equal(fs.readFileSync(written.reportFile, 'utf8'), addExpertsReportHtml(r, { nonce }));
    assert.doesNotMatch(html, /<script/i);
    assert.match(html, /<h1>Add experts report<\/h1>/);
    assert.match(html, /mixtral: 8 → 10 experts in each of 2 MoE layers/);
    assert.match(html, /noise: copies with N\(0, 0\.02²\) on 32 of 64 neurons each/);
    assert.match(html, /9 ← 6 \(chosen\)/);
    assert.ok(html.includes(`max |logit − source logit| <strong>`));
  });

  test('growing the grown folder again: its report is not copied along, the new folder has its own', async () => {
    const again = path.join(root, 'again');
    const w = await writeAddedExperts(grown, again, { ...ADD_EXPERTS_DEFAULTS, count: 1, from: 'cold' }, { evaluate: false });
    const r = JSON.parse(fs.readFileSync(path.join(again, 'report.json'), 'utf8')) as AddExpertsReport;
    assert.equal(w.reportFile, path.join(again, 'report.html'), "the new folder's page, not the source's");
    assert.equal(r.source.dir, grown);
    assert.deepEqual([r.settings.numExpertsBefore, r.settings.numExpertsAfter], [10, 11]);
    assert.equal(r.evaluation, undefined);
    assert.match(fs.readFileSync(path.join(again, 'report.html'), 'utf8'), /not measured \(--no-eval\)/);
  });

  test('hostile strings are escaped, hostile numbers print as n/a', () => {
    const r = JSON.parse(fs.readFileSync(path.join(grown, 'report.json'), 'utf8')) as AddExpertsReport;
    const evil = '<script>alert(1)</script>';
    const html = addExpertsReportHtml({ ...r, source: { ...r.source, dir: evil, modelType: evil }, method: evil as 'copy', layers: [{ layer: '<b>' as unknown as number, added: [{ expert: 8, from: '<i>' as unknown as number, rule: evil as 'hot' }] }] });
    assert.doesNotMatch(html, /<script>|<b>|<i>/);
    assert.ok(html.includes('&lt;script&gt;'));
  });

  test('MoE: Open Report… on the grown folder draws the add-experts page; a malformed one is refused naming the file', async () => {
    await new OpenReportCommand().execute(grown);
    const p = panels.at(-1);
    assert.ok(p, `a panel opened (messages: ${JSON.stringify(fakeVscode.window.shown)})`);
    assert.equal(p.title, 'MoE report: grown');
    assert.match(p.webview.html, /<h1>Add experts report<\/h1>/);
    assert.match(p.webview.html, /vscode-webview:\/\/fake/, "the webview's cspSource is allowed for styles");
    const bad = path.join(root, 'bad');
    fs.mkdirSync(bad);
    fs.writeFileSync(path.join(bad, 'report.json'), JSON.stringify({ format: ADD_EXPERTS_REPORT_FORMAT, version: 1, layers: 'x' }));
    assert.throws(() => addExpertsReportPage(JSON.parse(fs.readFileSync(path.join(bad, 'report.json'), 'utf8')), path.join(bad, 'report.json')), /bad\/report\.json is not a version-1 MoE Workbench add-experts report/);
    const before = panels.length;
    await new OpenReportCommand().execute(bad);
    assert.ok(panels.length === before || panels.at(-1)!.disposed, 'no panel left open');
    assert.match(fakeVscode.window.shown.at(-1)?.[1] ?? '', /not a version-1 MoE Workbench add-experts report/);
  });
});
