// The preview of a dense → MoE upcycling, rendered on the host as one HTML document: source → target family,
// parameters before/after, active parameters per token, the disk size estimate, what every decoder layer
// becomes and where its experts come from, and for copies the function-preservation guarantee. The same
// strict CSP as the prune/merge preview (planPreviewHtml's previewCsp): nothing loads; the one <style> and the
// one small <script> (it only posts the two button clicks) carry the nonce. Every text is escaped, every
// number formatted by formatNumbers. Pure: no vscode import.
import type { UpcyclePreview } from '../../protocol/engineProtocol';
import { formatBytes, formatChange, formatId, formatInteger, formatParams } from '../../report/formatNumbers';
import { escapeHtml as esc } from '../../report/reportHtml';
import { formatSetting, functionSentence, methodSentence } from '../../report/upcycleReport';
import { makeNonce } from '../nonce';
import { previewCsp } from '../planPreview/planPreviewHtml';

const n = (x: number): string => esc(formatInteger(x));
const ids = (xs: readonly number[]): string => xs.map((x) => esc(formatId(x))).join(', ');

/** The experts of one MoE layer: where their weights come from. */
export function layerSources(p: UpcyclePreview, layer: number): string {
  const s = p.settings;
  const mlp = `model.layers.${layer}.mlp`;
  const range = s.experts === 1 ? 'expert 0' : `experts 0–${s.experts - 1}`;
  switch (s.method) {
    case 'copy':
      return `${range}: exact copies of ${mlp}`;
    case 'noise':
      return `${range}: copies of ${mlp}, noise on ${formatInteger(p.changedNeurons)} of its ${formatInteger(p.denseIntermediate)} neurons each`;
    case 'drop':
      return `${range}: copies of ${mlp}, ${formatInteger(p.changedNeurons)} of its ${formatInteger(p.denseIntermediate)} neurons re-drawn each`;
    case 'split':
      return `${range}: ${formatInteger(p.expertIntermediate)} of the ${formatInteger(p.denseIntermediate)} neurons of ${mlp} each (${p.partition === 'balanced-kmeans' ? 'balanced k-means over their activations on the data' : 'a seeded random partition'})`;
  }
}

const SCRIPT = `(function () {
  const vscode = acquireVsCodeApi();
  const buttons = () => document.querySelectorAll('[data-action]');
  document.addEventListener('click', (ev) => {
    const el = ev.target instanceof Element ? ev.target.closest('[data-action]') : null;
    if (!el) return;
    const action = el.getAttribute('data-action');
    if (action !== 'write' && action !== 'cancel') return;
    buttons().forEach((b) => { b.disabled = true; });
    vscode.postMessage({ type: action });
  });
  window.addEventListener('message', (ev) => {
    if (ev.data && ev.data.type === 'enable') buttons().forEach((b) => { b.disabled = false; });
  });
})();`;

const row = (k: string, v: string): string => `<dt>${esc(k)}</dt><dd>${v}</dd>`;

export function upcyclePreviewHtml(p: UpcyclePreview, opts: { nonce?: string; cspSource?: string } = {}): string {
  const nonce = opts.nonce ?? makeNonce();
  const s = p.settings;
  const f = p;
  const title = `Upcycle preview: ${p.source.name}`;
  const moe = new Set(p.moeLayers);
  const dense = p.numLayers - p.moeLayers.length;
  const router =
    s.router === 'kmeans'
      ? `k-means: rows from centroids of each layer's MLP inputs on ${s.data.map((d) => `<code>${esc(d)}</code>`).join(', ')}, scaled to the random init's row norm`
      : `random: zero-mean uniform, std ${esc(formatSetting(p.routerStd))}`;
  const layerRows = Array.from({ length: p.numLayers }, (_, L) =>
    moe.has(L)
      ? `<tr class="moe" data-layer="${esc(formatId(L))}"><th scope="row">Layer ${esc(formatId(L))}</th><td>MoE: ${n(s.experts)} experts, top-${n(s.topK)}, router</td><td>${esc(layerSources(p, L))}</td></tr>`
      : `<tr class="dense" data-layer="${esc(formatId(L))}"><th scope="row">Layer ${esc(formatId(L))}</th><td>dense MLP (kept)</td><td class="muted">unchanged</td></tr>`,
  ).join('\n');
  const body = `${previewHeader(title, `${esc(p.source.modelType)} → ${esc(p.target)}: ${n(s.experts)} experts per MoE layer, top-${n(s.topK)}, ${esc(s.method)}`)}
<section class="summary">
<dl>
${row('Families', `${esc(p.source.modelType)} → ${esc(p.target)} (attention, norms, RoPE and embeddings copied byte for byte)`)}
${row('Method', `${esc(methodSentence(s.method, { ...s, partition: p.partition }))}; seed ${esc(formatId(s.seed))}`)}
${row('Experts', `${n(s.experts)} of intermediate size ${n(p.expertIntermediate)} in ${n(p.moeLayers.length)} MoE layer${p.moeLayers.length === 1 ? '' : 's'} (${ids(p.moeLayers)})${dense > 0 ? `; ${n(dense)} stay dense` : ''}`)}
${row('Routers', router)}
${row('Parameters', `<span class="num">${esc(formatParams(f.parameters.before))} → ${esc(formatParams(f.parameters.after))}</span> (${esc(formatChange(f.parameters.before, f.parameters.after))})`)}
${row('Active per token', `<span class="num">${esc(formatParams(f.parameters.activeBefore))} → ${esc(formatParams(f.parameters.activeAfter))}</span> (${esc(formatChange(f.parameters.activeBefore, f.parameters.activeAfter))})`)}
${row('Disk size (estimate)', `<span class="num">${esc(formatBytes(f.bytes.before))} → ${esc(formatBytes(f.bytes.after))}</span> of weights`)}
</dl>
<p class="${p.functionPreserving ? 'guarantee' : 'muted'}">${esc(functionSentence(p.functionPreserving))}</p>
</section>
<section><h2>Layers</h2>
<div class="scroll"><table class="layers"><thead><tr><th scope="col">Layer</th><th scope="col">Becomes</th><th scope="col">Expert sources</th></tr></thead><tbody>
${layerRows}
</tbody></table></div></section>`;
  return previewPage(title, body, nonce, opts.cspSource);
}

