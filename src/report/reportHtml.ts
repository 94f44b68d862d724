// The report of an expert operation (prune / merge) as one self-contained HTML document: saved as
// report.html inside the written checkpoint folder (shareable: no network, no external files) and shown in a
// VS Code webview. No scripts at all: the CSP allows only the one nonce'd <style> block (plus the webview's
// cspSource when given), so bar widths are classes defined in that block, not style attributes. Colours
// come from VS Code's theme variables, with light and dark (prefers-color-scheme) fallbacks for the
// standalone file. Every piece of text from the report (token texts, paths, descriptions) is escaped, and
// every number goes through formatNumbers (which emits only digits and units whatever it is given), so a
// hostile report.json cannot put markup in the page. The figures are shared with the CLI's reportText.
import { makeNonce } from '../webviews/nonce';
import type { AffectedToken, EvalReport, ExpertPlan, LayerPlan, OperationReport, PlanImpact } from '../protocol/expertOps';
import { formatBytes, formatFixed, formatId, formatIds, formatInteger, formatKl, formatPercent, formatScore, formatShare } from './formatNumbers';
import {
  type ExpertFate,
  evaluationBasis,
  evaluationFigures,
  expertFates,
  formatDate,
  formatParameter,
  impactMeasure,
  layerSummary,
  statisticLabel,
  tokenWhere,
  visibleToken,
} from './reportText';

export interface ReportHtmlOptions {
  /** The style block's nonce; a fresh random one when absent. */
  readonly nonce?: string;
  /** The webview's cspSource (vscode.Webview.cspSource), added to style-src inside VS Code. */
  readonly cspSource?: string;
}

/** Rows of the changed-predictions table; the rest are counted, not listed (they stay marked inline). */
const MAX_CHANGED_ROWS = 500;

