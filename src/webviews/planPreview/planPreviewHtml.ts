// The preview of a prune / merge plan, rendered on the host as one HTML document: per layer which experts
// go (bars of the method's score; merges show their groups), the impact on the calibration sample and on
// every open annotated document (share of tokens with a changed top-k expert, per layer) and the most
// affected tokens, each a button that reveals the token in its editor. A strict CSP: nothing loads, the
// one <style> and the one small <script> (which only posts button clicks) carry the nonce; bar widths are
// classes of that style block, never style attributes. Every text from the plan, the documents or the
// profile (token texts, file names) is escaped. Pure: no vscode import.
import { makeNonce } from '../nonce';
import type { ExpertPlan, ExpertStatistic, LayerPlan, PlanImpact } from '../../protocol/expertOps';
import { escapeHtml } from '../../report/reportHtml';

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

export function previewCsp(nonce: string, cspSource?: string): string {
  return `default-src 'none'; style-src ${cspSource ? `${cspSource} ` : ''}'nonce-${nonce}'; script-src 'nonce-${nonce}'`;
}

/** Whitespace made visible, so a token that is a space or a newline can be seen and clicked. */
export function visibleTokenText(text: string): string {
  if (text === '') return '∅';
  return text.replace(/ /g, '·').replace(/\r\n|\n/g, '↵').replace(/\r/g, '␍').replace(/\t/g, '⇥');
}

export function formatShare(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : 'n/a';
}

export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e5 || a < 1e-3 ? v.toExponential(2) : v.toPrecision(4);
}

const int = (n: number): string => n.toLocaleString('en-US');

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
  const items = p.sources.map((s) => {
    const i = s.impact;
    return `<li><span class="label">${esc(s.label)}</span>: ${int(i.affectedTokens)} of ${int(i.tokens)} tokens (<strong class="share">${formatShare(i.affectedTokens, i.tokens)}</strong>) lose or change an expert of their top-k in at least one layer${s.note ? ` <span class="muted">(${esc(s.note)})</span>` : ''}.</li>`;
  });
  const docs = p.sources.some((s) => s.kind === 'document') ? '' : '<li class="muted">No open annotated document: open a .prompt file (or run "MoE: Annotate Editor") to see the impact on your own text.</li>';
  return `<section class="summary"><p>${what} across ${p.plan.layers.length} MoE layers.</p><ul>${items.join('')}${docs}</ul></section>`;
}

function impactSection(p: PlanPreview, bar: (f: number, cls?: string) => string): string {
  const head = p.sources.map((s) => `<th scope="col">${esc(s.label)}<br><span class="muted">tokens affected · gate mass lost</span></th>`).join('');
  const rows = p.plan.layers.map((l) => {
    const cells = p.sources.map((s) => {
      const row = s.impact.perLayer.find((x) => x.layer === l.layer);
      if (!row || s.impact.tokens === 0) return '<td class="muted">—</td>';
      const share = row.affected / s.impact.tokens;
      return `<td class="impact" data-layer="${l.layer}">${bar(share, 'hit')}<span class="num">${formatShare(row.affected, s.impact.tokens)}</span> <span class="muted">· ${formatValue(row.gateMassLost)}</span></td>`;
    });
    return `<tr><th scope="row">Layer ${l.layer}</th><td class="num">${l.experts.length} / ${l.numExperts}</td>${cells.join('')}</tr>`;
  });
  return `<section><h2>Impact per layer</h2><p class="muted">Share of tokens with a changed expert among their top-k, and the mean applied gate weight those experts carried.</p>
<table class="impact-table"><thead><tr><th scope="col">Layer</th><th scope="col">Experts after</th>${head}</tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

function layerSection(l: LayerPlan, operation: ExpertPlan['operation'], focus: PlanPreview['focus'], bar: (f: number, cls?: string) => string): string {
  const max = Math.max(0, ...l.scores.filter(Number.isFinite));
  const removed = new Set(l.removed);
  const groupOf = new Map<number, { id: number; centre: number; members: readonly number[] }>();
  l.experts.forEach((x, id) => {
    const members = x.members ?? x.sources.map((s) => s.expert);
    for (const m of members) groupOf.set(m, { id, centre: x.routerRow, members });
  });
  const order = l.scores.map((_, e) => e).sort((a, b) => l.scores[b]! - l.scores[a]! || a - b);
  const isFocusLayer = focus?.layer === l.layer;
  const rows = order.map((e, rank) => {
    const gone = removed.has(e);
    const g = groupOf.get(e);
    const focused = isFocusLayer && focus?.expert === e;
    const cls = [gone ? 'removed' : 'kept', focused ? 'focus' : ''].filter(Boolean).join(' ');
    let fate: string;
    if (operation === 'prune') fate = gone ? 'removed' : `kept → expert ${g?.id ?? '?'}`;
    else if (g && g.members.length > 1) fate = e === g.centre ? `★ centre of new expert ${g.id} (${g.members.join(' + ')})` : `merged into new expert ${g.id} (★ ${g.centre})`;
    else fate = `kept → expert ${g?.id ?? '?'}`;
    return `<tr class="${cls}" data-expert="${e}"><td class="num">#${rank + 1}</td><th scope="row">${focused ? '▶ ' : ''}Expert ${e}</th><td class="barcell">${bar(max > 0 ? l.scores[e]! / max : 0, gone ? 'gone' : '')}</td><td class="num">${formatValue(l.scores[e]!)}</td><td>${esc(fate)}</td></tr>`;
  });
  const summary =
    operation === 'prune'
      ? `keeps ${l.experts.length} of ${l.numExperts}; removes ${l.removed.length === 0 ? 'none' : l.removed.join(', ')}`
      : `${l.numExperts} → ${l.experts.length} experts; groups ${l.experts.map((x) => `[${(x.members ?? x.sources.map((s) => s.expert)).join('+')}]`).join(' ')}`;
  return `<details class="layer${isFocusLayer ? ' focus' : ''}" data-layer="${l.layer}" open><summary><strong>Layer ${l.layer}</strong> — ${esc(summary)}</summary>
<table class="experts"><thead><tr><th scope="col">Rank</th><th scope="col">Expert</th><th scope="col">Score</th><th scope="col"></th><th scope="col">Fate</th></tr></thead><tbody>${rows.join('')}</tbody></table></details>`;
}

