// The expert palette is distinguishable and keeps editor text readable in every theme kind.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { colourContributions, ENTROPY_HUE, entropyBin, EXPERT_HUES, expertColourId, type ThemeKind } from '../../src/features/decorations/palette';

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
/** CIE L*a*b* (D65) of an sRGB colour, for perceptual distances (ΔE76; about 2.3 is just noticeable). */
function lab(c: number[]): number[] {
  const [r, g, b] = c.map((v) => {
    const s = v / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  const xyz = [(0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047, 0.2126 * r + 0.7152 * g + 0.0722 * b, (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883];
  const [fx, fy, fz] = xyz.map((t) => (t > 216 / 24389 ? Math.cbrt(t) : ((24389 / 27) * t + 16) / 116)) as [number, number, number];
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}
const deltaE = (a: number[], b: number[]): number => Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!);
/** No expert tint may pass for an entropy tint: at least this ΔE76 apart (the old red entropy hue was 1.2 from expert 2). */
const MIN_EXPERT_ENTROPY_DELTA_E = 9;

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
  for (const kind of Object.keys(EDITOR) as ThemeKind[]) {
    it(`${kind}: no expert tint is confusable with an entropy tint (ΔE ≥ ${MIN_EXPERT_ENTROPY_DELTA_E})`, () => {
      const tint = (c: (typeof colours)[number]): number[] => lab(blend(c.defaults[kind]!, EDITOR[kind].bg));
      // entropy0 is untinted (confident routing): it is the background, not a colour to confuse.
      const entropy = colours.filter((c) => c.id.includes('.entropy') && c.id !== 'moeWorkbench.entropy0');
      for (const e of colours.filter((c) => c.id.includes('.expert'))) {
        for (const h of entropy) {
          const d = deltaE(tint(e), tint(h));
          assert.ok(d >= MIN_EXPERT_ENTROPY_DELTA_E, `${e.id} vs ${h.id} in ${kind}: ΔE ${d.toFixed(1)}`);
        }
      }
    });
  }
  it('the entropy hue is not one of the expert hues', () => {
    assert.ok(!EXPERT_HUES.includes(ENTROPY_HUE));
  });
  it('experts beyond the palette size reuse colours; entropy bins cover [0, 1]', () => {
    assert.equal(expertColourId(3), 'moeWorkbench.expert3');
    assert.equal(expertColourId(19), 'moeWorkbench.expert3');
    assert.equal(entropyBin(0), 0);
    assert.equal(entropyBin(0.5), 2);
    assert.equal(entropyBin(1), 4);
  });
});
