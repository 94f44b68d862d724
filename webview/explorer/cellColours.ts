// Colours of the load matrix's number cells, computed rather than left to CSS so the text can be chosen
// per cell: the theme foreground where it is readable, else a colour moved towards black or white until it
// meets WCAG AA on that cell (a full-strength charts.blue cell under the default foreground was ~2:1 in
// Dark Modern and ~3:1 in Light Modern). Pure given a reader of the theme's CSS variables.
import { mixSrgb, over, parseCssColour, readableText, rounded, TRANSPARENT, type Rgba } from './colourMath';

/** --moe-empty is the foreground at this percentage over transparent (explorer.main.ts builds its CSS from it). */
export const EMPTY_PERCENT = 7;

export interface HeatTheme {
  /** What the cells are painted on (the side bar), opaque. */
  readonly background: Rgba;
  readonly foreground: Rgba;
  /** The heat hue: charts.blue. */
  readonly heat: Rgba;
  /** Text of a zero count: charts.red (errorForeground). */
  readonly alert: Rgba;
  /** Backgrounds of table rows besides `background`: the selected row and the hovered one (opaque). */
  readonly rowBackgrounds: readonly Rgba[];
}

export interface CellColours {
  /** Opaque. */
  readonly background: Rgba;
  readonly text: Rgba;
}

/** The theme from its `--vscode-*` variables, or undefined when the colours the cells need are missing. */
export function heatTheme(cssVariable: (name: string) => string, darkFallback: boolean): HeatTheme | undefined {
  const colour = (...names: string[]): Rgba | undefined => {
    for (const n of names) {
      const c = parseCssColour(cssVariable(n));
      if (c) return c;
    }
    return undefined;
  };
  const foreground = colour('--vscode-foreground');
  const heat = colour('--vscode-charts-blue');
  if (!foreground || !heat) return undefined;
  // A translucent side bar shows the editor background through, and that, at worst, the theme kind's base.
  const base: Rgba = darkFallback ? { r: 30, g: 30, b: 30, a: 1 } : { r: 255, g: 255, b: 255, a: 1 };
  const layers = [colour('--vscode-sideBar-background'), colour('--vscode-editor-background')].filter((c): c is Rgba => c !== undefined);
  const background = rounded(layers.reduceRight((below, c) => over(c, below), base));
  const rows = [colour('--vscode-list-inactiveSelectionBackground'), colour('--vscode-list-hoverBackground')].filter((c): c is Rgba => c !== undefined);
  return { background, foreground, heat, alert: colour('--vscode-charts-red', '--vscode-errorForeground') ?? foreground, rowBackgrounds: rows.map((c) => rounded(over(c, background))) };
}

/** A cell shaded `percent` (0–100) of the heat colour; `zero` cells write their 0 in the alert colour. */
export function heatCellColours(theme: HeatTheme, percent: number, zero: boolean): CellColours {
  const empty = mixSrgb(theme.foreground, TRANSPARENT, EMPTY_PERCENT);
  const background = rounded(over(mixSrgb(theme.heat, empty, percent), theme.background));
  return { background, text: readableText(background, [zero ? theme.alert : theme.foreground]) };
}

/** Alert text in a table row (a layer's unused experts): charts.red, lightened or darkened to meet AA on every row state. */
export function alertTextColour(theme: HeatTheme): Rgba {
  return readableText([theme.background, ...theme.rowBackgrounds], [theme.alert]);
}
