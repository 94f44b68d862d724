// Tolerance comparisons that say where and by how much two tensors differ.
import * as assert from 'node:assert/strict';

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; at: number } {
  assert.equal(a.length, b.length, `length ${a.length} vs ${b.length}`);
  let diff = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= diff)) {
      diff = d;
      at = i;
    }
  }
  return { diff, at };
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, label: string): number {
  const { diff, at } = maxAbsDiff(actual, expected);
  assert.ok(diff <= atol, `${label}: max |diff| ${diff} > ${atol} at flat index ${at} (got ${actual[at]}, expected ${expected[at]})`);
  return diff;
}
