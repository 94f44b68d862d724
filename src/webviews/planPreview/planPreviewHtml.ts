// The preview of a prune / merge plan, rendered on the host as one HTML document: per layer which experts
// go (bars of the method's score; merges show their groups), the impact on the calibration sample and on
// every open annotated document (share of tokens with a changed top-k expert, per layer) and the most
// affected tokens, each a button that reveals the token in its editor. A strict CSP: nothing loads, the
// one <style> and the one small <script> (which only posts button clicks) carry the nonce; bar widths are
// classes of that style block, never style attributes. Every text from the plan, the documents or the
// profile (token texts, file names) is escaped, every number formatted by formatNumbers (digits only,
// whatever it is given). Tables scroll sideways in a narrow panel instead of clipping. Pure: no vscode import.
import { makeNonce } from '../nonce';
import type { ExpertPlan, ExpertStatistic, LayerPlan, PlanImpact } from '../../protocol/expertOps';
import { formatId, formatIds, formatInteger, formatScore, formatShare } from '../../report/formatNumbers';
import { escapeHtml } from '../../report/reportHtml';
import { impactMeasure, tokenWhere } from '../../report/reportText';

/** One set of routed tokens the plan is measured on. */
export interface PreviewSource {
  readonly kind: 'sample' | 'document';
  /** "Calibration sample", or the document's name. */
  readonly label: string;
  readonly impact: PlanImpact;
  /** Whether its tokens can be revealed in an editor (the list items become buttons). */
  readonly revealable: boolean;
  /** E.g. "120 tokens not annotated yet". */
  readonly note?: string;
}

export interface PlanPreview {
  readonly modelName: string;
  readonly plan: ExpertPlan;
  /** The statistic the bars show (the method's score; usage share for merges). */
  readonly statistic: ExpertStatistic;
  readonly statisticLabel: string;
  /** Where the profile came from, e.g. "profile of 12,000 tokens … (file)". */
  readonly profileNote: string;
  readonly sources: readonly PreviewSource[];
  /** The layer (and expert) the command was started from: shown first and highlighted. */
  readonly focus?: { readonly layer: number; readonly expert?: number };
}

/** Messages the preview's script posts. */
export type PreviewToHost = { readonly type: 'write' } | { readonly type: 'cancel' } | { readonly type: 'reveal'; readonly source: number; readonly token: number };
/** Messages the host posts: re-enable the buttons (after the write dialog was cancelled). */
export type HostToPreview = { readonly type: 'enable' };

const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The message, or undefined when it is unknown or malformed. */
export function parsePreviewMessage(data: unknown): PreviewToHost | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  const d = data as Record<string, unknown>;
  switch (d['type']) {
    case 'write':
      return { type: 'write' };
    case 'cancel':
      return { type: 'cancel' };
    case 'reveal':
      return isIndex(d['source']) && isIndex(d['token']) ? { type: 'reveal', source: d['source'], token: d['token'] } : undefined;
    default:
      return undefined;
  }
}

const esc = escapeHtml;

/** form-action and base-uri are not covered by default-src, so they are closed explicitly. */
export function previewCsp(nonce: string, cspSource?: string): string {
  return `default-src 'none'; style-src ${cspSource ? `${cspSource} ` : ''}'nonce-${nonce}'; script-src 'nonce-${nonce}'; form-action 'none'; base-uri 'none'`;
}

/** Whitespace made visible, so a token that is a space or a newline can be seen and clicked. */
export function visibleTokenText(text: string): string {
  if (text === '') return '∅';
  return String(text).replace(/ /g, '·').replace(/\r\n|\n/g, '↵').replace(/\r/g, '␍').replace(/\t/g, '⇥');
}

/** Numbers as escaped text: formatNumbers emits only digits and units, esc makes that certain. */
const int = (n: number): string => esc(formatInteger(n));
const id = (n: number): string => esc(formatId(n));
const ids = (list: readonly number[], sep = ', '): string => (Array.isArray(list) ? list.map(id).join(sep) : '');
const share = (part: number, whole: number): string => esc(formatShare(part, whole));
const value = (v: number): string => esc(formatScore(v));

// The script: clicks on [data-action] become messages; the host can re-enable the buttons.
const SCRIPT = `(function () {
  const vscode = acquireVsCodeApi();
  const buttons = () => document.querySelectorAll('[data-action="write"], [data-action="cancel"]');
  document.addEventListener('click', (ev) => {
    const el = ev.target instanceof Element ? ev.target.closest('[data-action]') : null;
    if (!el) return;
    const action = el.getAttribute('data-action');
    if (action === 'reveal') {
      vscode.postMessage({ type: 'reveal', source: Number(el.getAttribute('data-source')), token: Number(el.getAttribute('data-token')) });
    } else if (action === 'write' || action === 'cancel') {
      buttons().forEach((b) => { b.disabled = true; });
      vscode.postMessage({ type: action });
    }
  });
  window.addEventListener('message', (ev) => {
    if (ev.data && ev.data.type === 'enable') buttons().forEach((b) => { b.disabled = false; });
  });
})();`;

