// The wasm SIMD AdamW kernel against the JS reference loop, bit for bit, and the reference against the
// update as the optimizer computed it before the kernel (separate clipping pass, then the fround chain).
// Run: node --import tsx --test test/unit/adamwKernel.test.ts
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { adamwConstants, adamwJs, AdamWKernel, type AdamWConstants } from '../../src/engine/finetune/adamwKernel';
import { ADAMW_BLOCK } from '../../src/engine/finetune/adamwWasm';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Values of every kind a gradient or moment can hold: zeros of both signs, subnormals, tiny and huge. */
function mixed(n: number, rnd: () => number, positive = false): Float32Array {
  const specials = [0, -0, 1e-45, -1e-45, 1.2e-38, -3e-39, 1e-30, -1e-20, 3e38, -3e38, 1, -1, 65504, 1e-8];
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = rnd();
    const x = r < 0.15 ? specials[Math.floor(rnd() * specials.length)]! : (rnd() - 0.5) * 10 ** Math.floor(rnd() * 24 - 16);
    out[i] = positive ? Math.abs(x) : x;
  }
  return out;
}

const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

function assertSameBits(got: Float32Array, want: Float32Array, what: string): void {
  const g = bits(got);
  const w = bits(want);
  for (let i = 0; i < g.length; i++) {
    if (g[i] === w[i] || (Number.isNaN(got[i]) && Number.isNaN(want[i]))) continue;
    assert.fail(`${what}[${i}]: ${got[i]} (0x${g[i]!.toString(16)}) vs ${want[i]} (0x${w[i]!.toString(16)})`);
  }
}

/** The optimizer's loop before the kernel (gradients already clipped in place by clipGradients). */
function previousAdamW(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, t: number, lr: number, wd: number): void {
  const f = Math.fround;
  const [beta1, beta2, eps] = [0.9, 0.95, 1e-8];
  const stepSize = f(lr / (1 - beta1 ** t));
  const bc2Sqrt = f(Math.sqrt(1 - beta2 ** t));
  const decay = f(1 - lr * wd);
  const [b1, b2, a1, a2, e] = [f(beta1), f(beta2), f(1 - beta1), f(1 - beta2), f(eps)];
  for (let i = 0; i < w.length; i++) {
    const gi = g[i]!;
    if (wd !== 0) w[i] = f(w[i]! * decay);
    const mi = (m[i] = f(f(m[i]! * b1) + f(a1 * gi)));
    const vi = (v[i] = f(f(v[i]! * b2) + f(a2 * f(gi * gi))));
    const denom = f(f(f(Math.sqrt(vi)) / bc2Sqrt) + e);
    w[i] = f(w[i]! - f(f(stepSize * mi) / denom));
  }
}

const kernel = AdamWKernel.create();
const ADAM = { beta1: 0.9, beta2: 0.95, eps: 1e-8 };
const sizes = [1, 2, 3, 4, 5, 7, 8, 13, 64, 1001, ADAMW_BLOCK - 1, ADAMW_BLOCK, ADAMW_BLOCK + 3, 3 * ADAMW_BLOCK + 5];

