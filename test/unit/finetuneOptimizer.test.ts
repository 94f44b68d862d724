// Fine-tuning's optimizer, schedule and clipping against independent float64 formulas.
// Run: node --import tsx --test test/unit/finetuneOptimizer.test.ts
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clipGradients, clipScale, globalNorm, sumOfSquares, sumOfSquaresJs } from '../../src/engine/finetune/gradientClip';
import { checkSchedule, learningRateAt } from '../../src/engine/finetune/learningRate';
import { Optimizer } from '../../src/engine/finetune/optimizer';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}
const randomF32 = (n: number, rnd: () => number, scale = 1): Float32Array => Float32Array.from({ length: n }, () => rnd() * scale);

/** AdamW as the paper's Algorithm 2 with PyTorch's placement of eps, in float64. */
function adamwF64(w: number[], grads: number[][], lr: number[], wd: number, b1 = 0.9, b2 = 0.95, eps = 1e-8): number[] {
  const p = [...w];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g, s) => {
    const t = s + 1;
    for (let i = 0; i < p.length; i++) {
      p[i] = p[i]! - lr[s]! * wd * p[i]!;
      m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
      v[i] = b2 * v[i]! + (1 - b2) * g[i]! ** 2;
      const mHat = m[i]! / (1 - b1 ** t);
      const vHat = Math.sqrt(v[i]!) / Math.sqrt(1 - b2 ** t);
      p[i] = p[i]! - (lr[s]! * mHat) / (vHat + eps);
    }
  });
  return p;
}

describe('SGD', () => {
  test('one step is W - lr * grad, rounded to float32, entry by entry', () => {
    const rnd = lcg(1);
    const w = randomF32(1000, rnd);
    const g = randomF32(1000, rnd, 3);
    const before = w.slice();
    new Optimizer('sgd').apply([{ name: 'x', param: w, grad: g, weightDecay: 0 }], 0.01);
    for (let i = 0; i < w.length; i++) assert.equal(w[i], Math.fround(before[i]! - Math.fround(Math.fround(0.01) * g[i]!)));
    assert.notDeepEqual(w, before);
  });
});

describe('AdamW', () => {
  test('20 steps with weight decay and a changing learning rate equal the float64 algorithm', () => {
    const rnd = lcg(7);
    const n = 512;
    const w = randomF32(n, rnd);
    // Gradients of very different scales per entry: Adam's normalisation is what is being checked.
    const grads = Array.from({ length: 20 }, () => Float32Array.from({ length: n }, (_, i) => rnd() * 10 ** ((i % 7) - 4)));
    const lrs = grads.map((_, s) => 1e-3 * (1 + Math.cos(s)));
    const ref = adamwF64(Array.from(w), grads.map((g) => Array.from(g)), lrs, 0.1);
    const opt = new Optimizer('adamw');
    grads.forEach((g, s) => opt.apply([{ name: 'w', param: w, grad: g, weightDecay: 0.1 }], lrs[s]!));
    assert.equal(opt.step, 20);
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(w[i]! - ref[i]!) / Math.max(1e-3, Math.abs(ref[i]!)));
    assert.ok(worst < 2e-6, `max relative difference ${worst}`);
  });

  test('the first step moves every entry by about lr (bias correction), decay only where asked', () => {
    const rnd = lcg(3);
    const a = randomF32(64, rnd);
    const b = a.slice();
    const g = randomF32(64, rnd);
    new Optimizer('adamw').apply([{ name: 'a', param: a, grad: g, weightDecay: 0 }, { name: 'b', param: b, grad: g, weightDecay: 0.5 }], 0.01);
    const start = randomF32(64, lcg(3));
    for (let i = 0; i < 64; i++) {
      assert.ok(Math.abs(Math.abs(a[i]! - start[i]!) - 0.01) < 1e-5, `entry ${i}`);
      assert.ok(Math.abs(b[i]! - (start[i]! * (1 - 0.005) - 0.01 * Math.sign(g[i]!))) < 1e-5, `decayed entry ${i}`);
    }
  });

  test('a run resumed from the saved state equals the uninterrupted run, bit for bit', () => {
    const rnd = lcg(11);
    const w0 = randomF32(300, rnd);
    const grads = Array.from({ length: 10 }, () => randomF32(300, rnd));
    const full = w0.slice();
    const o1 = new Optimizer('adamw');
    for (const g of grads) o1.apply([{ name: 'w', param: full, grad: g, weightDecay: 0.1 }], 1e-3);
    const part = w0.slice();
    const o2 = new Optimizer('adamw');
    for (const g of grads.slice(0, 4)) o2.apply([{ name: 'w', param: part, grad: g, weightDecay: 0.1 }], 1e-3);
    const saved = o2.state();
    o2.apply([{ name: 'w', param: part.slice(), grad: grads[9]!, weightDecay: 0.1 }], 1); // must not leak into the snapshot
    const o3 = new Optimizer('adamw', undefined, saved);
    for (const g of grads.slice(4)) o3.apply([{ name: 'w', param: part, grad: g, weightDecay: 0.1 }], 1e-3);
    assert.deepEqual(part, full);
  });

  test('the state of several tensors (moments kept in the kernel memory) round-trips byte for byte, and a resumed optimizer leaves the saved arrays alone', () => {
    const rnd = lcg(12);
    const sizes = [1, 7, 300, 20001];
    const ws = sizes.map((n) => randomF32(n, rnd));
    const o = new Optimizer('adamw');
    for (let t = 0; t < 3; t++) o.apply(ws.map((w, k) => ({ name: `t${k}`, param: w, grad: randomF32(w.length, rnd), weightDecay: 0.1 })), 1e-3);
    const saved = o.state();
    const copy = new Map([...saved.moments].map(([k, { m, v }]) => [k, { m: m.slice(), v: v.slice() }]));
    const o2 = new Optimizer('adamw', undefined, saved);
    assert.equal(o2.step, 3);
    assert.deepEqual(o2.state().moments, copy);
    o2.apply(ws.map((w, k) => ({ name: `t${k}`, param: w, grad: randomF32(w.length, rnd), weightDecay: 0.1 })), 1e-3);
    assert.deepEqual(saved.moments, copy, 'the resumed optimizer did not write into the state it was given');
    assert.notDeepEqual(o2.state().moments, copy, 'its own moments moved');
    assert.throws(() => new Optimizer('adamw', undefined, { kind: 'adamw', step: 1, moments: new Map([['x', { m: new Float32Array(3), v: new Float32Array(2) }]]) }), /x: the saved optimizer state holds 3 first and 2 second moments/);
  });

  test('bad settings and mismatched state are refused, naming the value', () => {
    assert.throws(() => new Optimizer('adamw', { beta1: 1, beta2: 0.95, eps: 1e-8 }), /beta1 1/);
    assert.throws(() => new Optimizer('adamw').apply([], Number.NaN), /learning rate .*NaN/);
    assert.throws(() => new Optimizer('sgd', undefined, new Optimizer('adamw').state()), /adamw, not sgd/);
    const o = new Optimizer('adamw');
    o.apply([{ name: 'w', param: new Float32Array(4), grad: new Float32Array(4), weightDecay: 0 }], 1e-3);
    assert.throws(() => new Optimizer('adamw', undefined, o.state()).apply([{ name: 'w', param: new Float32Array(5), grad: new Float32Array(5), weightDecay: 0 }], 1e-3), /w: the saved optimizer state holds 4 entries, the tensor 5/);
  });
});