export function planPreviewHtml(p: PlanPreview, opts: { nonce?: string; cspSource?: string } = {}): string {
  const nonce = opts.nonce ?? makeNonce();
  const widths = new Set<number>();
  const bar = (fraction: number, cls = ''): string => {
    const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
    const w = f > 0 ? Math.max(1, Math.round(100 * f)) : 0;
    widths.add(w);
    return `<span class="track" aria-hidden="true"><span class="bar w${w}${cls ? ` ${cls}` : ''}"></span></span>`;
  };
  const plan = p.plan;
  const verb = plan.operation === 'prune' ? 'Prune' : 'Merge';
  const layers = orderLayers(plan.layers, p.focus?.layer);
  const body = [
    `<header>
<h1>${verb} preview: ${esc(p.modelName)}</h1>
<p class="desc">${esc(plan.description)}</p>
<p class="muted">${esc(p.profileNote)}</p>
<div class="actions">
<button type="button" class="primary" data-action="write">Write Checkpoint…</button>
<button type="button" class="secondary" data-action="cancel">Cancel</button>
</div>
</header>`,
    summarySection(p),
    impactSection(p, bar),
    `<section><h2>Experts per layer</h2><p class="muted">Bars: ${esc(p.statisticLabel)} (relative to the layer's highest).${
      plan.operation === 'prune' ? ' Struck-out experts are removed.' : ' Each group becomes one expert, routed by its centre (★).'
    }</p>${layers.map((l) => layerSection(l, plan.operation, p.focus, bar)).join('\n')}</section>`,
    tokensSection(p),
  ].join('\n');

  const widthRules = [...widths]
    .sort((a, b) => a - b)
    .map((w) => `.w${w}{width:${w}%}`)
    .join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${esc(previewCsp(nonce, opts.cspSource))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${verb} preview: ${esc(p.modelName)}</title>
<style nonce="${esc(nonce)}">${STYLE}${widthRules}</style>
</head>
<body>
${body}
<script nonce="${esc(nonce)}">${SCRIPT}</script>
</body>
</html>
`;
}

function orderLayers(layers: readonly LayerPlan[], focus: number | undefined): LayerPlan[] {
  const i = layers.findIndex((l) => l.layer === focus);
  return i < 0 ? [...layers] : [layers[i]!, ...layers.slice(0, i), ...layers.slice(i + 1)];
}

function summarySection(p: PlanPreview): string {
  const before = p.plan.layers.reduce((n, l) => n + l.numExperts, 0);
  const after = p.plan.layers.reduce((n, l) => n + l.experts.length, 0);
  const what = p.plan.operation === 'prune' ? `Removes ${int(before - after)} of ${int(before)} experts` : `Merges ${int(before)} experts into ${int(after)}`;
  const change = p.plan.operation === 'prune' ? 'lose an expert of their top-k' : 'have an expert of their top-k merged into another';
  const items = p.sources.map((s) => {
    const i = s.impact;
    return `<li><span class="label">${esc(s.label)}</span>: ${int(i.affectedTokens)} of ${int(i.tokens)} tokens (<strong class="share">${share(i.affectedTokens, i.tokens)}</strong>) ${change} in at least one layer${s.note ? ` <span class="muted">(${esc(s.note)})</span>` : ''}.</li>`;
  });
  const docs = p.sources.some((s) => s.kind === 'document') ? '' : '<li class="muted">No open annotated document: open a .prompt file (or run "MoE: Annotate Editor") to see the impact on your own text.</li>';
  return `<section class="summary"><p>${what} across ${int(p.plan.layers.length)} MoE layers.</p><ul>${items.join('')}${docs}</ul></section>`;
}

function impactSection(p: PlanPreview, bar: (f: number, cls?: string) => string): string {
  // The column heads stay short (a narrow panel); the paragraph above the table says what the weight is.
  const head = p.sources.map((s) => `<th scope="col" class="src">${esc(s.label)}<br><span class="muted">affected · gate weight</span></th>`).join('');
  const rows = p.plan.layers.map((l) => {
    const cells = p.sources.map((s) => {
      const row = s.impact.perLayer.find((x) => x.layer === l.layer);
      if (!row || !(s.impact.tokens > 0)) return '<td class="muted">—</td>';
      return `<td class="impact" data-layer="${id(l.layer)}">${bar(row.affected / s.impact.tokens, 'hit')}<span class="num">${share(row.affected, s.impact.tokens)}</span> <span class="muted">· ${value(row.gateMassLost)}</span></td>`;
    });
    return `<tr><th scope="row">Layer ${id(l.layer)}</th><td class="num">${int(l.experts.length)} / ${int(l.numExperts)}</td>${cells.join('')}</tr>`;
  });
  const what = p.plan.operation === 'prune' ? 'a removed expert' : 'an expert merged into another';
  return `<section><h2>Impact per layer</h2><p class="muted">Share of tokens with ${what} among their top-k, and the mean ${esc(impactMeasure(p.plan.operation))} per token (the applied gate weight those experts carried).</p>
<div class="scroll"><table class="impact-table"><thead><tr><th scope="col">Layer</th><th scope="col">Experts after</th>${head}</tr></thead><tbody>${rows.join('')}</tbody></table></div></section>`;
}

function layerSection(l: LayerPlan, operation: ExpertPlan['operation'], focus: PlanPreview['focus'], bar: (f: number, cls?: string) => string): string {
  const max = Math.max(0, ...l.scores.filter(Number.isFinite));
  const removed = new Set(l.removed);
  const groupOf = new Map<number, { id: number; centre: number; members: readonly number[] }>();
  l.experts.forEach((x, newId) => {
    const members = x.members ?? x.sources.map((s) => s.expert);
    for (const m of members) groupOf.set(m, { id: newId, centre: x.routerRow, members });
  });
  const order = l.scores.map((_, e) => e).sort((a, b) => l.scores[b]! - l.scores[a]! || a - b);
  const isFocusLayer = focus?.layer === l.layer;
  const rows = order.map((e, rank) => {
    const gone = removed.has(e);
    const g = groupOf.get(e);
    const focused = isFocusLayer && focus?.expert === e;
    const cls = [gone ? 'removed' : 'kept', focused ? 'focus' : ''].filter(Boolean).join(' ');
    const newId = g ? formatId(g.id) : '?';
    let fate: string;
    if (operation === 'prune') fate = gone ? 'removed' : `kept → expert ${newId}`;
    else if (g && g.members.length > 1) fate = e === g.centre ? `★ centre of new expert ${newId} (${g.members.map(formatId).join(' + ')})` : `merged into new expert ${newId} (★ ${formatId(g.centre)})`;
    else fate = `kept → expert ${newId}`;
    return `<tr class="${cls}" data-expert="${id(e)}"><td class="num">#${int(rank + 1)}</td><th scope="row">${focused ? '▶ ' : ''}Expert ${id(e)}</th><td class="barcell">${bar(max > 0 ? l.scores[e]! / max : 0, gone ? 'gone' : '')}</td><td class="num">${value(l.scores[e]!)}</td><td>${esc(fate)}</td></tr>`;
  });
  const summary =
    operation === 'prune'
      ? `keeps ${formatInteger(l.experts.length)} of ${formatInteger(l.numExperts)}; removes ${formatIds(l.removed)}`
      : `${formatInteger(l.numExperts)} → ${formatInteger(l.experts.length)} experts; groups ${l.experts.map((x) => `[${(x.members ?? x.sources.map((s) => s.expert)).map(formatId).join('+')}]`).join(' ')}`;
  return `<details class="layer${isFocusLayer ? ' focus' : ''}" data-layer="${id(l.layer)}" open><summary><strong>Layer ${id(l.layer)}</strong> — ${esc(summary)}</summary>
<div class="scroll"><table class="experts"><thead><tr><th scope="col">Rank</th><th scope="col">Expert</th><th scope="col"><span class="sr">Score bar</span></th><th scope="col">Score</th><th scope="col">Fate</th></tr></thead><tbody>${rows.join('')}</tbody></table></div></details>`;
}