function tokensSection(p: PlanPreview): string {
  const lists = p.sources.map((s, si) => {
    if (s.impact.worst.length === 0) return `<h3>${esc(s.label)}</h3><p class="muted">No token is affected.</p>`;
    const items = s.impact.worst.map((w) => {
      const text = `<code class="tok">${esc(visibleTokenText(w.text))}</code>`;
      const detail = `<span class="muted">gate mass lost ${formatValue(w.massLost)} · layer${w.layers.length === 1 ? '' : 's'} ${w.layers.join(', ')}</span>`;
      return s.revealable
        ? `<li><button type="button" class="link" data-action="reveal" data-source="${si}" data-token="${w.index}" title="Show token #${w.index} in its editor">${text}</button> ${detail}</li>`
        : `<li>${text} ${detail}</li>`;
    });
    return `<h3>${esc(s.label)}</h3><ol class="worst">${items.join('')}</ol>`;
  });
  return `<section><h2>Most affected tokens</h2><p class="muted">By the gate weight their removed or merged experts carried, summed over layers. Click a token to show it in its editor.</p>${lists.join('\n')}</section>`;
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
th, td { text-align: left; padding: 2px 10px 2px 0; vertical-align: middle; font-weight: normal; }
thead th { font-weight: 600; border-bottom: 1px solid var(--vscode-panel-border, #8884); }
tbody th { font-weight: 600; }
.num { font-variant-numeric: tabular-nums; text-align: right; }
.track { display: inline-block; width: 120px; height: 8px; background: color-mix(in srgb, var(--vscode-foreground, #222) 10%, transparent); vertical-align: middle; margin-right: 6px; }
.bar { display: block; height: 100%; background: var(--vscode-charts-blue, #3794ff); }
.bar.hit { background: var(--vscode-charts-orange, #d18616); }
.bar.gone { background: var(--vscode-charts-red, #f14c4c); }
tr.removed th, tr.removed td:last-child { text-decoration: line-through; color: var(--vscode-descriptionForeground, #666); }
tr.focus { outline: 2px solid var(--vscode-focusBorder, #007fd4); outline-offset: -1px; background: var(--vscode-list-inactiveSelectionBackground, #8882); }
details.layer { margin: 6px 0; padding: 2px 6px; border-left: 3px solid transparent; }
details.layer.focus { border-left-color: var(--vscode-focusBorder, #007fd4); }
summary { cursor: pointer; padding: 2px 0; }
code.tok { font-family: var(--vscode-editor-font-family, monospace); background: var(--vscode-textCodeBlock-background, #8882); padding: 0 3px; white-space: pre; }
ol.worst { margin: 2px 0; padding-left: 28px; }
ol.worst li { margin: 2px 0; }
.summary ul { margin: 4px 0; padding-left: 20px; }
.share { font-variant-numeric: tabular-nums; }
`;
