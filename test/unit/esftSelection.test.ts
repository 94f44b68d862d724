// ESFT relevance scores and selection against scores computed by hand (../shared/docs/moe-methods.md §5.1).
// Run: node --import tsx --test test/unit/esftSelection.test.ts
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LayerRouting } from '../../src/protocol/engineProtocol';
import { esftSelection, EsftScores, selectByThreshold } from '../../src/engine/finetune/esftSelection';

/** A layer's routing from per-token [expert, weight] pairs (K = pairs per token). */
function routing(layer: number, tokens: readonly (readonly [number, number])[][]): LayerRouting {
  const T = tokens.length;
  const K = tokens[0]!.length;
  return {
    layer,
    routerLogits: { rows: T, cols: 0, data: new Float32Array(0) },
    experts: { rows: T, cols: K, data: Int32Array.from(tokens.flat().map(([e]) => e)) },
    weights: { rows: T, cols: K, data: Float32Array.from(tokens.flat().map(([, w]) => w)) },
    entropy: new Float32Array(T),
  };
}

const close = (a: ArrayLike<number>, b: readonly number[]): void => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-7, `entry ${i}: ${a[i]} vs ${b[i]}`);
};

describe('ESFT scores', () => {
  test('per-token averages per sequence, then the mean over sequences (not pooled over tokens)', () => {
    const s = new EsftScores(new Map([[1, 4]]));
    // Sequence A, 2 tokens: {0: .75, 1: .25}, {0: .5, 2: .5}. Sequence B, 1 token: {3: .875, 2: .125}.
    s.add([routing(1, [[[0, 0.75], [1, 0.25]], [[0, 0.5], [2, 0.5]]])]);
    s.add([routing(1, [[[3, 0.875], [2, 0.125]]])]);
    const [l] = s.scores();
    assert.equal(l!.layer, 1);
    // Token ratio: A = [2/4, 1/4, 1/4, 0], B = [0, 0, 1/2, 1/2]; mean = [.25, .125, .375, .25].
    close(l!.token, [0.25, 0.125, 0.375, 0.25]);
    // Gate: A = [1.25/2, .25/2, .5/2, 0] = [.625, .125, .25, 0], B = [0, 0, .125, .875]; mean:
    close(l!.gate, [0.3125, 0.0625, 0.1875, 0.4375]);
    // Pooling over tokens would give expert 0 a token ratio of 2/6 = .333, not .25: the two definitions differ here.
    assert.equal(s.sequenceCount, 2);
    assert.equal(s.tokens, 3);
    const sum = l!.token.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-12, 'token ratios sum to 1 per layer');
  });

  test('several layers, each with its own expert count; a layer no sequence reached scores zero', () => {
    const s = new EsftScores(new Map([[0, 2], [2, 3], [3, 5]]));
    s.add([routing(0, [[[1, 1]]]), routing(2, [[[2, 1]]])]);
    const out = s.scores();
    assert.deepEqual(out.map((x) => x.layer), [0, 2, 3]);
    close(out[0]!.token, [0, 1]);
    close(out[1]!.gate, [0, 0, 1]);
    close(out[2]!.token, [0, 0, 0, 0, 0]);
  });

  test('routing to a missing layer or expert is refused, naming it', () => {
    assert.throws(() => new EsftScores(new Map([[0, 2]])).add([routing(1, [[[0, 1]]])]), /layer 1 is not an MoE layer/);
    assert.throws(() => new EsftScores(new Map([[0, 2]])).add([routing(0, [[[2, 1]]])]), /layer 0 routes to expert 2 of 2/);
  });
});

describe('ESFT selection', () => {
  test('the minimal prefix by descending score reaching p; ties go to the lower id; result sorted', () => {
    assert.deepEqual(selectByThreshold([0.1, 0.4, 0.2, 0.3], 0.5), [1, 3]);
    assert.deepEqual(selectByThreshold([0.1, 0.4, 0.2, 0.3], 0.7), [1, 3]);
    assert.deepEqual(selectByThreshold([0.1, 0.4, 0.2, 0.3], 0.71), [1, 2, 3]);
    assert.deepEqual(selectByThreshold([0.25, 0.25, 0.25, 0.25], 0.3), [0, 1]);
    assert.deepEqual(selectByThreshold([0.5, 0.5], 1), [0, 1]);
    assert.deepEqual(selectByThreshold([0.1, 0.1], 1), [0, 1], 'all experts when the scores never reach p');
  });

  test('method picks the score; default thresholds are the paper’s', () => {
    const scores = [{ layer: 4, token: Float64Array.of(0.05, 0.15, 0.8), gate: Float64Array.of(0.09, 0.02, 0.01) }];
    assert.deepEqual([...esftSelection(scores, 'esft-token')], [[4, [2]]]);
    assert.deepEqual([...esftSelection(scores, 'esft-gate')], [[4, [0, 1]]]);
    assert.deepEqual([...esftSelection(scores, 'esft-token', 0.9)], [[4, [1, 2]]]);
  });

  test('a threshold outside (0, 1] is refused, naming the value', () => {
    for (const p of [0, -0.1, 1.5, Number.NaN]) assert.throws(() => selectByThreshold([1], p), new RegExp(`--threshold .*got ${p}`));
  });
});