function tokensSection(p: PlanPreview): string {
  const measure = impactMeasure(p.plan.operation);
  const lists = p.sources.map((s, si) => {
    if (s.impact.worst.length === 0) return `<h3>${esc(s.label)}</h3><p class="muted">No token is affected.</p>`;
    const items = s.impact.worst.map((w) => {
      const side = (t: unknown, cls: string): string => (typeof t === 'string' && t !== '' ? `<span class="${cls}">${esc(visibleTokenText(t))}</span>` : '');
      const text = `<code class="ctx">${side(w.before, 'ctx-before')}<mark class="tok">${esc(visibleTokenText(w.text))}</mark>${side(w.after, 'ctx-after')}</code>`;
      const where = tokenWhere(w);
      const layers = Array.isArray(w.layers) ? w.layers : [];
      const detail = `<span class="muted">${where ? `${esc(where)} · ` : ''}${esc(measure)} ${value(w.massLost)} · layer${layers.length === 1 ? '' : 's'} ${ids(layers)}</span>`;
      return s.revealable
        ? `<li><button type="button" class="link" data-action="reveal" data-source="${id(si)}" data-token="${id(w.index)}" title="Show token #${id(w.index)} in its editor">${text}</button> ${detail}</li>`
        : `<li>${text} ${detail}</li>`;
    });
    return `<h3>${esc(s.label)}</h3><ol class="worst">${items.join('')}</ol>`;
  });
  const what = p.plan.operation === 'prune' ? 'removed' : 'merged';
  return `<section><h2>Most affected tokens</h2><p class="muted">By the gate weight their ${what} experts carried, summed over layers; each with its line and the text around it. Click a token to show it in its editor.</p>${lists.join('\n')}</section>`;
}