/** Escapes text for element content and (double- or single-quoted) attribute values. */
export function escapeHtml(s: string): string {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const esc = escapeHtml;

/**
 * The Content-Security-Policy of the report: nothing but the nonce'd style block (and the webview's styles).
 * form-action and base-uri are not covered by default-src, so they are closed explicitly.
 */
export function reportCsp(nonce: string, cspSource?: string): string {
  return `default-src 'none'; style-src ${cspSource ? `${cspSource} ` : ''}'nonce-${nonce}'; form-action 'none'; base-uri 'none'`;
}

export function reportHtml(report: OperationReport, opts: ReportHtmlOptions = {}): string {
  const nonce = opts.nonce ?? makeNonce();
  // Bar widths (integer percent) used anywhere in the body; each becomes one `.wN` rule in the style block.
  const widths = new Set<number>();
  const bar = (fraction: number): string => {
    const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
    const w = f > 0 ? Math.max(1, Math.round(100 * f)) : 0;
    widths.add(w);
    return `<span class="track" aria-hidden="true"><span class="bar w${w}"></span></span>`;
  };

  const body = [
    headerSection(report),
    evaluationSection(report),
    expertsSection(report, bar),
    report.impact ? impactSection(report.impact, report.record.plan.operation, bar) : '',
    report.evaluation?.document ? documentSection(report.evaluation.document, bar) : '',
    notesSection(report),
  ].join('\n');

  const widthRules = [...widths]
    .sort((a, b) => a - b)
    .map((w) => `.w${w} { width: ${w}%; }`)
    .join('\n');
  return reportPage(report.title, body, widthRules, nonce, opts.cspSource);
}

/** A report's page: the CSP meta, the one nonce'd style block (the shared style plus `extraStyle`), `body` in <main>. */
export function reportPage(title: string, body: string, extraStyle: string, nonce: string, cspSource?: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${esc(reportCsp(nonce, cspSource))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${esc(title)}</title>
<style nonce="${esc(nonce)}">
${REPORT_STYLE}${extraStyle}
</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

// ---- sections ----

function headerSection(r: OperationReport): string {
  const { record: rec, written } = r;
  const rows: [string, string][] = [
    ['Operation', esc(rec.plan.operation)],
    ['Source', `<code>${esc(rec.source.dir)}</code> <span class="muted">(sha256 ${esc(rec.source.sha256.slice(0, 12))})</span>`],
    ['Output', `<code>${esc(written.dir)}</code>`],
    ['Written', `${esc(formatInteger(written.files.length))} file${written.files.length === 1 ? '' : 's'}, ${esc(formatBytes(written.bytes))}: ${written.files.map((f) => `<code>${esc(f)}</code>`).join(', ')}`],
  ];
  if (rec.profile) {
    const copyOf = typeof rec.profile.originalFile === 'string' && rec.profile.originalFile !== rec.profile.file ? `, a copy of <code>${esc(rec.profile.originalFile)}</code>` : '';
    rows.push(['Profile', `<code>${esc(rec.profile.file)}</code> (${esc(formatInteger(rec.profile.tokens))} calibration tokens${copyOf})`]);
  }
  const skipped = Array.isArray(rec.skippedFiles) ? rec.skippedFiles : [];
  if (skipped.length > 0) rows.push(['Not copied', skipped.map((f) => `<code>${esc(f.name)}</code> <span class="muted">(${esc(f.reason)})</span>`).join(', ')]);
  rows.push(['Tool', esc(rec.tool)]);
  return `<header>
<h1>${esc(r.title)}</h1>
<p class="muted"><time datetime="${esc(r.createdAt)}">${esc(formatDate(r.createdAt))}</time></p>
<p class="description">${esc(rec.plan.description)}</p>
${definitionList(rows)}
</header>`;
}

function evaluationSection(r: OperationReport): string {
  const ev: EvalReport | undefined = r.evaluation;
  if (!ev) {
    const notes = r.notes.length > 0 ? `\n${noteList(r.notes)}` : '';
    return `<section id="evaluation">
<h2>Before and after</h2>
<p class="absent">Not evaluated: no before/after comparison was run.</p>${notes}
</section>`;
  }
  const rows = evaluationFigures(ev)
    .map((f) => `<tr><th scope="row">${esc(f.metric)}</th><td class="num">${esc(f.before)}</td><td class="num">${esc(f.after)}</td><td class="num">${esc(f.change)}</td></tr>`)
    .join('\n');
  return `<section id="evaluation">
<h2>Before and after</h2>
<table class="figures">
<thead><tr><th scope="col">Metric</th><th scope="col">Before<div class="muted">${esc(ev.baseline.name)}</div></th><th scope="col">After<div class="muted">${esc(ev.candidate.name)}</div></th><th scope="col">Change</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
<p class="muted">Evaluated on ${esc(evaluationBasis(ev))}. Top-1 agreement: share of positions where both models predict the same next token; mean KL(before ‖ after) of the next-token distributions.</p>
</section>`;
}

function expertsSection(r: OperationReport, bar: (f: number) => string): string {
  const plan = r.record.plan;
  const layers = plan.layers.map((l) => layerBars(l, bar)).join('\n');
  // The legend names only the kinds of bar this plan has.
  const kinds = new Set(plan.layers.flatMap((l) => expertFates(l).map((f) => f.kind)));
  const legend = [
    '<span class="key kept"></span> kept',
    kinds.has('merged') ? '<span class="key merged"></span> merged into another expert' : '',
    kinds.has('removed') ? '<span class="key removed"></span> removed' : '',
  ]
    .filter(Boolean)
    .join(' ');
  return `<section id="experts">
<h2>Experts per MoE layer</h2>
<p>Bars: <strong>${esc(statisticLabel(r.statistic))}</strong>, scaled to the highest expert of each layer.
<span class="legend">${legend}</span></p>
${layers}
</section>`;
}

function layerBars(l: LayerPlan, bar: (f: number) => string): string {
  const scores = l.scores.map((s) => (Number.isFinite(s) ? s : 0));
  const max = Math.max(0, ...scores);
  const rows = expertFates(l)
    .map((f) => {
      const score = l.scores[f.expert] ?? 0;
      const id = f.kind === 'removed' ? `<s>#${esc(formatId(f.expert))}</s>` : `#${esc(formatId(f.expert))}`;
      return `<tr class="${f.kind}"><th scope="row" class="eid"><span class="sr">expert </span>${id}</th><td class="barcell">${bar(max > 0 ? (scores[f.expert] ?? 0) / max : 0)}</td><td class="num">${esc(formatScore(score))}</td><td class="fate">${fateHtml(f)}</td></tr>`;
    })
    .join('\n');
  return `<h3>Layer ${esc(formatId(l.layer))}</h3>
<p class="muted">${esc(layerSummary(l).replace(/ -> /g, ' → '))}; top-${esc(formatId(l.topK))}</p>
<table class="bars">
<thead><tr><th scope="col">Expert</th><th scope="col">Score</th><th scope="col"><span class="sr">value</span></th><th scope="col">Result</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`;
}

function fateHtml(f: ExpertFate): string {
  switch (f.kind) {
    case 'removed':
      return '<strong class="removed-word">removed</strong>';
    case 'merged':
      return `merged into #${esc(formatId(f.into))} <span class="muted">(new #${esc(formatId(f.newId))}, weight ${esc(formatPercent(f.weight))})</span>`;
    case 'kept':
      return f.absorbed.length > 0 ? `kept as new #${esc(formatId(f.newId))}, merged with ${f.absorbed.map((e) => `#${esc(formatId(e))}`).join(', ')}` : `kept as new #${esc(formatId(f.newId))}`;
    default: {
      const unknown: never = f;
      return unknown;
    }
  }
}

function impactSection(impact: PlanImpact, operation: ExpertPlan['operation'], bar: (f: number) => string): string {
  const n = impact.tokens;
  const measure = impactMeasure(operation);
  const perLayer = impact.perLayer
    .map(
      (p) =>
        `<tr><th scope="row">${esc(formatId(p.layer))}</th><td class="num">${esc(formatInteger(p.affected))}</td><td class="num">${esc(formatShare(p.affected, n))}</td><td class="barcell">${bar(n > 0 ? p.affected / n : 0)}</td><td class="num">${esc(formatFixed(p.gateMassLost, 4))}</td></tr>`,
    )
    .join('\n');
  const worst =
    impact.worst.length === 0
      ? ''
      : `<h3>Most affected tokens</h3>
<p class="muted">Weight: the ${esc(measure)}, summed over the layers listed. Each token is shown with the text around it.</p>
<div class="scroll"><table class="tokens">
<thead><tr><th scope="col">#</th><th scope="col">Where</th><th scope="col">Token in context</th><th scope="col">Weight</th><th scope="col">Layers</th></tr></thead>
<tbody>
${impact.worst.map((w) => `<tr><td class="num">${esc(formatId(w.index))}</td><td>${esc(tokenWhere(w))}</td><td>${tokenInContextHtml(w)}</td><td class="num">${esc(formatFixed(w.massLost, 4))}</td><td class="num">${esc(formatIds(w.layers))}</td></tr>`).join('\n')}
</tbody>
</table></div>`;
  return `<section id="impact">
<h2>Impact on the calibration sample</h2>
<p><strong>${esc(formatShare(impact.affectedTokens, n))}</strong> of the calibration tokens (${esc(formatInteger(impact.affectedTokens))} of ${esc(formatInteger(n))}) had a ${operation === 'merge' ? 'merged' : 'removed'} expert among their top-k in at least one layer.</p>
<table class="layers">
<thead><tr><th scope="col">Layer</th><th scope="col">Affected tokens</th><th scope="col">Share</th><th scope="col"><span class="sr">bar</span></th><th scope="col">${esc(capitalised(measure))} per token</th></tr></thead>
<tbody>
${perLayer}
</tbody>
</table>
${worst}
</section>`;
}

function documentSection(doc: NonNullable<EvalReport['document']>, bar: (f: number) => string): string {
  const routing = doc.routingChanged
    .map((r) => `<tr><th scope="row">${esc(formatId(r.layer))}</th><td class="num">${esc(formatPercent(r.share))}</td><td class="barcell">${bar(r.share)}</td></tr>`)
    .join('\n');
  const changed = doc.perToken.filter((t) => t.before !== t.after);
  const tooltip = (t: (typeof changed)[number]): string => `next token: "${visibleToken(t.before)}" → "${visibleToken(t.after)}", KL ${formatKl(t.kl)}`;
  const text = doc.perToken.map((t) => (t.before !== t.after ? `<mark class="changed" title="${esc(tooltip(t))}">${esc(t.text)}</mark>` : esc(t.text))).join('');
  const shown = doc.perToken.length < doc.tokens ? `<p class="muted">Showing the first ${esc(formatInteger(doc.perToken.length))} of ${esc(formatInteger(doc.tokens))} tokens.</p>\n` : '';
  const rows = changed
    .slice(0, MAX_CHANGED_ROWS)
    .map((t) => `<tr><td class="num">${esc(formatId(t.index))}</td><td>${tokenCode(t.text)}</td><td>${tokenCode(t.before)}</td><td>${tokenCode(t.after)}</td><td class="num">${esc(formatKl(t.kl))}</td></tr>`)
    .join('\n');
  const more = changed.length > MAX_CHANGED_ROWS ? `<p class="muted">… and ${esc(formatInteger(changed.length - MAX_CHANGED_ROWS))} more (marked in the text above).</p>\n` : '';
  const table =
    changed.length === 0
      ? '<p>No next-token prediction changed.</p>'
      : `<h3>Changed predictions</h3>
<table class="tokens">
<thead><tr><th scope="col">#</th><th scope="col">After token</th><th scope="col">Next token before</th><th scope="col">Next token after</th><th scope="col">KL (nats)</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
${more}`;
  return `<section id="document">
<h2>Document</h2>
<p>${esc(formatInteger(doc.tokens))} tokens; the next-token prediction changed after <strong>${esc(formatInteger(doc.changedPredictions))}</strong> of them (${esc(formatPercent(doc.tokens > 0 ? doc.changedPredictions / doc.tokens : 0))}).</p>
${
  routing
    ? `<p>Share of the document's tokens whose set of top-k experts changed, per layer:</p>
<table class="layers">
<thead><tr><th scope="col">Layer</th><th scope="col">Share</th><th scope="col"><span class="sr">bar</span></th></tr></thead>
<tbody>
${routing}
</tbody>
</table>`
    : ''
}
<h3>Text</h3>
<p class="muted">Marked: tokens after which the predicted next token changed (hover for before → after).</p>
${shown}<div class="doc">${text}</div>
${table}
</section>`;
}

function notesSection(r: OperationReport): string {
  // Without an evaluation the notes are already shown where the evaluation would be.
  const notes = r.evaluation && r.notes.length > 0 ? `<h2>Notes</h2>\n${noteList(r.notes)}\n` : '';
  const params: [string, string][] = [['operation', esc(r.record.plan.operation)], ...Object.entries(r.record.plan.parameters).map(([k, v]): [string, string] => [esc(k), esc(formatParameter(v))])];
  return `<section id="notes">
${notes}<h2>Parameters</h2>
${definitionList(params)}
</section>`;
}

// ---- pieces ----

/** `rows` hold already-escaped HTML. */
function definitionList(rows: readonly [string, string][]): string {
  return `<dl>\n${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('\n')}\n</dl>`;
}

function noteList(notes: readonly string[]): string {
  return `<ul class="notes">\n${notes.map((n) => `<li>${esc(n)}</li>`).join('\n')}\n</ul>`;
}

/** A token in a table cell, whitespace made visible. */
function tokenCode(text: string): string {
  return `<code class="tok">${esc(visibleToken(text))}</code>`;
}

/** An affected token between the text around it (muted), whitespace made visible. */
function tokenInContextHtml(w: AffectedToken): string {
  const side = (s: unknown, cls: string): string => (typeof s === 'string' && s !== '' ? `<span class="${cls}">${esc(visibleToken(s))}</span>` : '');
  return `<code class="ctx">${side(w.before, 'ctx-before')}<mark class="tok">${esc(visibleToken(w.text))}</mark>${side(w.after, 'ctx-after')}</code>`;
}

const capitalised = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

export const REPORT_STYLE = `:root {
  color-scheme: light dark;
  --fg: var(--vscode-editor-foreground, #1f1f1f);
  --bg: var(--vscode-editor-background, #ffffff);
  --muted: var(--vscode-descriptionForeground, #5f5f5f);
  --border: var(--vscode-panel-border, #d4d4d4);
  --track: var(--vscode-editorWidget-background, #f0f0f0);
  --code-bg: var(--vscode-textCodeBlock-background, #f4f4f4);
  --kept: var(--vscode-charts-blue, #1a6fc4);
  --merged: var(--vscode-charts-purple, #7b3fb8);
  --removed: var(--vscode-charts-red, #c42b2b);
  --mark: var(--vscode-editor-findMatchHighlightBackground, rgba(234, 92, 0, 0.28));
  --mark-line: var(--vscode-editorWarning-foreground, #a35200);
  --font: var(--vscode-font-family, system-ui, -apple-system, "Segoe UI", sans-serif);
  --mono: var(--vscode-editor-font-family, ui-monospace, Menlo, Consolas, monospace);
}
@media (prefers-color-scheme: dark) {
  :root {
    --fg: var(--vscode-editor-foreground, #d4d4d4);
    --bg: var(--vscode-editor-background, #1e1e1e);
    --muted: var(--vscode-descriptionForeground, #a0a0a0);
    --border: var(--vscode-panel-border, #454545);
    --track: var(--vscode-editorWidget-background, #2b2b2b);
    --code-bg: var(--vscode-textCodeBlock-background, #2b2b2b);
    --kept: var(--vscode-charts-blue, #4da3ff);
    --merged: var(--vscode-charts-purple, #b88be6);
    --removed: var(--vscode-charts-red, #f36b6b);
    --mark-line: var(--vscode-editorWarning-foreground, #e0b000);
  }
}
body { margin: 0; color: var(--fg); background: var(--bg); font-family: var(--font); font-size: var(--vscode-font-size, 14px); line-height: 1.45; }
main { max-width: 64rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.5em; margin: 0.5em 0 0.1em; }
h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid var(--border); padding-bottom: 0.2em; }
h3 { font-size: 1em; margin: 1.4em 0 0.3em; }
code { font-family: var(--mono); overflow-wrap: anywhere; }
.muted { color: var(--muted); }
.description { font-size: 1.1em; }
.absent { font-weight: 600; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2em 1em; }
dt { color: var(--muted); }
dd { margin: 0; }
table { border-collapse: collapse; margin: 0.4em 0; }
th, td { padding: 0.2em 0.7em 0.2em 0; text-align: left; vertical-align: top; }
thead th { border-bottom: 1px solid var(--border); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.figures th[scope="row"] { font-weight: normal; }
table.bars { width: 100%; }
table.bars th.eid { font-weight: normal; font-variant-numeric: tabular-nums; width: 3.5em; }
td.barcell { width: 40%; min-width: 6em; vertical-align: middle; }
.track { display: block; height: 0.85em; background: var(--track); border: 1px solid var(--border); }
.bar { display: block; height: 100%; background: var(--kept); }
tr.merged .bar { background: repeating-linear-gradient(45deg, var(--merged) 0 3px, transparent 3px 6px); border-right: 2px solid var(--merged); }
tr.removed .bar { background: repeating-linear-gradient(-45deg, var(--removed) 0 3px, transparent 3px 6px); border-right: 2px solid var(--removed); }
tr.removed .eid, tr.removed td.num { color: var(--muted); }
.removed-word { color: var(--removed); }
.legend { margin-left: 1em; color: var(--muted); }
.key { display: inline-block; width: 1.4em; height: 0.8em; margin-left: 0.8em; vertical-align: middle; border: 1px solid var(--border); }
.key.kept { background: var(--kept); }
.key.merged { background: repeating-linear-gradient(45deg, var(--merged) 0 3px, transparent 3px 6px); }
.key.removed { background: repeating-linear-gradient(-45deg, var(--removed) 0 3px, transparent 3px 6px); }
code.tok { white-space: pre; background: var(--code-bg); padding: 0 0.25em; border-radius: 3px; }
code.ctx { white-space: pre-wrap; overflow-wrap: anywhere; color: var(--muted); }
.scroll { overflow-x: auto; max-width: 100%; }
code.ctx mark.tok { color: var(--fg); background: var(--mark); border-bottom: 2px solid var(--mark-line); padding: 0 0.15em; }
.doc { white-space: pre-wrap; overflow-wrap: anywhere; font-family: var(--mono); background: var(--code-bg); border: 1px solid var(--border); padding: 0.8em; max-height: 32em; overflow: auto; }
mark.changed { background: var(--mark); color: inherit; border-bottom: 2px dotted var(--mark-line); }
ul.notes { padding-left: 1.2em; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@media (forced-colors: active) {
  .bar, .key { forced-color-adjust: none; background: CanvasText !important; }
  mark.changed { border-bottom-style: solid; }
}
`;