describe('learning-rate schedule', () => {
  test('warm-up is linear from 0, cosine reaches 0 at the end, constant stays', () => {
    const cos = checkSchedule({ kind: 'cosine', lr: 1e-3, warmup: 10, totalSteps: 110 });
    assert.equal(learningRateAt(cos, 0), 0);
    assert.ok(Math.abs(learningRateAt(cos, 5) - 5e-4) < 1e-15);
    assert.equal(learningRateAt(cos, 10), 1e-3);
    assert.ok(Math.abs(learningRateAt(cos, 60) - 5e-4) < 1e-12);
    assert.ok(learningRateAt(cos, 110) < 1e-15);
    const c = checkSchedule({ kind: 'constant', lr: 2e-4, warmup: 0, totalSteps: 5 });
    for (let s = 0; s < 5; s++) assert.equal(learningRateAt(c, s), 2e-4);
  });

  test('bad values are refused, naming the flag and value', () => {
    assert.throws(() => checkSchedule({ kind: 'constant', lr: 0, warmup: 0, totalSteps: 5 }), /--lr .*got 0/);
    assert.throws(() => checkSchedule({ kind: 'constant', lr: 1, warmup: 0, totalSteps: 0 }), /--steps .*got 0/);
    assert.throws(() => checkSchedule({ kind: 'constant', lr: 1, warmup: 5, totalSteps: 5 }), /--warmup .*steps - 1 = 4 \(got 5\)/);
  });
});

/** The norm's defined order, written out independently: lane j sums entries j, j+8, ... of each tensor in turn. */
function laneNorm(grads: Float32Array[]): number {
  let total = 0;
  for (const g of grads) {
    const lanes = new Array<number>(8).fill(0);
    g.forEach((x, i) => (lanes[i % 8] += x * x));
    const [l0, l1, l2, l3, l4, l5, l6, l7] = lanes as [number, number, number, number, number, number, number, number];
    total += ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7));
  }
  return Math.sqrt(total);
}

