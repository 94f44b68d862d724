// Cell shading. Colours come from the theme (`--vscode-*`); this module only decides how strong.

/** Chosen experts never fade below this, so a small but real gate weight stays distinguishable from 0. */
export const MIN_CHOSEN_PERCENT = 12;

/** Percentage (0–100, integer) of the heat colour for a value. `scale` is the value that saturates; 0 stays 0. */
export function shadePercent(value: number, scale: number): number {
  if (!(value > 0) || !(scale > 0)) return 0;
  return Math.max(MIN_CHOSEN_PERCENT, Math.min(100, Math.round((value / scale) * 100)));
}

/**
 * The saturating weight for one layer's routing: its largest gate weight (1 when there is none). Relative,
 * because the range differs a lot between models: top-8 weights are ~0.1 each, top-2 ~0.5, and scaled
 * routers (DeepSeek's routed_scaling_factor) exceed 1. The legend shows the range.
 */
export function weightScale(routing: readonly (readonly (readonly [number, number])[])[]): number {
  let max = 0;
  for (const pairs of routing) for (const [, w] of pairs) if (w > max) max = w;
  return max > 0 ? max : 1;
}

/** Gate weight of `expert` in one token's [expert, weight] pairs; 0 when not chosen. */
export function weightOf(pairs: readonly (readonly [number, number])[] | undefined, expert: number): number {
  if (!pairs) return 0;
  for (const [e, w] of pairs) if (e === expert) return w;
  return 0;
}
