// The shared report of a dense → MoE upcycling (issue #11 §1, §4): report.json (the figures) and report.html
// (one self-contained page: no scripts, no external files; the CSP allows only the nonce'd style block),
// written into the new checkpoint folder with it. Parameters before/after and active per token, disk size,
// method, routers, the measured logit difference to the dense model and where every expert came from.
// Every text is escaped and every number goes through formatNumbers, so a hostile report.json cannot put
// markup in the page. The figures are computed from tensor shapes only (no weights are read).
import type { UpcycleFigures } from '../protocol/engineProtocol';
import type { UpcycleRecord } from '../engine/upcycle/upcycleRecord';
import { makeNonce } from '../webviews/nonce';
import { formatBytes, formatChange, formatId, formatInteger, formatParams, formatPercent, formatScore } from './formatNumbers';
import { escapeHtml as esc, reportPage } from './reportHtml';

export const UPCYCLE_REPORT_FORMAT = 'moe-workbench.upcycle-report';

export interface UpcycleReportExperts {
  readonly layer: number;
  readonly experts: readonly { readonly expert: number; readonly from: string; readonly neurons?: number; readonly firstNeurons?: readonly number[]; readonly changedNeurons?: number }[];
  /** k-means router: tokens per expert under the new router on the data. */
  readonly clusterSizes?: readonly number[];
}

export interface UpcycleReport {
  readonly format: typeof UPCYCLE_REPORT_FORMAT;
  readonly version: 1;
  readonly createdAt: string;
  readonly source: { readonly dir: string; readonly sha256: string; readonly modelType: string };
  readonly output: { readonly dir: string; readonly modelType: string };
  readonly method: string;
  readonly seed: number;
  readonly settings: UpcycleRecord['settings'];
  readonly numLayers: number;
  readonly moeLayers: readonly number[];
  readonly figures: UpcycleFigures;
  readonly data?: { readonly files: readonly string[]; readonly sha256: string; readonly tokens: number };
  readonly functionPreserving: boolean;
  readonly evaluation?: { readonly sequences: number; readonly tokens: number; readonly maxAbsLogitDiff: number; readonly meanAbsLogitDiff: number; readonly top1Agreement: number };
  readonly experts: readonly UpcycleReportExperts[];
}

/** A setting as typed (0.02, not formatScore's 0.02000): at most 4 significant digits; only digits reach the page. */
export function formatSetting(v: number): string {
  return typeof v === 'number' && Number.isFinite(v) ? String(Number(v.toPrecision(4))) : 'n/a';
}

/** Neuron indices listed per split expert in the report (the record has them all). */
const LISTED_NEURONS = 12;

export interface Shaped {
  readonly shape: readonly number[];
}

export const parameterCount = (tensors: Iterable<Shaped>): number => {
  let n = 0;
  for (const t of tensors) n += t.shape.reduce((a, b) => a * b, 1);
  return n;
};

/** Parameters of the experts a token does not use: (E − K) experts of 3·H·I_e in every MoE layer. */
export function inactivePerToken(s: { readonly experts: number; readonly topK: number; readonly moeLayers: number; readonly hiddenSize: number; readonly expertIntermediate: number }): number {
  return (s.experts - s.topK) * 3 * s.hiddenSize * s.expertIntermediate * s.moeLayers;
}

/** The figures of an upcycling from both models' parameter counts and bytes; a dense model uses all its parameters. */
export function upcycleFigures(before: { readonly parameters: number; readonly bytes: number }, after: { readonly parameters: number; readonly bytes: number }, inactive: number): UpcycleFigures {
  return {
    parameters: { before: before.parameters, after: after.parameters, activeBefore: before.parameters, activeAfter: after.parameters - inactive },
    bytes: { before: before.bytes, after: after.bytes },
  };
}

