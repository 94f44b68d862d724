// The report of a fine-tuning run (issue #10 §4): report.json (the figures) and report.html (one
// self-contained page: no scripts, no external files; CSP allows only the nonce'd style block). The loss
// curves are inline SVG drawn from the numbers here. Every text is escaped and every number goes through
// formatNumbers, so a hostile report.json cannot put markup in the page.
import { makeNonce } from '../webviews/nonce';
import { formatChange, formatFixed, formatInteger, formatParams, formatPercent, formatPerplexity, formatScore, formatSeconds } from './formatNumbers';
import { type FinetuneGrowth, growthSectionHtml } from './growthReport';
import { escapeHtml as esc, reportPage } from './reportHtml';

export interface FinetuneReport {
  readonly format: 'moe-workbench.finetune-report';
  readonly version: 1;
  readonly createdAt: string;
  readonly model: { readonly dir: string; readonly sha256: string };
  readonly output: { readonly checkpointDir?: string; readonly adapterDir: string };
  readonly heldOut: string;
  readonly selection?: { readonly method: string; readonly threshold: number; readonly experts: readonly (readonly [number, readonly number[]])[] };
  readonly trainable: { readonly parameters: number; readonly total: number; readonly tensors: number };
  readonly hyperParameters: Readonly<Record<string, string | number>>;
  /** The run was stopped by the user (Stop, not Cancel) after `afterStep` of its `of` steps. */
  readonly stopped?: { readonly afterStep: number; readonly of: number };
  readonly history: readonly { readonly step: number; readonly lmLoss: number; readonly loss: number; readonly evalLoss?: number; readonly lr: number }[];
  readonly heldOutLoss?: { readonly before: number; readonly after: number };
  /** On the held-out targets: share where base and trained agree on the top-1 next token, mean KL(base ‖ trained) in nats. */
  readonly nextToken?: { readonly top1Agreement: number; readonly meanKl: number };
  readonly generalLoss?: { readonly before: number; readonly after: number };
  readonly routingDrift: readonly { readonly layer: number; readonly jaccard: number; readonly changed: number; readonly tokens: number }[];
  readonly expertChanges: readonly { readonly layer: number; readonly expert: number; readonly relative: number }[];
  /** The model was grown (upcycle / add-experts): before/after of its new parts (growthReport.ts). */
  readonly growth?: FinetuneGrowth;
  readonly tokensPerSecond: number;
  readonly seconds: number;
}

const W = 640;
const H = 240;
const PAD = 40;

