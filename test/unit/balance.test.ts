import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { layerBalance } from '../../src/metrics/balance';
import { tokenAt } from '../../src/features/annotation/documentRouting';

describe('layer balance (moe-methods §2.1)', () => {
  it('perfect balance: CV 0, MaxVio 0, nothing unused', () => {
    // 4 tokens, k=2, E=4: every expert chosen twice.
    const b = layerBalance(0, Int32Array.from([0, 1, 2, 3, 1, 0, 3, 2]), Float32Array.from([1, 1, 1, 1]), 4, 2);
    assert.deepEqual(b.load, [2, 2, 2, 2]);
    assert.equal(b.cv, 0);
    assert.equal(b.maxVio, 0);
    assert.deepEqual(b.neverSelected, []);
  });

  it('skewed load: CV, MaxVio, never-selected experts and entropy by hand', () => {
    // 3 tokens, k=2, E=4: loads [3, 2, 1, 0]; mean 1.5; population std sqrt((2.25+.25+.25+2.25)/4)=sqrt(1.25).
    const b = layerBalance(5, Int32Array.from([0, 1, 0, 2, 1, 0]), Float32Array.from([0.5, 1.0, 1.5]), 4, 2);
    assert.equal(b.layer, 5);
    assert.deepEqual(b.load, [3, 2, 1, 0]);
    assert.ok(Math.abs(b.cv - Math.sqrt(1.25) / 1.5) < 1e-12);
    assert.ok(Math.abs(b.maxVio - (3 - 1.5) / 1.5) < 1e-12); // n̄ = N·k/E = 3·2/4
    assert.deepEqual(b.neverSelected, [3]);
    assert.ok(Math.abs(b.meanEntropy - 1.0) < 1e-7);
    assert.ok(Math.abs(b.meanEntropyNormalised - 1.0 / Math.log(4)) < 1e-7);
  });

  it('only included tokens count', () => {
    const b = layerBalance(0, Int32Array.from([0, 1, 2, 3]), Float32Array.from([1, 2]), 4, 2, (t) => t === 1);
    assert.deepEqual(b.load, [0, 0, 1, 1]);
    assert.equal(b.meanEntropy, 2);
  });
});

describe('tokenAt: offset -> token', () => {
  const doc = {
    tokens: [
      { id: 1, text: '', start: 0, end: 0 },
      { id: 104, text: 'h', start: 0, end: 1 },
      { id: 195, text: 'é', start: 1, end: 2 },
      { id: 169, text: 'é', start: 1, end: 2 },
      { id: 32, text: ' ', start: 2, end: 3 },
      { id: 240, text: '🙂', start: 5, end: 7 },
    ],
  };
  it('finds the token containing an offset; the first of tokens sharing one character', () => {
    assert.equal(tokenAt(doc, 0), 1);
    assert.equal(tokenAt(doc, 1), 2);
    assert.equal(tokenAt(doc, 2), 4);
    assert.equal(tokenAt(doc, 6), 5);
  });
  it('returns -1 between tokens and past the end', () => {
    assert.equal(tokenAt(doc, 3), -1);
    assert.equal(tokenAt(doc, 7), -1);
    assert.equal(tokenAt({ tokens: [] }, 0), -1);
  });
});
