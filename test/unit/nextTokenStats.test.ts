// log-softmax, KL divergence and argmax of next-token logit rows against values computed here in float64.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { argmaxRow, klDivergence, logSoftmaxRow } from '../../src/engine/evaluation/nextTokenStats';

/** softmax in float64, written out directly (no max shift: the test inputs are small). */
function softmax(x: readonly number[]): number[] {
  const e = x.map(Math.exp);
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

function kl(p: readonly number[], q: readonly number[]): number {
  return p.reduce((s, pi, i) => s + (pi === 0 ? 0 : pi * Math.log(pi / q[i]!)), 0);
}

function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected}`);
}

describe('logSoftmaxRow', () => {
  it('matches log(softmax) and reads the row at the offset', () => {
    const logits = Float32Array.from([9, 9, 9, 1, 2, 3, 0.5]);
    const out = new Float64Array(4);
    logSoftmaxRow(logits, 3, 4, out);
    // lse(1, 2, 3, 0.5) by hand.
    const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3) + Math.exp(0.5));
    [1, 2, 3, 0.5].forEach((x, j) => close(out[j]!, x - lse, 1e-15, `out[${j}]`));
    close(out.reduce((s, v) => s + Math.exp(v), 0), 1, 1e-15, 'probabilities sum to 1');
  });

  it('huge logits stay finite (log-sum-exp around the max)', () => {
    const out = new Float64Array(3);
    logSoftmaxRow(Float32Array.from([1e4, 1e4 - 1, -1e4]), 0, 3, out);
    const lse = Math.log(1 + Math.exp(-1)); // relative to 1e4
    close(out[0]!, -lse, 1e-12, 'out[0]');
    close(out[1]!, -1 - lse, 1e-12, 'out[1]');
    close(out[2]!, -2e4 - lse, 1e-9, 'out[2]');
    assert.ok(out.every(Number.isFinite));
  });

  it('-Infinity logits get -Infinity, the rest a proper distribution; a row of only -Infinity is NaN', () => {
    const out = new Float64Array(3);
    logSoftmaxRow(Float32Array.from([0, -Infinity, 0]), 0, 3, out);
    assert.deepEqual(Array.from(out), [-Math.LN2, -Infinity, -Math.LN2]);
    logSoftmaxRow(Float32Array.from([-Infinity, -Infinity]), 0, 2, out);
    assert.ok(Number.isNaN(out[0]!) && Number.isNaN(out[1]!));
    logSoftmaxRow(Float32Array.from([NaN, 1]), 0, 2, out);
    assert.ok(Number.isNaN(out[0]!) && Number.isNaN(out[1]!));
  });
});

describe('klDivergence', () => {
  it('equals Σ p log(p/q) of two small distributions, for the given row', () => {
    const a = [0, 1, 2, -0.5];
    const b = [2, 0, -1, 0.25];
    const V = 4;
    const base = Float32Array.from([...b, ...a]); // row 1 is `a`
    const cand = Float32Array.from([...a, ...b]); // row 1 is `b`
    close(klDivergence(base, cand, 1, V), kl(softmax(a), softmax(b)), 1e-14, 'KL(a‖b)');
    close(klDivergence(base, cand, 0, V), kl(softmax(b), softmax(a)), 1e-14, 'KL(b‖a)');
    assert.notEqual(klDivergence(base, cand, 0, V), klDivergence(base, cand, 1, V), 'KL is not symmetric');
  });

  it('is 0 for identical rows and invariant to adding a constant to a row', () => {
    const p = Float32Array.from([0.25, -1.25, 4, 2]); // exact in float32, also after +64;
    assert.equal(klDivergence(p, p, 0, 4), 0);
    const shifted = Float32Array.from(p, (v) => v + 64);
    close(klDivergence(p, shifted, 0, 4), 0, 1e-14, 'KL(p‖p+c)');
  });

  it('stays finite with logits of 1e4', () => {
    // p ≈ one-hot on token 0; q puts token 0 at -1e4 below its max: KL ≈ 1e4.
    const d = klDivergence(Float32Array.from([1e4, 0, 0]), Float32Array.from([0, 1e4, 0]), 0, 3);
    assert.ok(Number.isFinite(d));
    close(d, 1e4, 1e-6, 'KL');
    const same = Float32Array.from([1e4, 1e4 - 2, 3]);
    close(klDivergence(same, Float32Array.from(same, (v) => v - 1e4), 0, 3), 0, 1e-12, 'shifted by -1e4');
  });

  it('handles -Infinity: no mass in the baseline contributes 0, mass the candidate excludes is +Infinity', () => {
    // Token 1 impossible for the baseline: KL over the two remaining tokens.
    const d = klDivergence(Float32Array.from([0, -Infinity, 1]), Float32Array.from([1, 0.5, 0]), 0, 3);
    const p = [...softmax([0, 1]).slice(0, 1), 0, ...softmax([0, 1]).slice(1)];
    close(d, kl(p, softmax([1, 0.5, 0])), 1e-14, 'KL');
    // Both exclude token 1: no NaN from -Inf - -Inf.
    close(klDivergence(Float32Array.from([0, -Infinity, 1]), Float32Array.from([1, -Infinity, 0]), 0, 3), kl(softmax([0, 1]), softmax([1, 0])), 1e-14, 'KL');
    assert.equal(klDivergence(Float32Array.from([0, 0]), Float32Array.from([0, -Infinity]), 0, 2), Infinity);
    assert.ok(Number.isNaN(klDivergence(Float32Array.from([-Infinity, -Infinity]), Float32Array.from([0, 0]), 0, 2)));
  });
});

describe('argmaxRow', () => {
  it('finds the largest logit of the row, the first on ties', () => {
    const m = Float32Array.from([5, 1, 2, -Infinity, 3, 3]);
    assert.equal(argmaxRow(m, 0, 3), 0);
    assert.equal(argmaxRow(m, 1, 3), 1);
    assert.equal(argmaxRow(Float32Array.from([-Infinity, -1e4, -Infinity]), 0, 3), 1);
    assert.equal(argmaxRow(Float32Array.from([-Infinity, -Infinity]), 0, 2), 0);
  });
});