/** Train and held-out loss against step, as an inline SVG (polylines in a fixed box). */
function lossChart(r: FinetuneReport): string {
  const pts = r.history.filter((h) => Number.isFinite(h.lmLoss));
  if (pts.length === 0) return '<p class="muted">No steps were taken.</p>';
  const evals = r.history.filter((h) => h.evalLoss !== undefined && Number.isFinite(h.evalLoss));
  const ys = [...pts.map((h) => h.lmLoss), ...evals.map((h) => h.evalLoss!), ...(r.heldOutLoss && Number.isFinite(r.heldOutLoss.before) ? [r.heldOutLoss.before] : [])];
  const lo = Math.min(...ys);
  const hi = Math.max(...ys);
  const span = hi - lo || 1;
  const maxStep = Math.max(1, ...pts.map((h) => h.step));
  const x = (s: number): string => (PAD + ((W - 2 * PAD) * s) / maxStep).toFixed(1);
  const y = (v: number): string => (H - PAD - ((H - 2 * PAD) * (v - lo)) / span).toFixed(1);
  const line = (list: readonly (readonly [number, number])[], cls: string): string => (list.length === 0 ? '' : `<polyline class="${cls}" fill="none" points="${list.map(([s, v]) => `${x(s)},${y(v)}`).join(' ')}"/>`);
  const held = [...(r.heldOutLoss && Number.isFinite(r.heldOutLoss.before) ? [[0, r.heldOutLoss.before] as const] : []), ...evals.map((h) => [h.step, h.evalLoss!] as const)];
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="loss against step">
<line class="axis" x1="${PAD}" y1="${H - PAD}" x2="${W - PAD}" y2="${H - PAD}"/><line class="axis" x1="${PAD}" y1="${PAD}" x2="${PAD}" y2="${H - PAD}"/>
<text class="tick" x="${PAD - 4}" y="${y(hi)}" text-anchor="end">${esc(formatFixed(hi, 3))}</text><text class="tick" x="${PAD - 4}" y="${y(lo)}" text-anchor="end">${esc(formatFixed(lo, 3))}</text>
<text class="tick" x="${x(maxStep)}" y="${H - PAD + 16}" text-anchor="end">step ${esc(formatInteger(maxStep))}</text>
${line(pts.map((h) => [h.step, h.lmLoss] as const), 'train')}
${line(held, 'held')}
</svg>
<p class="legend"><span class="key train"></span> training loss (LM) <span class="key held"></span> held-out loss</p>`;
}

const row = (k: string, v: string): string => `<dt>${esc(k)}</dt><dd>${v}</dd>`;
const lossRow = (label: string, l?: { before: number; after: number }): string => (l ? row(label, `${esc(formatFixed(l.before, 4))} → ${esc(formatFixed(l.after, 4))} (perplexity ${esc(formatPerplexity(Math.exp(l.before)))} → ${esc(formatPerplexity(Math.exp(l.after)))}, ${esc(formatChange(Math.exp(l.before), Math.exp(l.after)))})`) : '');

export function finetuneReportHtml(r: FinetuneReport, opts: { readonly nonce?: string; readonly cspSource?: string } = {}): string {
  const nonce = opts.nonce ?? makeNonce();
  const hp = Object.entries(r.hyperParameters)
    .map(([k, v]) => `${esc(k)} ${esc(typeof v === 'number' ? (Number.isInteger(v) ? formatInteger(v) : formatScore(v)) : String(v))}`)
    .join(', ');
  const selection = r.selection
    ? `${esc(r.selection.method)} at p = ${esc(formatFixed(r.selection.threshold, 2))}: ${r.selection.experts.map(([L, es]) => `layer ${esc(formatInteger(L))} [${es.map((e) => esc(formatInteger(e))).join(', ')}]`).join('; ')}`
    : 'none (the --train specs only)';
  const drift = r.routingDrift
    .map((d) => `<tr><td>${esc(formatInteger(d.layer))}</td><td>${esc(formatFixed(d.jaccard, 4))}</td><td>${esc(formatPercent(d.changed))}</td><td>${esc(formatInteger(d.tokens))}</td></tr>`)
    .join('\n');
  const changes = r.expertChanges.map((c) => `<tr><td>${esc(formatInteger(c.layer))}</td><td>${esc(formatInteger(c.expert))}</td><td>${esc(formatScore(c.relative))}</td></tr>`).join('\n');
  const body = `<h1>Fine-tuning report</h1>
<p class="muted">${esc(r.createdAt)} · <code>${esc(r.model.dir)}</code> (identity ${esc(r.model.sha256.slice(0, 12))})</p>
<h2>Summary</h2>
${r.stopped ? `<p class="stopped">Stopped by the user after step ${esc(formatInteger(r.stopped.afterStep))} of ${esc(formatInteger(r.stopped.of))}: the model is the one trained so far.</p>\n` : ''}<dl>
${row('Trained', `${esc(formatParams(r.trainable.parameters))} of ${esc(formatParams(r.trainable.total))} parameters (${esc(formatPercent(r.trainable.parameters / r.trainable.total))}), ${esc(formatInteger(r.trainable.tensors))} tensors`)}
${row('Selection', selection)}
${row('Settings', hp)}
${lossRow('Held-out loss', r.heldOutLoss)}
${r.nextToken ? row('Next token (held-out)', `top-1 agreement base vs trained ${esc(formatPercent(r.nextToken.top1Agreement))}, mean KL(base ‖ trained) ${esc(formatScore(r.nextToken.meanKl))} nats`) : ''}
${lossRow('General-data loss', r.generalLoss)}
${row('Held-out data', esc(r.heldOut))}
${row('Speed', `${esc(formatInteger(Math.round(r.tokensPerSecond)))} tokens/s, ${esc(formatSeconds(r.seconds * 1000))}`)}
${row('Output', `${r.output.checkpointDir ? `<code>${esc(r.output.checkpointDir)}</code>, ` : ''}adapter <code>${esc(r.output.adapterDir)}</code>`)}
</dl>
<h2>Loss</h2>
${lossChart(r)}
<h2>Routing drift on the held-out tokens</h2>
<p class="muted">Per MoE layer, the mean Jaccard index of each token's top-k expert set before and after training (1 = unchanged).</p>
${r.routingDrift.length === 0 ? '<p class="muted">No held-out data.</p>' : `<table><thead><tr><th>Layer</th><th>Jaccard</th><th>Tokens changed</th><th>Tokens</th></tr></thead><tbody>\n${drift}\n</tbody></table>`}
<h2>Weight change per trained expert</h2>
${r.expertChanges.length === 0 ? '<p class="muted">No routed expert was trained.</p>' : `<table><thead><tr><th>Layer</th><th>Expert</th><th>‖ΔW‖ / ‖W‖</th></tr></thead><tbody>\n${changes}\n</tbody></table>`}${r.growth ? `\n${growthSectionHtml(r.growth)}` : ''}`;
  return reportPage('Fine-tuning report', body, CHART_STYLE, nonce, opts.cspSource);
}

const CHART_STYLE = `
.chart { width: 100%; max-width: ${W}px; height: auto; }
.chart .axis { stroke: var(--border); }
.chart .tick { fill: var(--muted); font-size: 11px; }
.chart .train { stroke: var(--kept); stroke-width: 2; }
.chart .held { stroke: var(--removed); stroke-width: 2; }
.legend .key { display: inline-block; width: 1.2em; height: 0.3em; vertical-align: middle; margin: 0 0.3em 0 1em; }
.legend .key.train { background: var(--kept); }
.legend .key.held { background: var(--removed); }`;
