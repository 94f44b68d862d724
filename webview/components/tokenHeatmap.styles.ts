// Styles of <moe-token-heatmap>. Sizes come from custom properties the component sets on its host.
import { sheet } from '../explorer/dom';

export const heatmapStyles = sheet(`
  :host { display: flex; flex-direction: column; height: 100%; min-height: 0; position: relative; font-size: 11px; }
  .scroller { flex: 1 1 0; min-height: 0; overflow: auto; position: relative; overscroll-behavior: contain; }
  .legend { flex: none; display: flex; align-items: center; gap: 6px; height: 26px; padding: 0 8px; color: var(--vscode-descriptionForeground); white-space: nowrap; }
  .ramp { width: 56px; height: 8px; border-radius: 2px; background: linear-gradient(to right, var(--moe-empty), var(--vscode-charts-blue)); }
  .legend .num { font-variant-numeric: tabular-nums; }
  .legend .clear {
    all: unset; margin-left: auto; display: inline-flex; align-items: center; gap: 4px; padding: 0 6px; height: 18px; border-radius: 9px; cursor: pointer;
    color: var(--vscode-foreground); box-shadow: inset 0 0 0 1px var(--vscode-charts-orange); background: var(--moe-selected);
  }
  .legend .clear:hover { background: color-mix(in srgb, var(--vscode-charts-orange) 30%, transparent); }
  .legend .clear:focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: 1px; }
  .legend .x { font-size: 13px; line-height: 1; opacity: 0.8; }
  .canvas { position: relative; width: var(--grid-w); height: var(--grid-h); }
  .row { display: flex; width: var(--grid-w); height: var(--row-h); }
  .body > .row { position: absolute; left: 0; }

  .head {
    position: sticky; top: 0; z-index: 3; height: var(--head-h);
    background: var(--moe-bg); box-shadow: 0 1px 0 var(--moe-border);
  }
  .ch {
    flex: 0 0 var(--cell-w); box-sizing: border-box; display: flex; align-items: flex-end; justify-content: center;
    padding-bottom: 3px; color: var(--vscode-descriptionForeground); font-size: 10px;
    font-variant-numeric: tabular-nums; cursor: pointer; user-select: none; border-radius: 2px 2px 0 0;
  }
  .head.vertical .ch { writing-mode: vertical-rl; transform: rotate(180deg); justify-content: flex-start; align-items: center; padding: 3px 0 0; border-radius: 0 0 2px 2px; }
  .ch:hover { color: var(--vscode-foreground); background: var(--vscode-list-hoverBackground); }
  .ch.sel { color: var(--vscode-foreground); font-weight: 600; box-shadow: inset 0 -2px 0 var(--vscode-charts-orange); }
  .head.vertical .ch.sel { box-shadow: inset 0 2px 0 var(--vscode-charts-orange); }

  .rh {
    position: sticky; left: 0; z-index: 2; flex: 0 0 var(--rh-w); box-sizing: border-box;
    display: flex; align-items: center; gap: 6px; padding: 0 6px 0 2px; overflow: hidden; cursor: pointer;
    background: var(--moe-bg); box-shadow: 1px 0 0 var(--moe-border);
  }
  .head .rh { cursor: default; align-items: flex-end; padding-bottom: 3px; color: var(--vscode-descriptionForeground); font-size: 10px; text-transform: uppercase; letter-spacing: 0.04em; }
  .body .rh:hover { background-image: linear-gradient(var(--vscode-list-hoverBackground), var(--vscode-list-hoverBackground)); }
  .body .rh:hover .tx { text-decoration: underline; text-decoration-color: var(--vscode-textLink-foreground); }
  .body .row.revealed .rh {
    background-image: linear-gradient(var(--vscode-editor-findMatchHighlightBackground, var(--vscode-list-inactiveSelectionBackground)), var(--vscode-editor-findMatchHighlightBackground, var(--vscode-list-inactiveSelectionBackground)));
    box-shadow: inset 2px 0 0 var(--vscode-focusBorder), 1px 0 0 var(--moe-border);
  }
  .ix { flex: 0 0 auto; min-width: 3.2ch; text-align: right; color: var(--vscode-descriptionForeground); font-size: 10px; font-variant-numeric: tabular-nums; }
  /* On the find-match orange the description colour falls below AA in Dark Modern; the foreground does not. */
  .body .row.revealed .ix { color: var(--vscode-foreground); }
  .tx { flex: 1 1 auto; min-width: 0; font-family: var(--vscode-editor-font-family, monospace); font-size: 12px; white-space: pre; overflow: hidden; text-overflow: ellipsis; }

  .c {
    flex: 0 0 var(--cell-w); box-sizing: border-box; padding: 0 1px 1px 0; background-clip: content-box;
    background-color: color-mix(in srgb, var(--vscode-charts-blue) var(--w, 0%), var(--moe-empty));
  }
  .c.sel { box-shadow: inset 1px 0 0 var(--vscode-charts-orange), inset -2px 0 0 var(--vscode-charts-orange); }
  .c.sel:not(.on) { background-color: var(--moe-selected); }
  .row.unknown .c { background-color: color-mix(in srgb, var(--moe-empty) 50%, transparent); }
  /* Not yet analysed: italic in the description colour, not faded (opacity 0.45 was ~3:1, below WCAG AA). */
  .row.unknown .tx, .row.unknown .ix { color: var(--vscode-descriptionForeground); font-style: italic; }

  .c:focus, .rh:focus, .ch:focus { outline: 1px solid var(--vscode-focusBorder); outline-offset: -1px; }
  .c:focus { outline-offset: -2px; }
  .empty { padding: 12px; color: var(--vscode-descriptionForeground); }
  [hidden] { display: none !important; }
`);
