// The Expert Explorer's colour legend: a key for every colour mode, entropy bins in nats that match the
// decorations' binning, and the same palette size as package.json's colours.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { entropyBin } from '../../src/features/decorations/palette';
import { ENTROPY_BINS, PALETTE_SIZE } from '../../src/features/ids';
import { entropyBinRanges, LEGEND_ENTROPY_BINS, LEGEND_PALETTE_SIZE, legendData } from '../../webview/explorer/legendData';

describe('colour legend', () => {
  it('mirrors the palette and bin counts of the decorations', () => {
    assert.equal(LEGEND_PALETTE_SIZE, PALETTE_SIZE);
    assert.equal(LEGEND_ENTROPY_BINS, ENTROPY_BINS);
  });

  it('entropy mode: one swatch per bin with its range in nats, and what a stronger tint means', () => {
    const d = legendData({ mode: 'entropy', numExperts: 8, layer: 2, selectedExpert: undefined });
    assert.equal(d.title, 'Editor colours: router entropy in nats · layer 2');
    assert.deepEqual(d.swatches.map((s) => s.label), ['0.00–0.42', '0.42–0.83', '0.83–1.25', '1.25–1.66', '1.66–2.08']);
    assert.deepEqual(d.swatches.map((s) => s.colour), [0, 1, 2, 3, 4].map((b) => `var(--vscode-moeWorkbench-entropy${b})`));
    assert.match(d.note, /Stronger tint = the router hesitates \(higher entropy\); uniform routing is ln 8 = 2\.08\./);
  });

  it('the ranges are the bins the decorations use', () => {
    for (const E of [2, 8, 64]) {
      const ranges = entropyBinRanges(E);
      const logE = Math.log(E);
      for (let i = 0; i < 1000; i++) {
        const h = ((i + 0.5) / 1000) * logE; // off the bin edges, where rounding decides
        const b = entropyBin(h / logE);
        const inRange = ranges.findIndex((r) => h >= r.lo && h < r.hi);
        assert.equal(b, inRange, `E=${E}, h=${h}`);
      }
      assert.equal(entropyBin(1), ranges.length - 1, 'uniform routing is in the last bin');
    }
  });

  it('expert mode: the palette, with a note when colours repeat', () => {
    const d = legendData({ mode: 'expert', numExperts: 8, layer: 0, selectedExpert: undefined });
    assert.deepEqual(d.swatches.map((s) => s.label), ['0', '1', '2', '3', '4', '5', '6', '7']);
    assert.equal(d.swatches[7]!.colour, 'var(--vscode-moeWorkbench-expert7)');
    const many = legendData({ mode: 'expert', numExperts: 64, layer: 0, selectedExpert: undefined });
    assert.equal(many.swatches.length, 16);
    assert.match(many.note, /repeat every 16 experts/);
  });

  it('selected-expert mode: the outline, or how to select one', () => {
    const d = legendData({ mode: 'selectedExpert', numExperts: 8, layer: 1, selectedExpert: 3 });
    assert.deepEqual(d.swatches, [{ colour: 'var(--vscode-moeWorkbench-selectedExpertBorder)', label: 'expert 3', outline: true }]);
    assert.match(legendData({ mode: 'selectedExpert', numExperts: 8, layer: 1, selectedExpert: undefined }).note, /Select an expert/);
  });
});