const STYLE = `
:root { color-scheme: light dark; }
body { font-family: var(--vscode-font-family, system-ui, sans-serif); font-size: var(--vscode-font-size, 13px); color: var(--vscode-foreground, #222); background: var(--vscode-editor-background, #fff); margin: 0; padding: 0 20px 24px; }
header { position: sticky; top: 0; background: var(--vscode-editor-background, #fff); padding: 12px 0 8px; border-bottom: 1px solid var(--vscode-panel-border, #8884); z-index: 1; }
h1 { font-size: 1.4em; margin: 0 0 4px; }
h2 { font-size: 1.15em; margin: 20px 0 6px; }
h3 { font-size: 1em; margin: 14px 0 4px; }
.desc { margin: 2px 0; font-weight: 600; }
.muted { color: var(--vscode-descriptionForeground, #666); }
.actions { margin-top: 8px; display: flex; gap: 8px; }
button { font: inherit; cursor: pointer; }
button.primary, button.secondary { padding: 4px 14px; border: 1px solid var(--vscode-button-border, transparent); border-radius: 2px; }
button.primary { background: var(--vscode-button-background, #0e639c); color: var(--vscode-button-foreground, #fff); }
button.primary:hover { background: var(--vscode-button-hoverBackground, #1177bb); }
button.secondary { background: var(--vscode-button-secondaryBackground, #5f6a79); color: var(--vscode-button-secondaryForeground, #fff); }
button:disabled { opacity: 0.5; cursor: default; }
button:focus-visible { outline: 1px solid var(--vscode-focusBorder, #007fd4); outline-offset: 2px; }
button.link { background: none; border: none; padding: 0; color: var(--vscode-textLink-foreground, #0066bf); }
button.link:hover code { text-decoration: underline; }
table { border-collapse: collapse; margin: 4px 0 8px; }
.scroll { overflow-x: auto; max-width: 100%; }
.impact-table thead th.src { white-space: normal; overflow-wrap: anywhere; min-width: 7em; }
.impact-table .track { width: 56px; }
th, td { text-align: left; padding: 2px 10px 2px 0; vertical-align: middle; font-weight: normal; white-space: nowrap; }
thead th { font-weight: 600; border-bottom: 1px solid var(--vscode-panel-border, #8884); }
tbody th { font-weight: 600; }
.num { font-variant-numeric: tabular-nums; text-align: right; white-space: nowrap; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.track { display: inline-block; width: 96px; height: 8px; background: color-mix(in srgb, var(--vscode-foreground, #222) 10%, transparent); vertical-align: middle; margin-right: 6px; }
.bar { display: block; height: 100%; background: var(--vscode-charts-blue, #3794ff); }
.bar.hit { background: var(--vscode-charts-orange, #d18616); }
.bar.gone { background: var(--vscode-charts-red, #f14c4c); }
tr.removed th, tr.removed td:last-child { text-decoration: line-through; color: var(--vscode-descriptionForeground, #666); }
tr.focus { outline: 2px solid var(--vscode-focusBorder, #007fd4); outline-offset: -1px; background: var(--vscode-list-inactiveSelectionBackground, #8882); }
details.layer { margin: 6px 0; padding: 2px 6px; border-left: 3px solid transparent; }
details.layer.focus { border-left-color: var(--vscode-focusBorder, #007fd4); }
summary { cursor: pointer; padding: 2px 0; }
code.tok, code.ctx { font-family: var(--vscode-editor-font-family, monospace); white-space: pre; }
code.tok { background: var(--vscode-textCodeBlock-background, #8882); padding: 0 3px; }
code.ctx { color: var(--vscode-descriptionForeground, #666); }
code.ctx mark.tok { color: var(--vscode-foreground, #222); background: var(--vscode-editor-findMatchHighlightBackground, #ea5c0047); border-bottom: 1px solid var(--vscode-focusBorder, #007fd4); padding: 0 2px; }
ol.worst li { overflow-wrap: anywhere; }
ol.worst { margin: 2px 0; padding-left: 28px; }
ol.worst li { margin: 2px 0; }
.summary ul { margin: 4px 0; padding-left: 20px; }
.share { font-variant-numeric: tabular-nums; }
`;