describe('gradient clipping', () => {
  test('the global norm: each tensor in 8 lanes, then the tensors in order; wasm SIMD equals the JS loop bit for bit', () => {
    const rnd = lcg(51);
    const specials = [0, -0, 1e-45, -1.4e-45, 1.2e-38, 3e38, -3e38, 1, 65504, 1e-8];
    const gradOf = (n: number): Float32Array => Float32Array.from({ length: n }, () => (rnd() < -0.35 ? specials[Math.floor((rnd() + 0.5) * specials.length)]! : rnd() * 10 ** Math.floor((rnd() + 0.5) * 30 - 20)));
    const sizes = [0, 1, 2, 7, 8, 9, 15, 16, 17, 1001, 16383, 16384, 16385, 3 * 16384 + 5];
    const grads = sizes.map(gradOf);
    for (const [i, g] of grads.entries()) {
      const js = sumOfSquaresJs(g);
      assert.equal(sumOfSquares(g), js, `n ${sizes[i]}: wasm vs JS`);
      assert.equal(Math.sqrt(js), laneNorm([g]), `n ${sizes[i]}: JS vs the lanes written out`);
    }
    // Entries of one scale, where a different lane order or pairing shows in the last bits.
    for (let n = 9; n < 3000; n += 61) {
      const g = randomF32(n, rnd);
      assert.equal(sumOfSquares(g), sumOfSquaresJs(g), `uniform n ${n}: wasm vs JS`);
      assert.equal(Math.sqrt(sumOfSquaresJs(g)), laneNorm([g]), `uniform n ${n}: JS vs the lanes written out`);
    }
    assert.equal(globalNorm(grads), laneNorm(grads), 'over the tensors (huge entries included: float32 squares do not overflow float64)');
    const moderate = grads.map((g) => g.map((x) => (Math.abs(x) > 1e30 ? 1 : x)));
    const sequential = Math.sqrt(moderate.reduce((s, g) => s + g.reduce((t, x) => t + x * x, 0), 0));
    assert.ok(Math.abs(globalNorm(moderate) - sequential) <= 1e-12 * sequential, 'about the single running sum');
    assert.equal(sumOfSquares(Float32Array.of(1, 2, Number.POSITIVE_INFINITY, 4, 5, 6, 7, 8, 9)), Number.POSITIVE_INFINITY, 'an infinite entry comes through');
    assert.ok(Number.isNaN(sumOfSquares(Float32Array.of(1, 2, Number.NaN, 4))), 'NaN comes through');
  });


  test('scales by max/(norm+1e-6) when the global norm exceeds the maximum, else leaves the gradients', () => {
    const a = Float32Array.of(3, 0);
    const b = Float32Array.of(0, 4);
    const r = clipGradients([a, b], 1);
    assert.equal(r.norm, 5);
    assert.equal(r.scale, Math.fround(1 / (5 + 1e-6)));
    assert.ok(Math.abs(globalNorm([a, b]) - 1) < 1e-6);
    const c = Float32Array.of(0.3, 0.4);
    const rc = clipGradients([c], 1);
    assert.equal(rc.scale, 1);
    assert.ok(Math.abs(rc.norm - 0.5) < 1e-7);
    assert.deepEqual(c, Float32Array.of(0.3, 0.4));
    assert.equal(clipGradients([Float32Array.of(30, 40)], 0).scale, 1, 'max 0 disables');
  });

  test("the optimizer's gradScale equals clipping the gradients first, bit for bit, for AdamW and SGD; the gradients stay unchanged", () => {
    const rnd = lcg(31);
    for (const kind of ['adamw', 'sgd'] as const) {
      const w0 = [randomF32(1000, rnd), randomF32(37, rnd)];
      const [fused, clipped] = [w0.map((w) => w.slice()), w0.map((w) => w.slice())];
      const [a, b] = [new Optimizer(kind), new Optimizer(kind)];
      for (let s = 0; s < 3; s++) {
        const grads = w0.map((w) => randomF32(w.length, rnd, 5));
        const copies = grads.map((g) => g.slice());
        const r = clipScale(grads, 1);
        assert.ok(r.scale < 1, `clipped (norm ${r.norm})`);
        a.apply(fused.map((w, i) => ({ name: `t${i}`, param: w, grad: grads[i]!, weightDecay: i === 0 ? 0.1 : 0 })), 1e-2, r.scale);
        assert.deepEqual(grads, copies, 'gradients unchanged');
        assert.deepEqual(clipGradients(copies, 1), r);
        b.apply(clipped.map((w, i) => ({ name: `t${i}`, param: w, grad: copies[i]!, weightDecay: i === 0 ? 0.1 : 0 })), 1e-2);
        for (let i = 0; i < w0.length; i++) assert.deepEqual(fused[i], clipped[i], `${kind} step ${s} tensor ${i}`);
      }
    }
  });

  test('a non-finite norm is reported and nothing is scaled', () => {
    const g = Float32Array.of(1, Number.POSITIVE_INFINITY);
    const r = clipGradients([g], 1);
    assert.equal(r.norm, Infinity);
    assert.deepEqual(g, Float32Array.of(1, Number.POSITIVE_INFINITY));
  });
});
