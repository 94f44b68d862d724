import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EvalReport, ExpertPlan, LayerPlan, OperationReport, PlanImpact } from '../../src/protocol/expertOps';
import { escapeHtml, reportHtml } from '../../src/report/reportHtml';
import { expertFates, reportText } from '../../src/report/reportText';

// Two MoE layers × 8 experts, written by hand: a prune (keep 6) and a merge (to 4) of the same model.
const E = 8;
const SCORES = [
  [0.9, 0.05, 0.4, 0.3, 0.6, 0, 0.2, 0.7],
  [0.1, 0.8, 0.35, 0.5, 0.25, 0.6, 0.15, 1.2],
];
const HOSTILE = '<script>alert(1)</script>';
const QUOTES = `"&'`;

function pruneLayer(layer: number, scores: number[], removed: number[]): LayerPlan {
  const kept = [...Array(E).keys()].filter((e) => !removed.includes(e));
  return { layer, numExperts: E, topK: 2, experts: kept.map((e) => ({ sources: [{ expert: e, weight: 1 }], routerRow: e })), removed, scores };
}

const prunePlan: ExpertPlan = {
  operation: 'prune',
  description: `REAP, keep 6 per layer <b>&</b>`,
  parameters: { method: 'reap', target: { kind: 'keep', keep: 6 }, protect: [{ layer: 1, expert: 6 }] },
  layers: [pruneLayer(0, SCORES[0]!, [1, 5]), pruneLayer(1, SCORES[1]!, [0, 6])],
};

// Layer 0: {0,1,5} -> 0, {2,3} -> 2, {4} -> 4, {6,7} -> 7. Layer 1: {1,0} -> 1, {3,2} -> 3, {5,4,6} -> 5, {7} -> 7.
const mergePlan: ExpertPlan = {
  operation: 'merge',
  description: 'MC-SMoE merge to 4 experts per layer',
  parameters: { keep: 4 },
  layers: [
    {
      layer: 0,
      numExperts: E,
      topK: 2,
      experts: [
        { sources: [{ expert: 0, weight: 0.3 }, { expert: 1, weight: 0.1 }], routerRow: 0, members: [0, 1, 5] },
        { sources: [{ expert: 2, weight: 0.2 }, { expert: 3, weight: 0.2 }], routerRow: 2, members: [2, 3] },
        { sources: [{ expert: 4, weight: 1 }], routerRow: 4 },
        { sources: [{ expert: 6, weight: 0.1 }, { expert: 7, weight: 0.3 }], routerRow: 7, members: [6, 7] },
      ],
      removed: [],
      scores: SCORES[0]!,
    },
    {
      layer: 1,
      numExperts: E,
      topK: 2,
      experts: [
        { sources: [{ expert: 0, weight: 0.1 }, { expert: 1, weight: 0.3 }], routerRow: 1, members: [0, 1] },
        { sources: [{ expert: 2, weight: 0.1 }, { expert: 3, weight: 0.2 }], routerRow: 3, members: [2, 3] },
        { sources: [{ expert: 4, weight: 0.1 }, { expert: 5, weight: 0.2 }, { expert: 6, weight: 0.1 }], routerRow: 5, members: [4, 5, 6] },
        { sources: [{ expert: 7, weight: 1 }], routerRow: 7 },
      ],
      removed: [],
      scores: SCORES[1]!,
    },
  ],
};

const evaluation: EvalReport = {
  tokens: 4096,
  chunks: 4,
  baseline: { dir: '/models/base', name: 'base', perplexity: 12.3456, bytesOnDisk: 52_400_000, totalParams: 13_100_000, activeParams: 4_200_000, numExperts: 8 },
  candidate: { dir: '/models/pruned', name: 'pruned', perplexity: 13.0123, bytesOnDisk: 40_000_000, totalParams: 10_000_000, activeParams: 4_200_000, numExperts: 6 },
  top1Agreement: 0.9321,
  meanKl: 0.01234,
  document: {
    tokens: 6,
    changedPredictions: 2,
    routingChanged: [
      { layer: 0, share: 0.25 },
      { layer: 1, share: 0.5 },
    ],
    perToken: [
      { index: 0, text: 'Hello', before: ',', after: ',', kl: 0.001 },
      { index: 1, text: ' ', before: 'x', after: 'x', kl: 0.002 },
      { index: 2, text: HOSTILE, before: '\n', after: HOSTILE, kl: 0.5 },
      { index: 3, text: '\n', before: 'a', after: 'a', kl: 0 },
      { index: 4, text: QUOTES, before: 'the', after: QUOTES, kl: 0.25 },
      { index: 5, text: ' end', before: '.', after: '.', kl: 0.01 },
    ],
  },
  runMs: 12_345,
};

