// Styles of <moe-profile-panel>. Per-element values (bar length, expert colour, column widths) come from
// custom properties set through the CSSOM, which the webview's CSP allows (no inline style attributes).
import { sheet } from '../explorer/dom';

export const profileStyles = sheet(`
  :host { display: flex; flex-direction: column; height: 100%; min-height: 0; font-size: 12px; }
  .controls { flex: none; display: flex; flex-direction: column; gap: 6px; padding: 6px 8px 6px; box-shadow: 0 1px 0 var(--moe-border); }
  .summary { display: flex; gap: 6px; min-width: 0; white-space: nowrap; color: var(--vscode-descriptionForeground); }
  .summary .file { overflow: hidden; text-overflow: ellipsis; min-width: 0; color: var(--vscode-foreground); }
  .summary .warn { color: var(--vscode-charts-yellow, var(--vscode-descriptionForeground)); }
  .pickers { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 12px; }
  .picker { display: flex; align-items: center; gap: 6px; min-width: 0; }
  .picker label { color: var(--vscode-descriptionForeground); }
  vscode-single-select { flex: 1 1 auto; min-width: 0; width: auto; max-width: 180px; }
  #order { max-width: 110px; }
  .toggle-all {
    all: unset; margin-left: auto; cursor: pointer; white-space: nowrap;
    color: var(--vscode-textLink-foreground);
  }
  .toggle-all:hover { text-decoration: underline; }
  .toggle-all:focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: 1px; }
  .definition { margin: 0; color: var(--vscode-descriptionForeground); font-size: 11px; line-height: 1.35; }

  .scroller { flex: 1 1 0; min-height: 0; overflow: auto; overscroll-behavior: contain; }
  .empty { padding: 12px 8px; color: var(--vscode-descriptionForeground); }
  .lh {
    all: unset; box-sizing: border-box; position: sticky; top: 0; z-index: 1; display: flex; align-items: center; gap: 6px;
    width: 100%; height: 22px; padding: 0 8px 0 4px; cursor: pointer; white-space: nowrap;
    background: var(--moe-bg); box-shadow: 0 1px 0 var(--moe-border);
  }
  .lh:hover { background-image: linear-gradient(var(--vscode-list-hoverBackground), var(--vscode-list-hoverBackground)); }
  .lh:focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: -1px; }
  .layer.current .lh {
    background-image: linear-gradient(var(--vscode-list-inactiveSelectionBackground), var(--vscode-list-inactiveSelectionBackground));
    box-shadow: inset 2px 0 0 var(--vscode-focusBorder), 0 1px 0 var(--moe-border);
  }
  .layer.current .lh .name { font-weight: 600; }
  .chev { flex: none; width: 12px; text-align: center; color: var(--vscode-descriptionForeground); }
  .lh .sum { margin-left: auto; min-width: 0; overflow: hidden; text-overflow: ellipsis; color: var(--vscode-descriptionForeground); font-size: 11px; font-variant-numeric: tabular-nums; }
  .lh .zeros { color: var(--vscode-charts-red, var(--vscode-errorForeground)); }
  .rows { padding: 2px 0 6px; }

  .bar {
    all: unset; box-sizing: border-box; display: grid; grid-template-columns: var(--id-w, 4ch) minmax(24px, 1fr) var(--val-w, 6ch);
    align-items: center; gap: 6px; width: 100%; height: 18px; padding: 0 8px 0 18px; cursor: pointer;
    font-size: 11px; font-variant-numeric: tabular-nums;
  }
  .bar:hover { background: var(--vscode-list-hoverBackground); }
  .bar:focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: -1px; }
  .bar .id { text-align: right; color: var(--vscode-descriptionForeground); }
  .bar .val { text-align: right; white-space: nowrap; }
  .track { height: 10px; border-radius: 2px; overflow: hidden; background: var(--moe-empty); }
  .fill { display: block; height: 100%; width: var(--w, 0%); background: var(--c, var(--vscode-charts-blue)); box-shadow: inset 0 0 0 1px var(--c, transparent); }
  /* The palette colours are editor tints (translucent); bars use the same hue, made opaque where CSS can. */
  @supports (color: rgb(from red r g b / 1)) {
    .fill { background: rgb(from var(--c, var(--vscode-charts-blue)) r g b / 0.85); }
  }
  .bar.sel { background: var(--moe-selected); box-shadow: inset 2px 0 0 var(--vscode-charts-orange); }
  .bar.sel .id, .bar.sel .val { color: var(--vscode-foreground); font-weight: 600; }
  [hidden] { display: none !important; }
`);