/** The report of the record the engine wrote, with the figures of both checkpoints. */
export function upcycleReport(record: UpcycleRecord, outDir: string, numLayers: number, figures: UpcycleFigures): UpcycleReport {
  return {
    format: UPCYCLE_REPORT_FORMAT,
    version: 1,
    createdAt: record.createdAt,
    source: record.source,
    output: { dir: outDir, modelType: record.target.modelType },
    method: record.method,
    seed: record.seed,
    settings: record.settings,
    numLayers,
    moeLayers: record.layers.map((l) => l.layer),
    figures,
    ...(record.data ? { data: record.data } : {}),
    functionPreserving: record.functionPreserving,
    ...(record.evaluation ? { evaluation: record.evaluation } : {}),
    experts: record.layers.map((l) => ({
      layer: l.layer,
      experts: l.experts.map((e) => ({
        expert: e.expert,
        from: e.from,
        ...(e.neurons ? { neurons: e.neurons.length, firstNeurons: e.neurons.slice(0, LISTED_NEURONS) } : {}),
        ...(e.changedNeurons !== undefined ? { changedNeurons: e.changedNeurons } : {}),
      })),
      ...(l.router ? { clusterSizes: l.router.clusterSizes } : {}),
    })),
  };
}

/** One line on how the experts were made, e.g. "copy: every expert an exact copy of the dense MLP". */
export function methodSentence(method: string, s: { readonly ratio?: number | undefined; readonly noiseStd?: number | undefined; readonly dropMode?: string | undefined; readonly partition?: string | undefined; readonly experts: number }): string {
  switch (method) {
    case 'copy':
      return 'copy (sparse upcycling): every expert an exact copy of the dense MLP';
    case 'noise':
      return `noise: copies with N(0, ${formatSetting(s.noiseStd ?? NaN)}²) added to ${formatPercent(s.ratio ?? NaN)} of each expert's neurons`;
    case 'drop':
      return `drop (Drop-Upcycling): ${formatPercent(s.ratio ?? NaN)} of each expert's neurons re-drawn from the replaced slice's mean and std (${s.dropMode === 'reference-code' ? 'an index set per matrix, as the released code' : 'one index set per expert shared by gate, up and down, as the paper'})`;
    case 'split':
      return `split (LLaMA-MoE): the dense neurons partitioned into ${formatInteger(s.experts)} groups, ${s.partition === 'balanced-kmeans' ? 'by balanced k-means over their activations on the data' : 'at random'}`;
    default:
      return String(method);
  }
}

/** The function-preservation statement of copies, or what the other methods do to the function. */
export function functionSentence(functionPreserving: boolean): string {
  return functionPreserving
    ? 'With renormalised top-k every token computes the dense MLP: the result equals the dense model; the measured difference is in the report.'
    : 'This method changes the function by design (the experts differ from the dense MLP); the measured difference to the dense model is in the report.';
}

const row = (k: string, v: string): string => `<dt>${esc(k)}</dt><dd>${v}</dd>`;
const n = (x: number): string => esc(formatInteger(x));

function expertWhat(e: UpcycleReportExperts['experts'][number], method: string): string {
  if (e.neurons !== undefined) {
    const list = (e.firstNeurons ?? []).map((i) => esc(formatId(i))).join(', ');
    return `${n(e.neurons)} neurons: ${list}${(e.firstNeurons?.length ?? 0) < e.neurons ? ', …' : ''}`;
  }
  if (e.changedNeurons !== undefined) return method === 'noise' ? `copy, noise on ${n(e.changedNeurons)} neurons` : `copy, ${n(e.changedNeurons)} neurons re-drawn per matrix`;
  return 'exact copy';
}

