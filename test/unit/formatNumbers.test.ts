// One number format everywhere (issue #8, §4.11): counts with thousands separators, sizes in binary units,
// and formatters that emit only digits and units whatever they are given. The CLI's eval text uses the
// same formats as the report; the plan preview's tables scroll in a narrow panel instead of clipping.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evalText } from '../../src/cli/evalText';
import type { EvalReport, ExpertPlan } from '../../src/protocol/expertOps';
import * as fmt from '../../src/report/formatNumbers';
import { planPreviewHtml } from '../../src/webviews/planPreview/planPreviewHtml';

describe('formatNumbers', () => {
  it('counts with thousands separators', () => {
    assert.equal(fmt.formatInteger(12365), '12,365');
    assert.equal(fmt.formatInteger(12445), '12,445');
    assert.equal(fmt.formatInteger(999), '999');
    assert.equal(fmt.formatInteger(0), '0');
    assert.equal(fmt.formatInteger(-0.3), '0');
    assert.equal(fmt.formatInteger(-1234567), '-1,234,567');
    assert.equal(fmt.formatInteger(1e21), '1,000,000,000,000,000,000,000');
  });

  it('sizes in binary units', () => {
    assert.equal(fmt.formatBytes(512), '512 B');
    assert.equal(fmt.formatBytes(1536), '1.5 KiB');
    assert.equal(fmt.formatBytes(52_400_000), '49.97 MiB');
    assert.equal(fmt.formatBytes(3 * 2 ** 30), '3.00 GiB');
    assert.equal(fmt.formatBytes(5 * 2 ** 40), '5.00 TiB');
  });

  it('ids, shares and measures', () => {
    assert.equal(fmt.formatId(7), '7');
    assert.equal(fmt.formatId(-1), '?');
    assert.equal(fmt.formatIds([0, 3]), '0, 3');
    assert.equal(fmt.formatIds([]), 'none');
    assert.equal(fmt.formatShare(1, 8), '12.5%');
    assert.equal(fmt.formatShare(1, 0), '—');
    assert.equal(fmt.formatFixed(NaN, 4), 'n/a');
    assert.equal(fmt.formatPerplexity(Infinity), '∞');
  });

  it('emit no markup whatever they are given', () => {
    const hostile = ['<form action=x>', '12<b>', { toString: () => '<i>' }, [1, '<p>'], null, undefined, NaN, true];
    const one = [fmt.formatInteger, fmt.formatId, fmt.formatBytes, fmt.formatPercent, fmt.formatPerplexity, fmt.formatKl, fmt.formatParams, fmt.formatScore, fmt.formatSeconds, (v: number) => fmt.formatFixed(v, 2), fmt.formatIds as (v: unknown) => string];
    const two = [fmt.formatShare, fmt.formatChange];
    for (const v of hostile) {
      for (const f of one) assert.match((f as (x: unknown) => string)(v), /^[-0-9.,%+a-zA-Z∞?—/ ]*$/, `${f.name}(${String(v)})`);
      for (const f of two) assert.match((f as (a: unknown, b: unknown) => string)(v, v), /^[-0-9.,%+a-zA-Z∞?—/ ]*$/, `${f.name}(${String(v)})`);
    }
  });
});

describe('the CLI eval text', () => {
  it('uses the report formats: MiB, thousands separators, signed changes', () => {
    const r: EvalReport = {
      tokens: 12365,
      chunks: 13,
      baseline: { dir: '/a', name: 'a', perplexity: 12.5, bytesOnDisk: 52_400_000, totalParams: 13_100_000, activeParams: 4_200_000, numExperts: 8 },
      candidate: { dir: '/b', name: 'b', perplexity: 13, bytesOnDisk: 40_000_000, totalParams: 10_000_000, activeParams: 4_200_000, numExperts: 6 },
      top1Agreement: 0.9321,
      meanKl: 0.01234,
      runMs: 2500,
    };
    const text = evalText(r);
    assert.match(text, /evaluated {2}12,365 tokens in 13 chunks \(2\.5 s\)/);
    assert.match(text, /size on disk\s+49\.97 MiB\s+38\.15 MiB\s+-23\.7%/);
    assert.match(text, /total parameters\s+13,100,000\s+10,000,000\s+-23\.7%/);
    assert.match(text, /top-1 agreement\s+93\.2%/);
    assert.match(text, /mean KL\(base‖cand\)\s+0\.0123 nats/);
    assert.doesNotMatch(text, /\bMB\b/);
  });
});

describe('the plan preview in a narrow panel', () => {
  const layer = (L: number) => ({ layer: L, numExperts: 4, topK: 2, experts: [0, 1, 3].map((e) => ({ sources: [{ expert: e, weight: 1 }], routerRow: e })), removed: [2], scores: [0.4, 0.3, 0.1, 0.2] });
  const plan: ExpertPlan = { operation: 'prune', description: 'd', parameters: { method: 'reap', target: { kind: 'keep', keep: 3 }, protect: [] }, layers: [layer(0), layer(1)] };
  const impact = { tokens: 12365, affectedTokens: 12345, perLayer: [{ layer: 0, affected: 10, gateMassLost: 0.1 }, { layer: 1, affected: 5, gateMassLost: 0.2 }], worst: [] };
  const html = planPreviewHtml({ modelName: 'm', plan, statistic: 'reap', statisticLabel: 'REAP', profileNote: '', sources: [{ kind: 'sample', label: 'Calibration sample', impact, revealable: false }, { kind: 'document', label: 'a very long document name.prompt', impact, revealable: true }] });

  it('puts every table in a horizontally scrolling box and keeps its cells on one line', () => {
    const tables = [...html.matchAll(/<table\b/g)].length;
    assert.ok(tables >= 3);
    assert.equal([...html.matchAll(/<div class="scroll"><table\b/g)].length, tables, 'every table scrolls');
    assert.match(html, /\.scroll \{ overflow-x: auto; max-width: 100%; \}/);
    assert.match(html, /th, td \{[^}]*white-space: nowrap;/);
  });

  it('writes counts with thousands separators', () => {
    assert.match(html, /12,345 of 12,365 tokens/);
  });
});
