// The heatmap's input and what its hover card says about a cell. Pure, so it is unit-tested in Node.
import type { ExplorerToken } from '../../src/protocol/explorerProtocol';
import type { GridPos } from './gridNavigation';
import { count, fixed } from './labels';
import { weightOf } from './shade';
import { visibleToken } from './tokenText';

export interface HeatmapData {
  readonly tokens: readonly ExplorerToken[];
  readonly known: readonly boolean[];
  /** Per token: [expert, weight] pairs of the selected layer. */
  readonly routing: readonly (readonly (readonly [number, number])[])[];
  /** Tokens routed to each expert in the selected layer (for the column tooltips). */
  readonly load: readonly number[] | undefined;
  readonly numExperts: number;
  readonly layer: number | undefined;
  readonly selectedExpert: number | undefined;
  /** A pruned or merged model: each expert's id(s) in the source model ("5", "5+7"). */
  readonly origins?: readonly string[];
}

export const EMPTY_HEATMAP: HeatmapData = { tokens: [], known: [], routing: [], load: undefined, numExperts: 0, layer: undefined, selectedExpert: undefined };

export interface TooltipLine {
  readonly text: string;
  readonly kind?: 'head' | 'dim';
}

/** Hover-card lines for a grid position (row 0 = expert headers, col 0 = token headers); none for the corner. */
export function tooltipLines(data: HeatmapData, pos: GridPos): TooltipLine[] {
  const t = pos.row - 1;
  const e = pos.col - 1;
  if (pos.row === 0) {
    if (pos.col === 0) return [];
    const n = data.load?.[e];
    return [
      { text: `Expert ${e}${originOf(data, e)}`, kind: 'head' },
      ...(n !== undefined ? [{ text: `${count(n)} token${n === 1 ? '' : 's'} routed here` }] : []),
      { text: data.selectedExpert === e ? 'Click to clear the selection' : 'Click to select this expert', kind: 'dim' },
    ];
  }
  const head: TooltipLine = { text: `#${t}  ${visibleToken(data.tokens[t]?.text ?? '')}`, kind: 'head' };
  if (data.known[t] !== true) return [head, { text: 'Routing not yet known', kind: 'dim' }];
  const pairs = data.routing[t] ?? [];
  const topK = `Top-${pairs.length}: ${pairs.map(([x, w]) => `E${x} ${fixed(w, 2)}`).join(' · ')}`;
  if (pos.col === 0) return [head, { text: topK }, { text: 'Click to reveal in the editor', kind: 'dim' }];
  const w = weightOf(pairs, e);
  return [head, { text: w > 0 ? `Expert ${e}${originOf(data, e)} · weight ${fixed(w, 3)}` : `Expert ${e}${originOf(data, e)} · not selected` }, { text: topK, kind: 'dim' }];
}

/** " (orig. 5)" for an expert of a pruned or merged model; "" otherwise. */
export function originOf(data: Pick<HeatmapData, 'origins'>, expert: number): string {
  const o = data.origins?.[expert];
  return o === undefined ? '' : ` (orig. ${o})`;
}