export function upcycleReportHtml(r: UpcycleReport, opts: { readonly nonce?: string; readonly cspSource?: string } = {}): string {
  const nonce = opts.nonce ?? makeNonce();
  const f = r.figures;
  const s = r.settings;
  const ev = r.evaluation;
  const router =
    s.router === 'kmeans'
      ? `k-means: rows from spherical k-means centroids of each layer's MLP inputs${r.data ? ` on ${n(r.data.tokens)} data tokens (${r.data.files.map((x) => `<code>${esc(x)}</code>`).join(', ')})` : ''}, scaled to the random init's row norm`
      : `random: zero-mean uniform, std ${esc(formatSetting(s.routerStd ?? NaN))}`;
  const difference = ev
    ? `max |logit − dense logit| <strong>${esc(formatScore(ev.maxAbsLogitDiff))}</strong>, mean ${esc(formatScore(ev.meanAbsLogitDiff))}, top-1 agreement ${esc(formatPercent(ev.top1Agreement))} over ${n(ev.sequences)} sequences (${n(ev.tokens)} tokens)`
    : 'not measured';
  const dense = r.numLayers - r.moeLayers.length;
  const layers = r.experts
    .map((l) => {
      const rows = l.experts.map((e, i) => `<tr><td>${esc(formatId(e.expert))}</td><td><code>${esc(e.from)}</code></td><td>${expertWhat(e, r.method)}</td>${l.clusterSizes ? `<td>${n(l.clusterSizes[i] ?? NaN)}</td>` : ''}</tr>`).join('\n');
      return `<details open><summary>Layer ${esc(formatId(l.layer))} — ${n(l.experts.length)} experts</summary>
<table><thead><tr><th>Expert</th><th>From</th><th>Weights</th>${l.clusterSizes ? '<th>Data tokens routed</th>' : ''}</tr></thead><tbody>
${rows}
</tbody></table></details>`;
    })
    .join('\n');
  const body = `<h1>Upcycling report</h1>
<p class="muted">${esc(r.createdAt)} · <code>${esc(r.source.dir)}</code> (identity ${esc(String(r.source.sha256).slice(0, 12))}) → <code>${esc(r.output.dir)}</code></p>
<h2>Summary</h2>
<dl>
${row('Families', `${esc(r.source.modelType)} → ${esc(r.output.modelType)}`)}
${row('Method', `${esc(methodSentence(r.method, s))}; expert intermediate size ${n(s.expertIntermediateSize)}; seed ${esc(formatId(r.seed))}`)}
${row('Experts', `${n(s.experts)} per MoE layer, top-${n(s.topK)}; MoE layers ${r.moeLayers.map((L) => esc(formatId(L))).join(', ')}${dense > 0 ? ` (${n(dense)} layer${dense === 1 ? '' : 's'} stay dense)` : ''}`)}
${row('Routers', router)}
${row('Parameters', `${esc(formatParams(f.parameters.before))} → ${esc(formatParams(f.parameters.after))} (${esc(formatChange(f.parameters.before, f.parameters.after))}; ${n(f.parameters.before)} → ${n(f.parameters.after)})`)}
${row('Active per token', `${esc(formatParams(f.parameters.activeBefore))} → ${esc(formatParams(f.parameters.activeAfter))} (${esc(formatChange(f.parameters.activeBefore, f.parameters.activeAfter))})`)}
${row('Weights on disk', `${esc(formatBytes(f.bytes.before))} → ${esc(formatBytes(f.bytes.after))}`)}
${row('Difference to the dense model', difference)}
</dl>
<p class="${r.functionPreserving ? 'ok' : 'muted'}">${esc(functionSentence(r.functionPreserving))}${r.functionPreserving && ev ? ` Measured here: max |Δlogit| ${esc(formatScore(ev.maxAbsLogitDiff))}.` : ''}</p>
<h2>Expert sources</h2>
<p class="muted">Where each expert's weights came from (moe_workbench.json lists every neuron of a split).</p>
${layers}
${r.data ? `<p class="muted">Data: ${n(r.data.tokens)} tokens, sha256 ${esc(String(r.data.sha256).slice(0, 12))}.</p>` : ''}`;
  return reportPage('Upcycling report', body, '\n.ok { font-weight: 600; }\ndetails { margin: 6px 0; }\n', nonce, opts.cspSource);
}
