// The expert palette: PALETTE_SIZE theme colours (contributed in package.json as moeWorkbench.expertN with
// defaults per theme kind), tints chosen so editor text stays readable on them (test/unit/palette.test.ts
// checks WCAG contrast against each theme kind's default editor colours). Expert e uses colour e mod size.
import { ENTROPY_BINS, PALETTE_SIZE } from '../ids';

/** Base hues (Tableau 20-like), one per expert colour. */
export const EXPERT_HUES: readonly string[] = [
  '#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7',
  '#9c755f', '#bab0ac', '#17becf', '#bcbd22', '#8c564b', '#e377c2', '#7f7f7f', '#aec7e8',
];

export type ThemeKind = 'dark' | 'light' | 'highContrast' | 'highContrastLight';

/** Tint opacity per theme kind: strong enough to tell experts apart, weak enough to keep text readable. */
const EXPERT_ALPHA: Record<ThemeKind, number> = { dark: 0x50, light: 0x55, highContrast: 0x80, highContrastLight: 0x60 };
/**
 * Violet: a hue no expert colour uses, so an entropy tint is never read as an expert (it used to be expert 2's
 * red, next to expert 7's pink). palette.test.ts keeps every entropy bin apart from every expert tint.
 */
export const ENTROPY_HUE = '#8126ff';
const ENTROPY_MAX_ALPHA: Record<ThemeKind, number> = { dark: 0x88, light: 0x77, highContrast: 0x99, highContrastLight: 0x77 };

const hex2 = (n: number): string => Math.round(n).toString(16).padStart(2, '0');

export function expertColourId(expert: number): string {
  return `moeWorkbench.expert${((expert % PALETTE_SIZE) + PALETTE_SIZE) % PALETTE_SIZE}`;
}

export function entropyColourId(bin: number): string {
  return `moeWorkbench.entropy${bin}`;
}

/** Bin of a normalised entropy (0 = certain .. 1 = uniform over all experts). */
export function entropyBin(normalised: number): number {
  return Math.max(0, Math.min(ENTROPY_BINS - 1, Math.floor(normalised * ENTROPY_BINS)));
}

export interface ColourContribution {
  readonly id: string;
  readonly description: string;
  readonly defaults: Record<ThemeKind, string>;
}

/** The `contributes.colors` entries of package.json (kept equal by a unit test). */
export function colourContributions(): ColourContribution[] {
  const kinds: ThemeKind[] = ['dark', 'light', 'highContrast', 'highContrastLight'];
  const experts = EXPERT_HUES.slice(0, PALETTE_SIZE).map((hue, e) => ({
    id: expertColourId(e),
    description: `Background of tokens routed (top-1) to experts ${e}, ${e + PALETTE_SIZE}, ${e + 2 * PALETTE_SIZE}, … in the editor.`,
    defaults: Object.fromEntries(kinds.map((k) => [k, hue + hex2(EXPERT_ALPHA[k])])) as Record<ThemeKind, string>,
  }));
  const entropy = Array.from({ length: ENTROPY_BINS }, (_, b) => ({
    id: entropyColourId(b),
    description: `Background of tokens whose router entropy is in bin ${b + 1} of ${ENTROPY_BINS} (bin 1 = confident routing, untinted; a stronger tint = higher entropy: the router hesitates).`,
    defaults: Object.fromEntries(kinds.map((k) => [k, ENTROPY_HUE + hex2((ENTROPY_MAX_ALPHA[k] * b) / (ENTROPY_BINS - 1))])) as Record<ThemeKind, string>,
  }));
  return [...experts, ...entropy];
}
