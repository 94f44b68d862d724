// What the colour legend says for the editor's colour mode: the expert palette, the entropy bins with
// their ranges in nats, or the selected expert's outline. Pure, so it is unit-tested in plain Node.
import type { ColourMode } from '../../src/protocol/explorerProtocol';

/** Mirrors src/features/ids.ts (PALETTE_SIZE, ENTROPY_BINS); a unit test keeps them equal. */
export const LEGEND_PALETTE_SIZE = 16;
export const LEGEND_ENTROPY_BINS = 5;

export interface LegendSwatch {
  /** A CSS colour (a theme variable). */
  readonly colour: string;
  readonly label: string;
  /** Drawn as an outline rather than a fill (the selected-expert decoration is a border). */
  readonly outline?: boolean;
}

export interface LegendData {
  readonly title: string;
  readonly swatches: readonly LegendSwatch[];
  readonly note: string;
}

export interface LegendInput {
  readonly mode: ColourMode;
  readonly numExperts: number;
  readonly layer: number | undefined;
  readonly selectedExpert: number | undefined;
}

/** Bin b of the entropy colouring covers [b, b+1)·ln E / bins nats (the decorations' entropyBin). */
export function entropyBinRanges(numExperts: number): { lo: number; hi: number }[] {
  const logE = Math.log(Math.max(2, numExperts));
  return Array.from({ length: LEGEND_ENTROPY_BINS }, (_, b) => ({ lo: (b * logE) / LEGEND_ENTROPY_BINS, hi: ((b + 1) * logE) / LEGEND_ENTROPY_BINS }));
}

export function legendData(input: LegendInput): LegendData {
  const { mode, numExperts: E, layer, selectedExpert } = input;
  const inLayer = layer === undefined ? '' : ` · layer ${layer}`;
  switch (mode) {
    case 'expert':
      return {
        title: `Editor colours: top-1 expert${inLayer}`,
        swatches: Array.from({ length: Math.min(E, LEGEND_PALETTE_SIZE) }, (_, e) => ({ colour: `var(--vscode-moeWorkbench-expert${e})`, label: String(e) })),
        note: E > LEGEND_PALETTE_SIZE ? `Colours repeat every ${LEGEND_PALETTE_SIZE} experts (expert ${LEGEND_PALETTE_SIZE} looks like expert 0).` : 'The Tokens tab\'s column headers carry the same colours.',
      };
    case 'entropy':
      return {
        title: `Editor colours: router entropy in nats${inLayer}`,
        swatches: entropyBinRanges(E).map(({ lo, hi }, b) => ({ colour: `var(--vscode-moeWorkbench-entropy${b})`, label: `${lo.toFixed(2)}–${hi.toFixed(2)}` })),
        note: `Stronger tint = the router hesitates (higher entropy); uniform routing is ln ${E} = ${Math.log(Math.max(2, E)).toFixed(2)}.`,
      };
    case 'selectedExpert':
      return {
        title: `Editor colours: routed to the selected expert${inLayer}`,
        swatches: [{ colour: 'var(--vscode-moeWorkbench-selectedExpertBorder)', label: selectedExpert === undefined ? 'none selected' : `expert ${selectedExpert}`, outline: true }],
        note: selectedExpert === undefined ? 'Select an expert: click a column header in the Tokens tab.' : 'Outlined: tokens with this expert in their top-k.',
      };
    default: {
      const never: never = mode;
      return never;
    }
  }
}
