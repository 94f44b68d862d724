// The expert palette is distinguishable and keeps editor text readable in every theme kind.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { colourContributions, entropyBin, expertColourId, type ThemeKind } from '../../src/features/decorations/palette';

/** Default editor background and foreground per theme kind (VS Code's Dark Modern, Light Modern, HC). */
const EDITOR: Record<ThemeKind, { bg: string; fg: string }> = {
  dark: { bg: '#1f1f1f', fg: '#cccccc' },
  light: { bg: '#ffffff', fg: '#3b3b3b' },
  highContrast: { bg: '#000000', fg: '#ffffff' },
  highContrastLight: { bg: '#ffffff', fg: '#292929' },
};

const rgb = (hex: string): number[] => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
function blend(rgba: string, bg: string): number[] {
  const a = parseInt(rgba.slice(7, 9), 16) / 255;
  const c = rgb(rgba);
  return rgb(bg).map((b, i) => a * c[i]! + (1 - a) * b);
}
function luminance(c: number[]): number {
  const [r, g, b] = c.map((v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
function contrast(a: number[], b: number[]): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

describe('palette', () => {
  const colours = colourContributions();
  for (const kind of Object.keys(EDITOR) as ThemeKind[]) {
    it(`${kind}: editor text keeps WCAG AA contrast (4.5:1) on every tint`, () => {
      for (const c of colours) {
        const ratio = contrast(blend(c.defaults[kind]!, EDITOR[kind].bg), rgb(EDITOR[kind].fg));
        assert.ok(ratio >= 4.5, `${c.id} in ${kind}: contrast ${ratio.toFixed(2)}`);
      }
    });
    it(`${kind}: expert tints are distinguishable from the background and from each other`, () => {
      const tints = colours.filter((c) => c.id.includes('.expert')).map((c) => blend(c.defaults[kind]!, EDITOR[kind].bg));
      const dist = (a: number[], b: number[]): number => Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!);
      for (const t of tints) assert.ok(dist(t, rgb(EDITOR[kind].bg)) > 12, 'visible against the background');
      for (let i = 0; i < tints.length; i++) for (let j = i + 1; j < tints.length; j++) assert.ok(dist(tints[i]!, tints[j]!) > 6, `tints ${i} and ${j} differ`);
    });
  }
  it('experts beyond the palette size reuse colours; entropy bins cover [0, 1]', () => {
    assert.equal(expertColourId(3), 'moeWorkbench.expert3');
    assert.equal(expertColourId(19), 'moeWorkbench.expert3');
    assert.equal(entropyBin(0), 0);
    assert.equal(entropyBin(0.5), 2);
    assert.equal(entropyBin(1), 4);
  });
});
