// The training panel's stylesheet (adopted by the document: the app renders into the light DOM so uPlot's
// own stylesheet reaches the chart; adopted sheets need no nonce). Only --vscode-* colours, so every theme
// works; uPlot's legend markers take the theme's chart colours here (its inline colours are set once).
import { sheet } from '../explorer/dom';

export const trainingStyles = sheet(`
  .training { max-width: 1100px; padding: 12px 20px 32px; box-sizing: border-box; line-height: 1.4; }
  .training h1 { font-size: 1.4em; font-weight: 600; margin: 4px 0 12px; }
  .training h2 { font-size: 1.1em; font-weight: 600; margin: 20px 0 8px; }
  .training [hidden] { display: none !important; }
  .help { color: var(--vscode-descriptionForeground); margin: 4px 0; }
  .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
  .lead { font-size: 1.1em; }
  .stage { color: var(--vscode-descriptionForeground); }
  .actions { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; margin: 12px 0; }
  .field-error { color: var(--vscode-errorForeground); margin: 4px 0; }
  .message { padding: 8px 12px; border-left: 3px solid var(--vscode-inputValidation-warningBorder, var(--vscode-charts-yellow)); background: var(--vscode-textBlockQuote-background); white-space: pre-wrap; }
  .message.failed { border-left-color: var(--vscode-inputValidation-errorBorder, var(--vscode-errorForeground)); }

  dl.data-summary, dl.figures, dl.outcome-summary { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
  dl dt { color: var(--vscode-descriptionForeground); }
  dl dd { margin: 0; overflow-wrap: anywhere; font-variant-numeric: tabular-nums; }

  .preview-text {
    margin-top: 6px; padding: 8px 10px; max-height: 12em; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere;
    font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size);
    background: var(--vscode-textCodeBlock-background); border: 1px solid var(--vscode-widget-border, transparent); border-radius: 2px;
  }
  .preview-text:focus-visible { outline: 1px solid var(--vscode-focusBorder); }
  .masked s, .masked-sample { opacity: 0.55; text-decoration: line-through; }
  .mask-label {
    font-family: var(--vscode-font-family); font-size: 0.8em; margin-right: 4px; padding: 0 4px; border-radius: 2px;
    color: var(--vscode-badge-foreground); background: var(--vscode-badge-background); vertical-align: 1px; white-space: nowrap;
  }

  .selection-bar { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 16px; }
  .params { margin: 0; font-variant-numeric: tabular-nums; }
  .layer-row { margin: 8px 0 12px; }
  .layer-head { display: flex; flex-wrap: wrap; gap: 4px 12px; align-items: baseline; margin-bottom: 4px; }
  .layer-name { font-weight: 600; }
  .count, .per-expert { color: var(--vscode-descriptionForeground); font-variant-numeric: tabular-nums; }
  .chips { display: flex; flex-wrap: wrap; gap: 4px; }
  button.expert {
    position: relative; overflow: hidden; min-width: 38px; padding: 2px 4px 4px; display: inline-flex; flex-direction: column; align-items: center;
    font: inherit; font-size: 11px; font-variant-numeric: tabular-nums; cursor: pointer; border-radius: 3px;
    color: var(--vscode-foreground); background: transparent; border: 1px solid var(--vscode-widget-border, var(--vscode-contrastBorder, var(--vscode-descriptionForeground)));
  }
  button.expert .id { font-weight: 600; position: relative; }
  button.expert .score { position: relative; color: var(--vscode-descriptionForeground); font-size: 10px; }
  button.expert .bar { position: absolute; left: 0; bottom: 0; height: 3px; background: var(--vscode-charts-blue); opacity: 0.8; }
  button.expert:hover { background: var(--vscode-list-hoverBackground); }
  button.expert:focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: 1px; }
  button.expert[aria-pressed="true"] { color: var(--vscode-button-foreground); background: var(--vscode-button-background); border-color: var(--vscode-button-background); }
  button.expert[aria-pressed="true"] .score { color: var(--vscode-button-foreground); }
  button.expert[aria-pressed="true"] .bar { background: var(--vscode-button-foreground); }
  button.expert[aria-pressed="true"]:hover { background: var(--vscode-button-hoverBackground); }
  button.expert:disabled { cursor: default; opacity: 0.6; }

  .settings .fields { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 8px 16px; }
  .field { display: flex; flex-direction: column; gap: 2px; margin-bottom: 8px; }
  .field .help { font-size: 0.9em; margin: 0; }
  .field vscode-single-select { width: 100%; }
  input.text {
    box-sizing: border-box; width: 100%; font: inherit; padding: 3px 6px; border-radius: 2px;
    color: var(--vscode-input-foreground); background: var(--vscode-input-background); border: 1px solid var(--vscode-input-border, var(--vscode-widget-border, transparent));
  }
  input.text::placeholder { color: var(--vscode-input-placeholderForeground); }
  input.text:focus { outline: 1px solid var(--vscode-focusBorder); outline-offset: -1px; }
  input.text[aria-invalid="true"] { border-color: var(--vscode-inputValidation-errorBorder, var(--vscode-errorForeground)); }
  input.text:disabled { opacity: 0.6; }
  .field-out-dir input.text { max-width: 720px; }

  .step-line { display: flex; align-items: center; gap: 12px; font-variant-numeric: tabular-nums; }
  .step { font-weight: 600; white-space: nowrap; }
  .progress { flex: 1 1 auto; max-width: 520px; height: 6px; border-radius: 3px; background: var(--vscode-progressBar-background); position: relative; overflow: hidden; }
  .progress::before { content: ''; position: absolute; inset: 0; background: var(--vscode-editorWidget-background, var(--vscode-editor-background)); opacity: 0.7; }
  .progress .fill { position: relative; height: 100%; width: 0; background: var(--vscode-progressBar-background); }
  .stopping { color: var(--vscode-charts-yellow, var(--vscode-descriptionForeground)); }
  .figures { margin-top: 8px !important; }

  figure.loss-chart { margin: 16px 0 0; }
  figure.loss-chart figcaption { font-weight: 600; margin-bottom: 4px; }
  .plot { width: 100%; min-height: 180px; }
  .chart-summary { color: var(--vscode-descriptionForeground); font-variant-numeric: tabular-nums; }
  .uplot { font-family: var(--vscode-font-family); color: var(--vscode-foreground); width: 100%; }
  .u-legend { font-size: 12px; color: var(--vscode-foreground); }
  .u-legend .u-series:nth-child(2) .u-marker { border-color: var(--vscode-charts-blue) !important; background: var(--vscode-charts-blue) !important; }
  .u-legend .u-series:nth-child(3) .u-marker { border-color: var(--vscode-charts-orange) !important; background: var(--vscode-charts-orange) !important; }
  .u-legend .u-series:nth-child(4) .u-marker { border-color: var(--vscode-charts-purple) !important; background: transparent !important; }
  .u-select { background: color-mix(in srgb, var(--vscode-foreground) 12%, transparent); }
  .u-hz .u-cursor-x, .u-hz .u-cursor-y { border-color: var(--vscode-descriptionForeground); }

  table.drift { border-collapse: collapse; font-variant-numeric: tabular-nums; min-width: 320px; }
  table.drift th, table.drift td { padding: 2px 8px; text-align: left; font-weight: normal; }
  table.drift thead th { color: var(--vscode-descriptionForeground); font-size: 0.9em; }
  table.drift td.num { text-align: right; }
  table.drift td.bar-cell { width: 200px; }
  .share-bar { display: block; height: 8px; width: 100%; background: var(--vscode-editorWidget-background, transparent); border: 1px solid var(--vscode-widget-border, transparent); }
  .share-bar .fill { display: block; height: 100%; }
  .share-bar.kept .fill { background: var(--vscode-charts-green, var(--vscode-charts-blue)); }
  .share-bar.changed .fill { background: var(--vscode-charts-orange); }
  ul.examples { margin: 4px 0; padding-left: 20px; }
  ul.examples code { font-family: var(--vscode-editor-font-family); background: var(--vscode-textCodeBlock-background); padding: 0 3px; }
  .notes-box { margin-top: 24px; color: var(--vscode-descriptionForeground); }
  .notes { margin: 4px 0; padding-left: 20px; font-family: var(--vscode-editor-font-family); font-size: 0.9em; }
`);
