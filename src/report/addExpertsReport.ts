// The shared report of adding experts to an MoE (issue #11 §2, §4): report.json (the figures) and report.html
// (one self-contained page: no scripts, no external files; the CSP allows only the nonce'd style block),
// written into the grown checkpoint folder with it. The plan (count, source rule, method, router rows, seed),
// the source of every new expert per layer, parameters before/after and active per token, disk size, the
// function rule and the measured logit difference to the source model. Every text is escaped and every number
// goes through formatNumbers, so a hostile report.json cannot put markup in the page.
import type { AddExpertsRecord } from '../engine/grow/addExpertsRecord';
import type { GrowFigures } from '../protocol/growProtocol';
import { addedText } from '../webviews/growPreview/addExpertsPreviewHtml';
import { makeNonce } from '../webviews/nonce';
import { formatBytes, formatChange, formatId, formatInteger, formatParams, formatPercent, formatScore } from './formatNumbers';
import { escapeHtml as esc, reportPage } from './reportHtml';
import { formatSetting } from './upcycleReport';

export const ADD_EXPERTS_REPORT_FORMAT = 'moe-workbench.add-experts-report';

export interface AddExpertsReport {
  readonly format: typeof ADD_EXPERTS_REPORT_FORMAT;
  readonly version: 1;
  readonly createdAt: string;
  readonly source: AddExpertsRecord['source'];
  readonly output: { readonly dir: string };
  readonly method: AddExpertsRecord['method'];
  readonly seed: number;
  readonly settings: AddExpertsRecord['settings'];
  readonly numLayers: number;
  readonly moeLayers: readonly number[];
  /** noise / drop: neurons changed per new expert and matrix; the experts' intermediate size. */
  readonly changedNeurons: number;
  readonly intermediate: number;
  readonly figures: GrowFigures;
  readonly data?: AddExpertsRecord['data'];
  readonly profile?: AddExpertsRecord['profile'];
  readonly domain?: AddExpertsRecord['domain'];
  readonly functionPreservation: AddExpertsRecord['functionPreservation'];
  readonly evaluation?: AddExpertsRecord['evaluation'];
  readonly layers: AddExpertsRecord['layers'];
}

/** The report of the record the engine wrote, with both checkpoints' figures. */
export function addExpertsReport(record: AddExpertsRecord, outDir: string, numLayers: number, plan: { readonly changedNeurons: number; readonly intermediate: number }, figures: GrowFigures): AddExpertsReport {
  return {
    format: ADD_EXPERTS_REPORT_FORMAT,
    version: 1,
    createdAt: record.createdAt,
    source: record.source,
    output: { dir: outDir },
    method: record.method,
    seed: record.seed,
    settings: record.settings,
    numLayers,
    moeLayers: record.layers.map((l) => l.layer),
    changedNeurons: plan.changedNeurons,
    intermediate: plan.intermediate,
    figures,
    ...(record.data ? { data: record.data } : {}),
    ...(record.profile ? { profile: record.profile } : {}),
    ...(record.domain ? { domain: record.domain } : {}),
    functionPreservation: record.functionPreservation,
    ...(record.evaluation ? { evaluation: record.evaluation } : {}),
    layers: record.layers,
  };
}

const n = (x: number): string => esc(formatInteger(x));
const row = (k: string, v: string): string => `<dt>${esc(k)}</dt><dd>${v}</dd>`;

function sourcesHtml(r: AddExpertsReport): string {
  const on = r.profile ? ` of the profile <code>${esc(r.profile.file)}</code>` : r.data ? ` on ${n(r.data.tokens)} data tokens` : '';
  switch (r.settings.from) {
    case 'hot':
      return `hot: each layer's most-used experts${on}`;
    case 'cold':
      return "cold: each matrix drawn from a normal with the mean and std of that matrix over the layer's existing experts";
    case 'list':
      return 'the listed experts';
    case 'list+hot':
      return `the listed experts; the layers the list leaves out their most-used experts${on} (one expert count for all layers)`;
    default:
      return esc(String(r.settings.from));
  }
}

function methodHtml(r: AddExpertsReport): string {
  const s = r.settings;
  if (s.from === 'cold') return 'cold (no source expert)';
  switch (r.method) {
    case 'copy':
      return 'copy: byte copies of their sources';
    case 'noise':
      return `noise: copies with N(0, ${esc(formatSetting(s.noiseStd ?? NaN))}²) on ${n(r.changedNeurons)} of ${n(r.intermediate)} neurons each`;
    case 'drop':
      return `drop: copies with ${n(r.changedNeurons)} of ${n(r.intermediate)} neurons re-drawn each (${s.dropMode === 'reference-code' ? 'an index set per matrix' : 'one index set per expert'})`;
    default:
      return esc(String(r.method));
  }
}

