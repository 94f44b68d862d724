// Number formatting and the accessible names of heatmap cells.
import { spokenToken } from './tokenText';

/** A fixed-precision number, or an en dash for values that are not finite. */
export function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '–';
}

/** A count with thousands separators (locale-independent, so tests are stable). */
export function count(value: number): string {
  return String(Math.round(value)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** aria-label of one heatmap cell, e.g. "token 12 'hello', expert 3, weight 0.72". */
export function cellLabel(token: number, text: string, expert: number, weight: number, known: boolean): string {
  const head = `token ${token} ${spokenToken(text)}, expert ${expert}`;
  if (!known) return `${head}, routing not yet known`;
  return weight > 0 ? `${head}, weight ${fixed(weight, 2)}` : `${head}, not selected`;
}

/** aria-label of a row header. */
export function rowLabel(token: number, text: string, known: boolean): string {
  return `token ${token} ${spokenToken(text)}${known ? '' : ', routing not yet known'}`;
}

/** Compact list of expert ids: "3, 17, 40 +5 more" beyond `max`. */
export function expertList(experts: readonly number[], max = 6): string {
  if (experts.length <= max) return experts.join(', ');
  return `${experts.slice(0, max).join(', ')} +${experts.length - max} more`;
}
