// The profile panel's pure logic: expert order, bar widths, value text and accessible names. No DOM, so
// it is unit-tested in Node.
import type { ExpertStatistic } from '../../src/protocol/expertOps';
import type { ExplorerProfile } from '../../src/protocol/explorerProtocol';
import { count, fixed } from './labels';

/** How the experts of a layer are listed: by the statistic (largest first) or by id. */
export type ProfileOrder = 'value' | 'id';
export const PROFILE_ORDERS: readonly ProfileOrder[] = ['value', 'id'];

/** A value that is not a finite number sorts last and draws no bar. */
const finite = (v: number | undefined): number => (typeof v === 'number' && Number.isFinite(v) ? v : Number.NEGATIVE_INFINITY);

/** Expert ids in display order. By value: descending, ties by id, so the order is stable. */
export function orderExperts(values: readonly number[], order: ProfileOrder): number[] {
  const ids = values.map((_, e) => e);
  if (order === 'id') return ids;
  return ids.sort((a, b) => finite(values[b]) - finite(values[a]) || a - b);
}

/** Per expert: its 1-based rank by value (1 = largest), ties broken by id as in orderExperts. */
export function expertRanks(values: readonly number[]): number[] {
  const ranks = new Array<number>(values.length).fill(0);
  orderExperts(values, 'value').forEach((e, i) => (ranks[e] = i + 1));
  return ranks;
}

/** The value the bars saturate at: the layer's largest (0 when nothing is positive). */
export function barScale(values: readonly number[]): number {
  let max = 0;
  for (const v of values) if (Number.isFinite(v) && v > max) max = v;
  return max;
}

/** Bar length in percent of the track (0–100, one decimal). A positive value always shows at least a sliver. */
export function barPercent(value: number, scale: number): number {
  if (!(value > 0) || !(scale > 0) || !Number.isFinite(value)) return 0;
  return Math.max(0.5, Math.min(100, Math.round((value / scale) * 1000) / 10));
}

/** Three significant digits, without exponents for ordinary magnitudes. */
export function significant(value: number): string {
  if (!Number.isFinite(value)) return '–';
  if (value === 0) return '0';
  const a = Math.abs(value);
  if (a >= 1000) return count(value);
  if (a < 0.001) return value.toExponential(1);
  return String(Number(value.toPrecision(3)));
}

/** The value as the panel writes it: frequency as a share of tokens in percent, the rest in 3 significant digits. */
export function formatStatistic(value: number, statistic: ExpertStatistic): string {
  if (statistic === 'frequency') return Number.isFinite(value) ? `${fixed(value * 100, 1)}%` : '–';
  return significant(value);
}

export interface ProfileBar {
  readonly expert: number;
  readonly value: number;
  readonly text: string;
  /** Bar length, percent of the track. */
  readonly percent: number;
  /** 1 = largest value of the layer. */
  readonly rank: number;
}

/** One layer's bars in display order. */
export function profileBars(values: readonly number[], statistic: ExpertStatistic, order: ProfileOrder): ProfileBar[] {
  const scale = barScale(values);
  const ranks = expertRanks(values);
  return orderExperts(values, order).map((expert) => {
    const value = values[expert] ?? 0;
    return { expert, value, text: formatStatistic(value, statistic), percent: barPercent(value, scale), rank: ranks[expert]! };
  });
}

export interface LayerSummary {
  /** Expert with the largest value, and that value as text (undefined when the layer has no experts). */
  readonly top: number | undefined;
  readonly topText: string;
  /** Experts whose value is 0 (never selected, for frequency and gate). */
  readonly zeros: number;
}

export function layerSummary(values: readonly number[], statistic: ExpertStatistic): LayerSummary {
  const top = orderExperts(values, 'value')[0];
  return { top, topText: top === undefined ? '' : formatStatistic(values[top]!, statistic), zeros: values.filter((v) => v === 0).length };
}

/** aria-label of an expert's bar, e.g. "layer 3, expert 5: REAP 0.123, rank 1 of 8, selected". */
export function barLabel(layer: number, bar: ProfileBar, statisticName: string, numExperts: number, selected: boolean): string {
  return `layer ${layer}, expert ${bar.expert}: ${statisticName} ${bar.text}, rank ${bar.rank} of ${numExperts}${selected ? ', selected' : ''}`;
}

/** Whether two profile sections show the same numbers (the host re-sends the section with every state). */
export function sameProfile(a: ExplorerProfile | undefined, b: ExplorerProfile | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  const head = (p: ExplorerProfile): string => JSON.stringify([p.file, p.path, p.model, p.tokens, p.documents, p.truncated, p.statistic, p.statisticLabel, p.statistics]);
  if (a.layers.length !== b.layers.length || head(a) !== head(b)) return false;
  return a.layers.every((l, i) => {
    const m = b.layers[i]!;
    return l.layer === m.layer && l.values.length === m.values.length && l.values.every((v, e) => Object.is(v, m.values[e]));
  });
}

/** Next bar for a key in a layer's list (display positions 0..n-1), or undefined when the key does not move. */
export function moveInList(index: number, key: string, length: number, page = 10): number | undefined {
  if (length === 0) return undefined;
  const last = length - 1;
  const clamp = (i: number): number => Math.max(0, Math.min(last, i));
  switch (key) {
    case 'ArrowUp': return clamp(index - 1);
    case 'ArrowDown': return clamp(index + 1);
    case 'Home': return 0;
    case 'End': return last;
    case 'PageUp': return clamp(index - page);
    case 'PageDown': return clamp(index + page);
    default: return undefined;
  }
}

/** The expert's colour in the editor palette (moeWorkbench.expertN, N = id mod 16), as a CSS value. */
export function expertColour(expert: number): string {
  return `var(--vscode-moeWorkbench-expert${((expert % 16) + 16) % 16})`;
}
