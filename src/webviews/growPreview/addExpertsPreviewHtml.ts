// The preview of adding experts to an MoE (Add Experts…), rendered on the host as one HTML document: the expert
// count before → after (new ids), where every new expert of every MoE layer comes from, the method and router
// rows, parameters (total, active per token) and disk size before → after, and what the new experts do to the
// function. The upcycling preview's strict CSP, style and two-button script (nothing loads; the nonce on the
// one <style> and <script>). Every text is escaped, every number formatted by formatNumbers. No vscode import.
import type { AddExpertsPreview, GrowAddedExpert } from '../../protocol/growProtocol';
import { formatBytes, formatChange, formatId, formatInteger, formatParams } from '../../report/formatNumbers';
import { escapeHtml as esc } from '../../report/reportHtml';
import { formatSetting } from '../../report/upcycleReport';
import { makeNonce } from '../nonce';
import { previewHeader, previewPage } from '../upcyclePreview/upcyclePreviewHtml';

const n = (x: number): string => esc(formatInteger(x));

/** One new expert and its source, e.g. "8 ← 3 (most used: 1,204 tokens)". */
export function addedText(a: GrowAddedExpert): string {
  if (a.from === null) return `${formatId(a.expert)} ← cold (drawn from the layer's statistics)`;
  const why = a.rule === 'hot' ? ` (most used${a.sourceTokens !== undefined ? `: ${formatInteger(a.sourceTokens)} tokens` : ''})` : ' (chosen)';
  return `${formatId(a.expert)} ← ${formatId(a.from)}${why}`;
}

export function sourcesSentence(p: AddExpertsPreview): string {
  const s = p.settings;
  const profile = s.profileFile ? ' of the profile' : '';
  switch (s.from) {
    case 'hot':
      return `each layer's most-used experts${profile}`;
    case 'cold':
      return "cold: each matrix drawn from a normal with the mean and std of that matrix over the layer's experts";
    case 'list':
      return 'the listed experts';
    case 'list+hot':
      return `the chosen experts; the other layers their most-used experts${profile} (one expert count for all layers)`;
  }
}

export function methodText(p: AddExpertsPreview): string {
  const s = p.settings;
  if (s.from === 'cold') return 'cold (no source expert)';
  switch (s.method) {
    case 'copy':
      return 'copy: byte copies of their sources';
    case 'noise':
      return `noise: copies with N(0, ${formatSetting(s.noiseStd)}²) on ${formatInteger(p.changedNeurons)} of ${formatInteger(p.intermediate)} neurons each`;
    case 'drop':
      return `drop: copies with ${formatInteger(p.changedNeurons)} of ${formatInteger(p.intermediate)} neurons re-drawn each (${s.dropMode})`;
  }
}

export function routerText(p: AddExpertsPreview): string {
  switch (p.settings.router) {
    case 'copy':
      return "copy: each new row its source's row";
    case 'random':
      return 'random: zero-mean uniform, std 0.02';
    case 'domain':
      return `domain: the mean router input of ${p.settings.data.map((d) => `<code>${esc(d)}</code>`).join(', ')}, at the layer's mean row norm`;
  }
}

const row = (k: string, v: string): string => `<dt>${esc(k)}</dt><dd>${v}</dd>`;

export function addExpertsPreviewHtml(p: AddExpertsPreview, opts: { nonce?: string; cspSource?: string } = {}): string {
  const nonce = opts.nonce ?? makeNonce();
  const s = p.settings;
  const title = `Add experts preview: ${p.source.name}`;
  const last = p.newExperts - 1;
  const layerRows = p.layers
    .map((l) => `<tr class="grow" data-layer="${esc(formatId(l.layer))}"><th scope="row">Layer ${esc(formatId(l.layer))}</th><td>${l.added.map((a) => `<span class="added">${esc(addedText(a))}</span>`).join('<br>')}</td></tr>`)
    .join('\n');
  const body = `${previewHeader(title, `${esc(p.source.modelType)}: ${n(p.oldExperts)} → ${n(p.newExperts)} experts in each of ${n(p.moeLayers.length)} MoE layer${p.moeLayers.length === 1 ? '' : 's'}, top-${n(p.topK)}`)}
<section class="summary">
<dl>
${row('New experts', `${n(s.count)} per MoE layer, ids ${esc(formatId(p.oldExperts))}${s.count > 1 ? `–${esc(formatId(last))}` : ''}; the old experts and router rows stay bit-identical`)}
${row('Sources', esc(sourcesSentence(p)))}
${row('Method', `${esc(methodText(p))}; seed ${esc(formatId(s.seed))}`)}
${row('Router rows', routerText(p))}
${row('Parameters', `<span class="num">${esc(formatParams(p.parameters.before))} → ${esc(formatParams(p.parameters.after))}</span> (${esc(formatChange(p.parameters.before, p.parameters.after))})`)}
${row('Active per token', `<span class="num">${esc(formatParams(p.parameters.activeBefore))} → ${esc(formatParams(p.parameters.activeAfter))}</span> (${esc(formatChange(p.parameters.activeBefore, p.parameters.activeAfter))})`)}
${row('Disk size (estimate)', `<span class="num">${esc(formatBytes(p.bytes.before))} → ${esc(formatBytes(p.bytes.after))}</span> of weights`)}
</dl>
<p class="${p.functionPreservation.exact ? 'guarantee' : 'muted'}">Function: ${esc(p.functionPreservation.rule)}.</p>
</section>
<section><h2>New experts per layer</h2>
<div class="scroll"><table class="layers"><thead><tr><th scope="col">Layer</th><th scope="col">New expert ← source</th></tr></thead><tbody>
${layerRows}
</tbody></table></div></section>`;
  return previewPage(title, body, nonce, opts.cspSource);
}
