// Comparison of two forward results for the layer-wise tests: float outputs within `atol`, chosen
// experts exactly.
import * as assert from 'node:assert/strict';
import type { ForwardResult } from '../../src/protocol/engineProtocol';
import { assertClose } from '../support/compare';

export const LAYERWISE_ATOL = 1e-5;

export function assertSameForward(got: ForwardResult, want: ForwardResult, what: string, atol = LAYERWISE_ATOL): void {
  assertClose(got.logprobs, want.logprobs, atol, `${what}: logprobs`);
  if (want.logits) assertClose(got.logits!.data, want.logits.data, atol, `${what}: logits`);
  if (want.hidden) {
    assertClose(got.hidden!.embeddings.data, want.hidden.embeddings.data, atol, `${what}: embeddings`);
    want.hidden.layers.forEach((h, L) => assertClose(got.hidden!.layers[L]!.data, h.data, atol, `${what}: hidden.${L}`));
    assertClose(got.hidden!.finalNorm.data, want.hidden.finalNorm.data, atol, `${what}: final_norm`);
  }
  assert.deepEqual(got.routing.map((r) => r.layer), want.routing.map((r) => r.layer), `${what}: routed layers`);
  want.routing.forEach((w, i) => {
    const g = got.routing[i]!;
    assert.deepEqual(Array.from(g.experts.data), Array.from(w.experts.data), `${what}: experts of layer ${w.layer}`);
    assertClose(g.routerLogits.data, w.routerLogits.data, atol, `${what}: router logits ${w.layer}`);
    assertClose(g.weights.data, w.weights.data, atol, `${what}: gate weights ${w.layer}`);
    if (w.expertNorms) assertClose(g.expertNorms!.data, w.expertNorms.data, atol * 10, `${what}: expert norms ${w.layer}`);
    if (w.sharedExpertGate) assertClose(g.sharedExpertGate!, w.sharedExpertGate, atol, `${what}: shared gate ${w.layer}`);
  });
}

/** Largest absolute difference over every float output (0 means bitwise equal). */
export function maxForwardDiff(a: ForwardResult, b: ForwardResult): number {
  let d = 0;
  const upd = (x: ArrayLike<number>, y: ArrayLike<number>): void => {
    for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i]! - y[i]!));
  };
  upd(a.logprobs, b.logprobs);
  if (a.logits && b.logits) upd(a.logits.data, b.logits.data);
  a.routing.forEach((r, i) => upd(r.routerLogits.data, b.routing[i]!.routerLogits.data));
  return d;
}
