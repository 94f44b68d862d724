import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DocumentRouting } from '../../src/features/annotation/documentRouting';
import { shiftRange, shiftRouting } from '../../src/features/annotation/shiftRouting';

function doc(text: string, cuts: number[]): DocumentRouting {
  const tokens = cuts.slice(0, -1).map((s, i) => ({ id: i, text: text.slice(s, cuts[i + 1]), start: s, end: cuts[i + 1]! }));
  return { uri: 'u', version: 1, tokens, layers: [], numExperts: 8, topK: 2, complete: true, known: new Uint8Array(tokens.length).fill(1) };
}

describe('shiftRouting: annotations follow typing', () => {
  // "hello world foo" tokens: [hello][ world][ foo]
  const d = doc('hello world foo', [0, 5, 11, 15]);

  it('an insertion before tokens shifts them and keeps their routing', () => {
    const s = shiftRouting(d, [{ rangeOffset: 0, rangeLength: 0, text: '>> ' }], 2);
    assert.deepEqual(s.tokens.map((t) => [t.start, t.end]), [[3, 8], [8, 14], [14, 18]]);
    assert.deepEqual(Array.from(s.known), [0, 1, 1], 'the token right after an insertion may re-tokenise');
    assert.equal(s.version, 2);
  });

  it('an edit inside a token invalidates only that token', () => {
    const s = shiftRouting(d, [{ rangeOffset: 7, rangeLength: 2, text: 'OOO' }], 2); // " wOOOld"
    assert.deepEqual(Array.from(s.known), [1, 0, 1]);
    assert.deepEqual(s.tokens.map((t) => [t.start, t.end]), [[0, 5], [5, 5], [12, 16]]);
  });

  it('typing at the end leaves everything in place', () => {
    const s = shiftRouting(d, [{ rangeOffset: 15, rangeLength: 0, text: '!' }], 2);
    assert.deepEqual(s.tokens.map((t) => [t.start, t.end]), [[0, 5], [5, 11], [11, 15]]);
    assert.deepEqual(Array.from(s.known), [1, 1, 1]);
  });

  it('several changes of one event (multi-cursor) apply in reverse order', () => {
    const s = shiftRouting(d, [
      { rangeOffset: 0, rangeLength: 0, text: 'X' },
      { rangeOffset: 11, rangeLength: 0, text: 'YY' },
    ], 2);
    assert.deepEqual(s.tokens.map((t) => [t.start, t.end]), [[1, 6], [6, 12], [14, 18]]);
    assert.deepEqual(Array.from(s.known), [0, 1, 0]);
    assert.deepEqual(Array.from(d.known), [1, 1, 1], 'the input is not mutated');
  });

  it('deleting a whole token collapses it', () => {
    const s = shiftRouting(d, [{ rangeOffset: 5, rangeLength: 6, text: '' }], 2);
    assert.deepEqual(s.tokens.map((t) => [t.start, t.end]), [[0, 5], [5, 5], [5, 9]]);
    assert.deepEqual(Array.from(s.known), [1, 0, 1]);
  });
});

describe('shiftRange: the annotated selection follows edits', () => {
  it('moves with edits before it and grows with edits inside', () => {
    assert.deepEqual(shiftRange(10, 20, [{ rangeOffset: 0, rangeLength: 0, text: 'abc' }]), { start: 13, end: 23 });
    assert.deepEqual(shiftRange(10, 20, [{ rangeOffset: 15, rangeLength: 1, text: 'xyz' }]), { start: 10, end: 22 });
    assert.deepEqual(shiftRange(10, 20, [{ rangeOffset: 25, rangeLength: 1, text: '' }]), { start: 10, end: 20 });
    assert.deepEqual(shiftRange(10, 20, [{ rangeOffset: 20, rangeLength: 0, text: 'q' }]), { start: 10, end: 21 });
  });
});
