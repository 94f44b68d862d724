// The chart's colours from the VS Code theme, read when the chart draws (the theme can change under it):
// train loss in charts.blue, held-out loss in charts.orange, learning rate in charts.purple, axes in the
// foreground colours, grid lines a faint mix of foreground into the background (canvas needs a resolved
// colour, not color-mix()). Pure: `read` returns a CSS variable's value ('' when unset).
import { cssColour, mixSrgb, parseCssColour } from '../explorer/colourMath';

export interface ChartPalette {
  readonly train: string;
  readonly evalLoss: string;
  readonly lr: string;
  readonly axis: string;
  readonly grid: string;
  readonly font: string;
}

/** What a theme without these variables (a browser harness) gets. */
const FALLBACK = { train: '#3794ff', evalLoss: '#d18616', lr: '#b180d7', foreground: '#cccccc', description: '#9d9d9d', background: '#1f1f1f', font: 'system-ui, sans-serif' };

/** Grid lines: this much foreground mixed into the background. */
export const GRID_PERCENT = 15;

function first(read: (name: string) => string, names: readonly string[], fallback: string): string {
  for (const n of names) {
    const v = read(n).trim();
    if (v !== '') return v;
  }
  return fallback;
}

export function chartPalette(read: (name: string) => string): ChartPalette {
  const foreground = first(read, ['--vscode-foreground'], FALLBACK.foreground);
  const background = first(read, ['--vscode-editor-background', '--vscode-panel-background'], FALLBACK.background);
  const fg = parseCssColour(foreground);
  const bg = parseCssColour(background);
  const grid = fg && bg ? cssColour(mixSrgb(fg, { ...bg, a: 1 }, GRID_PERCENT)) : 'rgba(128, 128, 128, 0.25)';
  return {
    train: first(read, ['--vscode-charts-blue'], FALLBACK.train),
    evalLoss: first(read, ['--vscode-charts-orange'], FALLBACK.evalLoss),
    lr: first(read, ['--vscode-charts-purple'], FALLBACK.lr),
    axis: first(read, ['--vscode-descriptionForeground', '--vscode-foreground'], FALLBACK.description),
    grid,
    font: first(read, ['--vscode-font-family'], FALLBACK.font),
  };
}
