// The most affected tokens of a plan (issue #8, §4.11): each says which calibration file it is in, its line
// and the text around it, as in the file itself; the report and the preview show them, and word the figure
// by operation (a merge loses nothing: its tokens' weight goes to the merged expert).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readCalibrationSet } from '../../src/engine/calibration/calibrationSet';
import { CONTEXT_CHARS } from '../../src/engine/experts/planImpact';
import { planMerge } from '../../src/engine/experts/planMerge';
import { planPrune } from '../../src/engine/experts/planPrune';
import { profileExperts } from '../../src/engine/experts/profileExperts';
import { MoeEngine } from '../../src/engine/moeEngine';
import { sampleImpact } from '../../src/operations/expertOperation';
import type { ExpertPlan, ExpertProfile, OperationReport } from '../../src/protocol/expertOps';
import { reportHtml } from '../../src/report/reportHtml';
import { reportText } from '../../src/report/reportText';
import { planPreviewHtml } from '../../src/webviews/planPreview/planPreviewHtml';
import { fixture } from '../support/paths';

const A = 'Experts route tokens.\n\ndef f(x):\n    return x * 2  # code\n\nLes experts aiment le café.\n12345 + 678 = 13023.\n';
const B = 'A second file,\nwith its own lines:\n\n\tindented and\n  spaced  out\n';

let dir: string;
let profile: ExpertProfile;
const texts = new Map<string, string>();

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-affected-'));
  for (const [name, text] of [['a.txt', A], ['b.txt', B]] as const) {
    fs.writeFileSync(path.join(dir, name), text);
    texts.set(path.join(dir, name), text);
  }
  const engine = await MoeEngine.load(fixture('qwen3_moe'));
  try {
    profile = await profileExperts(engine, readCalibrationSet([dir]), { chunkTokens: 16 });
  } finally {
    await engine.dispose();
  }
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function report(plan: ExpertPlan): OperationReport {
  return {
    title: 't',
    createdAt: '2025-01-01T00:00:00Z',
    record: { format: 'moe-workbench.operation', version: 1, createdAt: '', tool: 't', source: { dir: '/m', sha256: 'ab' }, plan, experts: [] },
    written: { dir: '/out', files: [], bytes: 0 },
    statistic: 'reap',
    impact: sampleImpact(plan, profile),
    notes: [],
  };
}

describe('most affected tokens', () => {
  it('carry their file, line and the text around them, exactly as in the file', () => {
    const plan = planPrune(profile, { method: 'reap', target: { kind: 'keep', keep: 3 }, protect: [] });
    const impact = sampleImpact(plan, profile);
    assert.ok(impact.worst.length >= 5, 'several affected tokens');
    const files = new Set<string>();
    for (const w of impact.worst) {
      const source = profile.data.documents[profile.sample.doc[w.index]!]!.source;
      const text = texts.get(source)!;
      const offset = profile.sample.offset[w.index]!;
      files.add(source);
      assert.equal(w.document, source);
      assert.equal(text.slice(offset, offset + w.text.length), w.text, 'the token is where the sample says');
      assert.equal(w.line, text.slice(0, offset).split('\n').length, `line of token ${w.index} ${JSON.stringify(w.text)}`);
      assert.equal(w.before, text.slice(Math.max(0, offset - CONTEXT_CHARS), offset), `text before token ${w.index}`);
      assert.equal(w.after, text.slice(offset + w.text.length, offset + w.text.length + CONTEXT_CHARS), `text after token ${w.index}`);
    }
    assert.equal(files.size, 2, 'tokens of both files, each with its own lines');
  });

  it('are shown with where they are and their context in the report and the preview', () => {
    const plan = planPrune(profile, { method: 'reap', target: { kind: 'keep', keep: 3 }, protect: [] });
    const r = report(plan);
    const w = r.impact!.worst[0]!;
    const where = `${w.document}, line ${w.line}`;
    const html = reportHtml(r);
    assert.ok(html.includes(`<td>${where}</td>`), 'the report names file and line');
    assert.match(html, /<code class="ctx"><span class="ctx-before">[^<]*<\/span><mark class="tok">/);
    const text = reportText(r);
    assert.ok(text.includes(where), 'the text report too');
    assert.match(text, /#\s+where\s+token in context\s+gate weight on removed experts\s+layers/);
    const preview = planPreviewHtml({ modelName: 'm', plan, statistic: 'reap', statisticLabel: 'REAP', profileNote: '', sources: [{ kind: 'sample', label: 'Calibration sample', impact: r.impact!, revealable: true }] });
    assert.ok(preview.includes(where), 'the preview names file and line');
    assert.match(preview, /data-action="reveal"[^>]*><code class="ctx">/);
  });

  it('a merge is worded as merged, never as lost', () => {
    const plan = planMerge(profile, { keep: 4 });
    const r = report(plan);
    const html = reportHtml(r);
    const text = reportText(r);
    const preview = planPreviewHtml({ modelName: 'm', plan, statistic: 'frequency', statisticLabel: 'usage', profileNote: '', sources: [{ kind: 'sample', label: 'S', impact: r.impact!, revealable: false }] });
    for (const [what, s] of [['html', html], ['text', text], ['preview', preview]] as const) {
      assert.doesNotMatch(s, /mass lost|lose |removed expert/i, what);
      assert.match(s, /gate weight on merged experts/i, what);
    }
    const prune = report(planPrune(profile, { method: 'reap', target: { kind: 'keep', keep: 4 }, protect: [] }));
    assert.match(reportHtml(prune), /Gate weight on removed experts per token/);
  });
});