const impact: PlanImpact = {
  tokens: 1000,
  affectedTokens: 123,
  perLayer: [
    { layer: 0, affected: 80, gateMassLost: 0.0312 },
    { layer: 1, affected: 60, gateMassLost: 0.0201 },
  ],
  worst: [
    { index: 17, text: HOSTILE, massLost: 0.91, layers: [0, 1] },
    { index: 3, text: ' the', massLost: 0.5, layers: [1] },
  ],
};

function report(plan: ExpertPlan, withEval = true): OperationReport {
  return {
    title: `${plan.operation === 'prune' ? 'Pruned' : 'Merged'} base`,
    createdAt: '2025-03-04T05:06:07.000Z',
    record: {
      format: 'moe-workbench.operation',
      version: 1,
      createdAt: '2025-03-04T05:06:07.000Z',
      tool: 'moe-workbench 0.1.0',
      source: { dir: `/models/base "&'<x>`, sha256: 'ab'.repeat(32) },
      profile: { file: '/models/base/profile.json', dataSha256: 'cd'.repeat(32), tokens: 1000 },
      plan,
      experts: plan.layers.map((l) => ({ layer: l.layer, kept: l.experts.map((x) => x.routerRow), removed: l.removed })),
    },
    written: { dir: '/models/pruned <out>', files: ['config.json', 'model.safetensors', 'moe_workbench.json'], bytes: 40_000_000 },
    statistic: plan.operation === 'prune' ? 'reap' : 'frequency',
    ...(withEval ? { evaluation, impact } : {}),
    notes: withEval ? ['evaluated on calibration data (not held out)'] : ['evaluation skipped: no data <given>'],
  };
}

const NONCE = 'TESTnonce0123456789abc==';

/** The rows of the saliency table of one layer: [tr class, row html]. */
function barRows(html: string, layer: number): { cls: string; html: string }[] {
  const start = html.indexOf(`<h3>Layer ${layer}</h3>`);
  assert.ok(start >= 0, `layer ${layer} heading`);
  const table = html.slice(start, html.indexOf('</table>', start));
  return [...table.matchAll(/<tr class="(kept|merged|removed)">([\s\S]*?)<\/tr>/g)].map((m) => ({ cls: m[1]!, html: m[2]! }));
}

