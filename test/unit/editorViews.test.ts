// Pure pieces behind the editor features: hover text, token colouring, pass planning.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planChunks } from '../../src/features/annotation/chunkPlan';
import type { DocumentRouting } from '../../src/features/annotation/documentRouting';
import { colourTokens } from '../../src/features/decorations/tokenColouring';
import { hoverMarkdown, weightBar } from '../../src/features/hover/hoverMarkdown';

/** 4 tokens "ab cd", 2 layers (0 and 2), 4 experts, top-2. Expert 3 is seldom chosen in layer 2. */
function sample(): DocumentRouting {
  const tokens = [
    { id: 97, text: 'a', start: 0, end: 1 },
    { id: 98, text: 'b', start: 1, end: 2 },
    { id: 32, text: ' ', start: 2, end: 3 },
    { id: 99, text: 'cd', start: 3, end: 5 },
  ];
  return {
    uri: 'file:///x.prompt',
    version: 3,
    tokens,
    numExperts: 4,
    topK: 2,
    complete: true,
    known: Uint8Array.from([1, 1, 1, 1]),
    layers: [
      { layer: 0, experts: Int32Array.from([0, 1, 1, 0, 2, 0, 0, 1]), weights: Float32Array.from([0.7, 0.3, 0.6, 0.4, 0.5, 0.5, 0.9, 0.1]), entropy: Float32Array.from([0.5, 0.6, 1.35, 0.2]) },
      { layer: 2, experts: Int32Array.from([1, 2, 1, 2, 1, 2, 3, 1]), weights: Float32Array.from([0.8, 0.2, 0.8, 0.2, 0.8, 0.2, 0.55, 0.45]), entropy: Float32Array.from([0.4, 0.4, 0.4, 0.4]) },
    ],
  };
}

describe('hover markdown', () => {
  it('lists every layer with experts, weights and entropy; 4 tokens are no evidence for a mark', () => {
    const md = hoverMarkdown(sample(), 3, 2);
    assert.match(md, /token id 99 · #3 of 4/);
    const rows = md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| layer'));
    assert.equal(rows.length, 2);
    assert.match(rows[0]!, /^\| L0 \| \[\*\*0\*\*\]\(command:moeWorkbench\.selectExpert\?.*\) `█████████░` 0\.900 · \[\*\*1\*\*\].* `█░░░░░░░░░` 0\.100 \| 0\.20 \|$/);
    // Expert 3 took 1 of 8 slots and token 2's entropy is 0.97·ln 4, but on 4 tokens that is chance.
    assert.match(rows[1]!, /^\| L2 ◂ \|.*0\.550.*0\.450 \| 0\.40 \|$/);
    assert.doesNotMatch(hoverMarkdown(sample(), 2, 0), /⚠/);
    assert.match(md, /\[Show in Explorer\]\(command:moeWorkbench\.showTokenInExplorer\?/);
  });

  it('says when a token has no routing yet', () => {
    const d = { ...sample(), known: Uint8Array.from([1, 0, 1, 1]) };
    assert.match(hoverMarkdown(d, 1, 0), /not computed yet/);
  });

  it('weight bars', () => {
    assert.equal(weightBar(0), '░░░░░░░░░░');
    assert.equal(weightBar(0.54), '█████░░░░░');
    assert.equal(weightBar(1), '██████████');
  });
});

describe('token colouring', () => {
  it('top-1 expert, entropy bins and the selected expert', () => {
    const d = sample();
    assert.deepEqual(colourTokens(d, 0, 'expert', undefined).map((s) => [s.start, s.style]), [
      [0, { kind: 'expert', colour: 0 }],
      [1, { kind: 'expert', colour: 1 }],
      [2, { kind: 'expert', colour: 2 }],
      [3, { kind: 'expert', colour: 0 }],
    ]);
    // entropy / ln 4: 0.36 -> bin 1, 0.43 -> 2, 0.97 -> 4, 0.14 -> 0
    assert.deepEqual(colourTokens(d, 0, 'entropy', undefined).map((s) => s.style), [1, 2, 4, 0].map((bin) => ({ kind: 'entropy', bin })));
    assert.deepEqual(colourTokens(d, 2, 'selectedExpert', 3).map((s) => [s.start, s.end]), [[3, 5]]);
    assert.deepEqual(colourTokens(d, 2, 'selectedExpert', undefined), []);
  });

  it('skips unknown tokens, empty spans and repeated spans of one character', () => {
    const d = sample();
    const tokens = [...d.tokens];
    tokens[1] = { ...tokens[1]!, start: 0, end: 1 }; // shares token 0's span
    const spans = colourTokens({ ...d, tokens, known: Uint8Array.from([1, 1, 0, 1]) }, 0, 'expert', undefined);
    assert.deepEqual(spans.map((s) => s.start), [0, 3]);
  });

  it('an unknown layer colours nothing', () => {
    assert.deepEqual(colourTokens(sample(), 7, 'expert', undefined), []);
  });
});

describe('pass planning for long documents', () => {
  it('one pass when it fits', () => {
    assert.deepEqual(planChunks(10, 16, []), [{ start: 0, end: 10 }]);
  });
  it('visible passes first, then by distance', () => {
    const plan = planChunks(50, 10, [{ start: 31, end: 38 }]);
    assert.deepEqual(plan.map((c) => c.start), [30, 20, 40, 10, 0]);
    assert.equal(plan.reduce((n, c) => n + c.end - c.start, 0), 50);
  });
});