describe('AdamW wasm SIMD kernel', () => {
  test('WebAssembly SIMD is available here (else the JS loop runs and these checks would be vacuous)', () => {
    assert.ok(kernel);
  });

  for (const [wd, clip] of [[0, 1], [0.1, 1], [0, 0.37], [0.01, 0.9]] as const) {
    test(`equals the JS loop bit for bit over 3 steps, many sizes (weight decay ${wd}, clip ${clip})`, () => {
      const rnd = lcg(17 + wd * 1000 + clip * 100);
      for (const n of sizes) {
        const w = mixed(n, rnd);
        const [w2, m, m2, v, v2] = [w.slice(), new Float32Array(n), new Float32Array(n), new Float32Array(n), new Float32Array(n)];
        for (let t = 1; t <= 3; t++) {
          const g = mixed(n, rnd);
          const gBefore = g.slice();
          const k: AdamWConstants = adamwConstants(ADAM, t, 1e-3 * t, wd, clip);
          adamwJs(w, g, m, v, k);
          kernel!.step(w2, g, m2, v2, k);
          assertSameBits(g, gBefore, `n ${n} step ${t} gradient (unchanged)`);
          assertSameBits(w2, w, `n ${n} step ${t} w`);
          assertSameBits(m2, m, `n ${n} step ${t} m`);
          assertSameBits(v2, v, `n ${n} step ${t} v`);
        }
      }
    });
  }

  test('moments of any value (resumed state, subnormal and huge) give the same bits', () => {
    const rnd = lcg(5);
    const n = 2 * ADAMW_BLOCK + 7;
    const w = mixed(n, rnd);
    const m = mixed(n, rnd);
    const v = mixed(n, rnd, true);
    const g = mixed(n, rnd);
    const [w2, m2, v2] = [w.slice(), m.slice(), v.slice()];
    const k = adamwConstants({ beta1: 0.5, beta2: 0.999, eps: 1e-6 }, 7, 0.05, 0.2, 0.5);
    adamwJs(w, g, m, v, k);
    kernel!.step(w2, g, m2, v2, k);
    assertSameBits(w2, w, 'w');
    assertSameBits(m2, m, 'm');
    assertSameBits(v2, v, 'v');
  });

  test('the JS loop equals the update before the kernel (clipGradients pass, then the fround chain), -0 gradients as +0', () => {
    const rnd = lcg(23);
    for (const [wd, clip] of [[0, 1], [0.1, 1], [0.1, 0.25]] as const) {
      const n = 4099;
      const w = mixed(n, rnd);
      const [w2, m, m2, v, v2] = [w.slice(), new Float32Array(n), new Float32Array(n), new Float32Array(n), new Float32Array(n)];
      for (let t = 1; t <= 3; t++) {
        const g = mixed(n, rnd);
        // Before: the trainer's accumulation (0 + g) then clipping's fround(g · c), in place.
        const clipped = g.map((x) => Math.fround(Math.fround(0 + x) * (clip === 1 ? 1 : Math.fround(clip))));
        previousAdamW(w, clipped, m, v, t, 1e-2, wd);
        adamwJs(w2, g, m2, v2, adamwConstants(ADAM, t, 1e-2, wd, clip));
        assertSameBits(w2, w, `wd ${wd} clip ${clip} step ${t} w`);
        assertSameBits(m2, m, `m`);
        assertSameBits(v2, v, `v`);
      }
    }
  });

  test('resident moments: equal the JS loop bit for bit over 3 steps, many sizes side by side in one memory', () => {
    const k = AdamWKernel.create()!;
    const rnd = lcg(41);
    const c = (t: number): AdamWConstants => adamwConstants(ADAM, t, 1e-3 * t, 0.1, 0.7);
    // Allocated one after another (each allocation grows the memory, detaching earlier views): a tensor's
    // last partial group must not reach its neighbour's moments.
    const cases = sizes.map((n) => ({ n, w: mixed(n, rnd), w2: new Float32Array(0), m: new Float32Array(n), v: new Float32Array(n), r: k.allocate(n)! }));
    for (const x of cases) {
      x.w2 = x.w.slice();
      assert.ok(x.r, `allocated ${x.n}`);
      const fresh = k.views(x.r);
      assert.ok(fresh.m.every((e) => e === 0) && fresh.v.every((e) => e === 0), `n ${x.n}: fresh moments are zeros`);
    }
    for (let t = 1; t <= 3; t++) {
      for (const x of cases) {
        const g = mixed(x.n, rnd);
        adamwJs(x.w, g, x.m, x.v, c(t));
        k.stepResident(x.w2, g, x.r, c(t));
      }
      for (const x of cases) {
        const got = k.views(x.r);
        assertSameBits(x.w2, x.w, `n ${x.n} step ${t} w`);
        assertSameBits(got.m, x.m, `n ${x.n} step ${t} m`);
        assertSameBits(got.v, x.v, `n ${x.n} step ${t} v`);
      }
    }
  });

  test('resident moments written through the views (a resumed state) give the same bits', () => {
    const k = AdamWKernel.create()!;
    const rnd = lcg(6);
    const n = ADAMW_BLOCK + 9;
    const [w, m, v, g] = [mixed(n, rnd), mixed(n, rnd), mixed(n, rnd, true), mixed(n, rnd)];
    const w2 = w.slice();
    const r = k.allocate(n)!;
    k.views(r).m.set(m);
    k.views(r).v.set(v);
    const c = adamwConstants({ beta1: 0.5, beta2: 0.999, eps: 1e-6 }, 7, 0.05, 0.2, 0.5);
    adamwJs(w, g, m, v, c);
    k.stepResident(w2, g, r, c);
    assertSameBits(w2, w, 'w');
    assertSameBits(k.views(r).m, m, 'm');
    assertSameBits(k.views(r).v, v, 'v');
  });

  test('an allocation past the 4 GiB a wasm memory holds is refused (undefined), and the kernel still works', () => {
    const k = AdamWKernel.create()!;
    assert.equal(k.allocate(2 ** 29), undefined, '2 x 2 GiB of moments do not fit');
    const r = k.allocate(8)!;
    assert.ok(r);
    assert.throws(() => k.stepResident(new Float32Array(8), new Float32Array(7), r, adamwConstants(ADAM, 1, 1e-3, 0)), /lengths 8, 7, 8/);
  });

  test('a length mismatch is refused', () => {
    assert.throws(() => kernel!.step(new Float32Array(4), new Float32Array(3), new Float32Array(4), new Float32Array(4), adamwConstants(ADAM, 1, 1e-3, 0)), /lengths 4, 3/);
  });
});