describe('report HTML', () => {
  for (const plan of [prunePlan, mergePlan]) {
    const html = reportHtml(report(plan), { nonce: NONCE });

    it(`${plan.operation}: a complete document with the CSP, the nonce'd style and no scripts`, () => {
      assert.match(html, /^<!DOCTYPE html>/);
      assert.match(html, /<\/html>\n$/);
      const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html)?.[1]?.replace(/&#39;/g, "'");
      assert.equal(csp, `default-src 'none'; style-src 'nonce-${NONCE}'; form-action 'none'; base-uri 'none'`);
      const styles = [...html.matchAll(/<style\b([^>]*)>/g)];
      assert.equal(styles.length, 1);
      assert.equal(styles[0]![1], ` nonce="${NONCE}"`);
      assert.doesNotMatch(html, /<script/i);
      assert.doesNotMatch(html, /\son[a-z]+\s*=/i, 'no event handlers');
      assert.doesNotMatch(html, /\sstyle="/, 'no style attributes (the CSP would block them)');
      assert.doesNotMatch(html, /\b(?:src|href)=|url\(|@import/i, 'nothing external');
      assert.match(html, /var\(--vscode-editor-foreground, #[0-9a-f]+\)/);
      assert.match(html, /prefers-color-scheme: dark/);
    });

    it(`${plan.operation}: escapes every text`, () => {
      assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
      assert.ok(html.includes('&quot;&amp;&#39;'));
      assert.ok(html.includes('/models/base &quot;&amp;&#39;&lt;x&gt;'));
      assert.ok(html.includes('/models/pruned &lt;out&gt;'));
      assert.ok(!html.includes('<x>') && !html.includes('<out>') && !html.includes('<b>&'));
      // Every tag in the document is one of ours.
      const tags = new Set([...html.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9]*)/g)].map((m) => m[1]!.toLowerCase()));
      const allowed = 'html head meta title style body main header section h1 h2 h3 p time dl dt dd code span table thead tbody tr th td div strong s ul li mark';
      for (const t of tags) assert.ok(allowed.split(' ').includes(t), `unexpected tag <${t}>`);
    });

    it(`${plan.operation}: a bar row for every old expert, removed and merged ones marked`, () => {
      for (const [i, l] of plan.layers.entries()) {
        const rows = barRows(html, l.layer);
        assert.equal(rows.length, E);
        const max = Math.max(...SCORES[i]!);
        rows.forEach((r, e) => {
          assert.ok(r.html.includes(`#${e}`), `expert ${e} labelled`);
          const w = SCORES[i]![e]! > 0 ? Math.max(1, Math.round((100 * SCORES[i]![e]!) / max)) : 0;
          assert.ok(r.html.includes(`class="bar w${w}"`), `layer ${l.layer} expert ${e} bar width ${w}`);
          assert.ok(html.includes(`.w${w} { width: ${w}%; }`));
          assert.equal(r.cls === 'removed', l.removed.includes(e));
          if (r.cls === 'removed') {
            assert.ok(r.html.includes(`<s>#${e}</s>`) && r.html.includes('removed'), 'removed in words, struck through');
          }
        });
        const widest = rows.find((r) => r.html.includes('class="bar w100"'));
        assert.ok(widest, 'the highest score fills the bar');
      }
      // The legend names the kinds of bar the plan has.
      assert.equal(html.includes('</span> removed'), plan.operation === 'prune');
      assert.equal(html.includes('</span> merged into another expert'), plan.operation === 'merge');
      if (plan.operation === 'prune') {
        assert.equal(barRows(html, 0).filter((r) => r.cls === 'removed').length, 2);
        assert.ok(barRows(html, 0)[0]!.html.includes('kept as new #0'));
        assert.ok(barRows(html, 0)[2]!.html.includes('kept as new #1'));
      } else {
        const l0 = barRows(html, 0);
        assert.ok(l0[1]!.html.includes('merged into #0'));
        assert.ok(l0[5]!.html.includes('merged into #0') && l0[5]!.html.includes('weight 0.0%'), 'a zero-usage member');
        assert.ok(l0[3]!.html.includes('merged into #2'));
        assert.ok(l0[6]!.html.includes('merged into #7 <span class="muted">(new #3, weight 25.0%)'));
        assert.ok(l0[0]!.html.includes('kept as new #0, merged with #1, #5'));
        assert.ok(l0[4]!.html.includes('kept as new #2<'));
        assert.ok(html.includes('merged {#0, #1, #5} → #0, {#2, #3} → #2, {#6, #7} → #7'));
        assert.ok(barRows(html, 1)[6]!.html.includes('merged into #5'));
      }
    });

    it(`${plan.operation}: figures formatted`, () => {
      assert.ok(html.includes('12.346') && html.includes('13.012') && html.includes('+5.40%'), 'perplexity');
      assert.ok(html.includes('93.2%'), 'top-1 agreement');
      assert.ok(html.includes('0.0123'), 'mean KL');
      assert.ok(html.includes('49.97 MiB') && html.includes('38.15 MiB') && html.includes('-23.7%'), 'size');
      assert.ok(html.includes('13.10M') && html.includes('10.00M'), 'parameters');
      assert.ok(html.includes('-25.0%'), 'experts per layer');
      assert.ok(html.includes('4,096 tokens in 4 chunks'));
      assert.ok(html.includes('2025-03-04 05:06 UTC'));
      assert.ok(html.includes('12.3%') && html.includes('0.0312'), 'impact');
      assert.ok(html.includes('<dt>keep</dt>') || html.includes('<dt>method</dt><dd>reap</dd>'), 'parameters');
      if (plan.operation === 'prune') assert.ok(html.includes('<dd>kind=keep, keep=6</dd>') && html.includes('<dd>1:6</dd>'));
      assert.ok(html.includes('evaluated on calibration data (not held out)'));
    });

    it(`${plan.operation}: the document inline, changed predictions marked and listed`, () => {
      const doc = /<div class="doc">([\s\S]*?)<\/div>/.exec(html)?.[1];
      assert.ok(doc !== undefined);
      assert.equal(
        doc,
        `Hello <mark class="changed" title="next token: &quot;↵&quot; → &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;, KL 0.5000">&lt;script&gt;alert(1)&lt;/script&gt;</mark>\n` +
          `<mark class="changed" title="next token: &quot;the&quot; → &quot;&quot;&amp;&#39;&quot;, KL 0.2500">&quot;&amp;&#39;</mark> end`,
      );
      assert.match(html, /\.doc \{ white-space: pre-wrap;/);
      const changedTable = html.slice(html.indexOf('<h3>Changed predictions</h3>'));
      assert.equal([...changedTable.slice(0, changedTable.indexOf('</table>')).matchAll(/<tr><td/g)].length, 2);
      assert.ok(html.includes('25.0%') && html.includes('50.0%'), 'routing change per layer');
    });
  }

  it('without an evaluation says so and shows the notes', () => {
    const html = reportHtml(report(prunePlan, false), { nonce: NONCE });
    assert.ok(html.includes('Not evaluated'));
    assert.ok(html.includes('evaluation skipped: no data &lt;given&gt;'));
    assert.ok(!html.includes('<table class="figures">') && !html.includes('<div class="doc">') && !html.includes('id="impact"'));
    assert.equal(barRows(html, 1).length, E);
    assert.doesNotMatch(html, /<script/i);
  });

  it('adds the webview cspSource and makes a fresh nonce when none is given', () => {
    const a = reportHtml(report(mergePlan), { cspSource: 'https://x.vscode-cdn.net' });
    const nonce = /style-src https:\/\/x\.vscode-cdn\.net &#39;nonce-([A-Za-z0-9+/=]+)&#39;/.exec(a)?.[1];
    assert.ok(nonce && nonce.length >= 16);
    assert.ok(a.includes(`<style nonce="${nonce}">`));
    assert.notEqual(/nonce="([^"]+)"/.exec(reportHtml(report(mergePlan)))?.[1], nonce);
  });

  it('escapes all five special characters', () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('classifies every old expert', () => {
    assert.deepEqual(
      expertFates(mergePlan.layers[1]!).map((f) => (f.kind === 'merged' ? `${f.expert}>${f.into}` : `${f.expert}:${f.kind}`)),
      ['0>1', '1:kept', '2>3', '3:kept', '4>5', '5:kept', '6>5', '7:kept'],
    );
  });
});

describe('report text', () => {
  it('has the same figures as the HTML, aligned, without colours', () => {
    const text = reportText(report(prunePlan));
    assert.doesNotMatch(text, /\x1b\[/);
    const lines = text.split('\n');
    const head = lines.find((l) => l.startsWith('metric'))!;
    assert.match(head, /^metric\s+before\s+after\s+change$/);
    const ppl = lines.find((l) => l.startsWith('perplexity'))!;
    assert.match(ppl, /^perplexity\s+12\.346\s+13\.012\s+\+5\.40%$/);
    assert.equal(ppl.indexOf('12.346'), head.indexOf('before'));
    assert.equal(ppl.indexOf('13.012'), head.indexOf('after'));
    assert.match(lines.find((l) => l.startsWith('top-1 agreement'))!, /93\.2%/);
    assert.match(lines.find((l) => l.startsWith('mean KL'))!, /0\.0123/);
    assert.match(text, /layer 0\s+8 -> 6 experts; removed #1, #5/);
    assert.match(text, /layer 1\s+8 -> 6 experts; removed #0, #6/);
    assert.match(text, /123 of 1,000 tokens affected \(12\.3%\)/);
    assert.match(text, /routing changed: layer 0 25\.0%, layer 1 50\.0%/);
    assert.ok(text.includes(`"${HOSTILE}"`), 'token text as is (a terminal does not interpret HTML)');
    assert.match(text, /notes:\n {2}- evaluated on calibration data \(not held out\)/);
    assert.match(text, /target\s+kind=keep, keep=6/);
    // The HTML shows the same numbers.
    const html = reportHtml(report(prunePlan), { nonce: NONCE });
    for (const figure of ['12.346', '13.012', '+5.40%', '93.2%', '0.0123']) assert.ok(text.includes(figure) && html.includes(figure), figure);
  });

  it('shows merged groups and a missing evaluation', () => {
    const text = reportText(report(mergePlan, false));
    assert.match(text, /layer 0\s+8 -> 4 experts; merged \{#0, #1, #5\} -> #0, \{#2, #3\} -> #2, \{#6, #7\} -> #7/);
    assert.match(text, /layer 1\s+8 -> 4 experts; merged \{#0, #1\} -> #1, \{#2, #3\} -> #3, \{#4, #5, #6\} -> #5/);
    assert.match(text, /not evaluated/);
    assert.match(text, /evaluation skipped: no data <given>/);
    assert.doesNotMatch(text, /^perplexity/m);
  });
});