/** The page's header: its title, a line of HTML describing the plan, and the Write / Cancel buttons previewPage's script drives. */
export function previewHeader(title: string, descHtml: string): string {
  return `<header>
<h1>${esc(title)}</h1>
<p class="desc">${descHtml}</p>
<div class="actions">
<button type="button" class="primary" data-action="write">Write Checkpoint…</button>
<button type="button" class="secondary" data-action="cancel">Cancel</button>
</div>
</header>`;
}

/** A preview document with Write / Cancel buttons (data-action): the strict CSP, this style and the two-button script by nonce (also the add-experts preview's). */
export function previewPage(title: string, body: string, nonce: string, cspSource?: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${esc(previewCsp(nonce, cspSource))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${esc(title)}</title>
<style nonce="${esc(nonce)}">${STYLE}</style>
</head>
<body>
${body}
<script nonce="${esc(nonce)}">${SCRIPT}</script>
</body>
</html>
`;
}

const STYLE = `
:root { color-scheme: light dark; }
body { font-family: var(--vscode-font-family, system-ui, sans-serif); font-size: var(--vscode-font-size, 13px); color: var(--vscode-foreground, #222); background: var(--vscode-editor-background, #fff); margin: 0; padding: 0 20px 24px; }
header { position: sticky; top: 0; background: var(--vscode-editor-background, #fff); padding: 12px 0 8px; border-bottom: 1px solid var(--vscode-panel-border, #8884); }
h1 { font-size: 1.4em; margin: 0 0 4px; }
h2 { font-size: 1.15em; margin: 20px 0 6px; }
.desc { margin: 2px 0; font-weight: 600; }
.muted { color: var(--vscode-descriptionForeground, #666); }
.guarantee { font-weight: 600; border-left: 3px solid var(--vscode-charts-green, #388a34); padding-left: 8px; }
.actions { margin-top: 8px; display: flex; gap: 8px; }
button { font: inherit; cursor: pointer; padding: 4px 14px; border: 1px solid var(--vscode-button-border, transparent); border-radius: 2px; }
button.primary { background: var(--vscode-button-background, #0e639c); color: var(--vscode-button-foreground, #fff); }
button.primary:hover { background: var(--vscode-button-hoverBackground, #1177bb); }
button.secondary { background: var(--vscode-button-secondaryBackground, #5f6a79); color: var(--vscode-button-secondaryForeground, #fff); }
button:disabled { opacity: 0.5; cursor: default; }
button:focus-visible { outline: 1px solid var(--vscode-focusBorder, #007fd4); outline-offset: 2px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 10px 0; }
dt { font-weight: 600; }
dd { margin: 0; overflow-wrap: anywhere; }
.num { font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 4px 0 8px; }
th, td { text-align: left; padding: 2px 12px 2px 0; vertical-align: top; font-weight: normal; }
thead th { font-weight: 600; border-bottom: 1px solid var(--vscode-panel-border, #8884); }
tbody th { font-weight: 600; white-space: nowrap; }
code { font-family: var(--vscode-editor-font-family, monospace); }
`;