function routerHtml(r: AddExpertsReport): string {
  switch (r.settings.router) {
    case 'copy':
      return "copy: each new row its source's row";
    case 'random':
      return `random: zero-mean uniform, std ${esc(formatSetting(r.settings.routerStd ?? NaN))}`;
    case 'domain':
      return `domain: the mean router input of ${r.domain ? n(r.domain.tokens) : 'the'} data tokens${r.data ? ` (${r.data.files.map((f) => `<code>${esc(f)}</code>`).join(', ')})` : ''}, at the layer's mean row norm`;
    default:
      return esc(String(r.settings.router));
  }
}

export function addExpertsReportHtml(r: AddExpertsReport, opts: { readonly nonce?: string; readonly cspSource?: string } = {}): string {
  const nonce = opts.nonce ?? makeNonce();
  const s = r.settings;
  const f = r.figures;
  const ev = r.evaluation;
  const difference = ev
    ? `max |logit − source logit| <strong>${esc(formatScore(ev.maxAbsLogitDiff))}</strong>, mean ${esc(formatScore(ev.meanAbsLogitDiff))}, top-1 agreement ${esc(formatPercent(ev.top1Agreement))} over ${n(ev.sequences)} seeded sequences (${n(ev.tokens)} tokens)`
    : 'not measured (--no-eval)';
  const layers = r.layers
    .map((l) => {
      const rows = l.added
        .map((a) => `<tr><td>${esc(formatId(a.expert))}</td><td>${a.from === null ? 'cold' : esc(formatId(a.from))}</td><td>${esc(String(a.rule))}</td><td>${esc(addedText(a))}</td><td>${a.sourceTokens !== undefined ? `${n(a.sourceTokens)}${l.tokens !== undefined ? ` of ${n(l.tokens)}` : ''}` : ''}</td></tr>`)
        .join('\n');
      return `<details open><summary>Layer ${esc(formatId(l.layer))} — ${n(l.added.length)} new</summary>
<table><thead><tr><th>New expert</th><th>Source</th><th>Rule</th><th>Made as</th><th>Tokens routed to the source</th></tr></thead><tbody>
${rows}
</tbody></table></details>`;
    })
    .join('\n');
  const last = s.numExpertsAfter - 1;
  const body = `<h1>Add experts report</h1>
<p class="muted">${esc(r.createdAt)} · <code>${esc(r.source.dir)}</code> (identity ${esc(String(r.source.sha256).slice(0, 12))}) → <code>${esc(r.output.dir)}</code></p>
<h2>Plan</h2>
<dl>
${row('Model', `${esc(r.source.modelType)}: ${n(s.numExpertsBefore)} → ${n(s.numExpertsAfter)} experts in each of ${n(r.moeLayers.length)} MoE layer${r.moeLayers.length === 1 ? '' : 's'} (of ${n(r.numLayers)}), top-${n(s.topK)}${s.renormalize ? ', renormalised' : ''}`)}
${row('New experts', `${n(s.count)} per MoE layer, ids ${esc(formatId(s.numExpertsBefore))}${s.count > 1 ? `–${esc(formatId(last))}` : ''}; the old experts and router rows stay bit-identical at their ids`)}
${row('Sources', sourcesHtml(r))}
${row('Method', `${methodHtml(r)}; seed ${esc(formatId(r.seed))}`)}
${row('Router rows', routerHtml(r))}
${row('Parameters', `${esc(formatParams(f.parameters.before))} → ${esc(formatParams(f.parameters.after))} (${esc(formatChange(f.parameters.before, f.parameters.after))}; ${n(f.parameters.before)} → ${n(f.parameters.after)})`)}
${row('Active per token', `${esc(formatParams(f.parameters.activeBefore))} → ${esc(formatParams(f.parameters.activeAfter))} (${esc(formatChange(f.parameters.activeBefore, f.parameters.activeAfter))})`)}
${row('On disk', `${esc(formatBytes(f.bytes.before))} → ${esc(formatBytes(f.bytes.after))}`)}
${row('Difference to the source model', difference)}
</dl>
<p class="${r.functionPreservation.exact ? 'ok' : 'muted'}">Function: ${esc(r.functionPreservation.rule)}.</p>
<h2>Sources of the new experts</h2>
${layers}
${r.data ? `<p class="muted">Data: ${n(r.data.tokens)} tokens, sha256 ${esc(String(r.data.sha256).slice(0, 12))}.</p>` : ''}`;
  return reportPage('Add experts report', body, '\n.ok { font-weight: 600; }\ndetails { margin: 6px 0; }\n', nonce, opts.cspSource);
}
