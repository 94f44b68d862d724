// The report of an expert operation (prune / merge) as plain text for the CLI: what was done and written,
// the before/after table, per layer the removed experts or merged groups, the impact on the calibration
// sample and on the document, and the notes. No ANSI colours. The figures and their formatting live here
// and are shared with reportHtml, so the two reports always show the same numbers.
import { STATISTIC_LABELS } from '../engine/experts/expertStatistics';
import type { EvalReport, ExpertStatistic, LayerPlan, OperationReport } from '../protocol/expertOps';

// ---- formatting shared with reportHtml ----

const DASH = '—';

/** Perplexity: 3 decimals below 1000, 2 above (random models have huge ones). */
export function formatPerplexity(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'n/a' : '∞';
  return Math.abs(v) < 1000 ? v.toFixed(3) : v.toFixed(2);
}

/** A share in [0, 1] as a percentage with one decimal, e.g. 0.9732 -> "97.3%". */
export function formatPercent(share: number): string {
  return Number.isFinite(share) ? `${(100 * share).toFixed(1)}%` : 'n/a';
}

/** The relative change from `before` to `after`, signed, e.g. "+4.21%", "-25.0%"; "—" when undefined. */
export function formatChange(before: number, after: number): string {
  if (!Number.isFinite(before) || !Number.isFinite(after) || before === 0) return DASH;
  const d = ((after - before) / Math.abs(before)) * 100;
  const a = Math.abs(d);
  if (a < 0.005) return '0%';
  return `${d > 0 ? '+' : '-'}${a < 10 ? a.toFixed(2) : a.toFixed(1)}%`;
}

/** KL divergence in nats: 4 decimals, scientific below 0.001. */
export function formatKl(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  return v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toFixed(4);
}

/** Bytes as decimal megabytes, e.g. "12.35 MB". */
export function formatMegabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(2)} MB`;
}

/** Parameter counts: 1.23B, 45.60M, 7.5K. */
export function formatParams(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

/** A saliency score of any scale: 4 significant digits, scientific when very large or small. */
export function formatScore(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e5 || a < 1e-3 ? v.toExponential(2) : v.toPrecision(4);
}

/** An ISO timestamp as "YYYY-MM-DD HH:MM UTC" (locale-independent); anything else as given. */
export function formatDate(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** Token text with its whitespace made visible, for table cells and tooltips: "·" space, "↵" newline, "⇥" tab. */
export function visibleToken(text: string): string {
  return text.replace(/ /g, '·').replace(/\r\n|\n/g, '↵').replace(/\r/g, '␍').replace(/\t/g, '⇥');
}

// ---- figures shared with reportHtml ----

/** One row of the before/after table, every cell already formatted. */
export interface Figure {
  readonly metric: string;
  readonly before: string;
  readonly after: string;
  readonly change: string;
}

/** The before/after table of an evaluation. Agreement and KL compare the two models, so have no "before". */
export function evaluationFigures(e: EvalReport): Figure[] {
  const b = e.baseline;
  const c = e.candidate;
  return [
    { metric: 'perplexity', before: formatPerplexity(b.perplexity), after: formatPerplexity(c.perplexity), change: formatChange(b.perplexity, c.perplexity) },
    { metric: 'top-1 agreement', before: DASH, after: formatPercent(e.top1Agreement), change: DASH },
    { metric: 'mean KL (nats)', before: DASH, after: formatKl(e.meanKl), change: DASH },
    { metric: 'size on disk', before: formatMegabytes(b.bytesOnDisk), after: formatMegabytes(c.bytesOnDisk), change: formatChange(b.bytesOnDisk, c.bytesOnDisk) },
    { metric: 'total parameters', before: formatParams(b.totalParams), after: formatParams(c.totalParams), change: formatChange(b.totalParams, c.totalParams) },
    { metric: 'active parameters', before: formatParams(b.activeParams), after: formatParams(c.activeParams), change: formatChange(b.activeParams, c.activeParams) },
    { metric: 'experts per layer', before: String(b.numExperts), after: String(c.numExperts), change: formatChange(b.numExperts, c.numExperts) },
  ];
}

/** What the evaluation ran on, e.g. "4,096 tokens in 4 chunks, 12.3 s". */
export function evaluationBasis(e: EvalReport): string {
  return `${e.tokens.toLocaleString('en-US')} tokens in ${e.chunks} chunk${e.chunks === 1 ? '' : 's'}, ${(e.runMs / 1000).toFixed(1)} s`;
}

/** What happened to one old expert of a layer. */
export type ExpertFate =
  | { readonly kind: 'kept'; readonly expert: number; readonly newId: number; /** Other old experts merged into it. */ readonly absorbed: number[] }
  | { readonly kind: 'merged'; readonly expert: number; readonly newId: number; /** The old expert whose router row the group kept. */ readonly into: number; /** Its share of the group's average. */ readonly weight: number }
  | { readonly kind: 'removed'; readonly expert: number };

/** Per old expert of the layer (index = old id): kept (as new id), merged into another, or removed. */
export function expertFates(l: LayerPlan): ExpertFate[] {
  const fates: ExpertFate[] = [];
  const removed = new Set(l.removed);
  for (let e = 0; e < l.numExperts; e++) {
    const j = removed.has(e) ? -1 : l.experts.findIndex((x) => (x.members ?? x.sources.map((s) => s.expert)).includes(e) || x.routerRow === e);
    const x = j >= 0 ? l.experts[j]! : undefined;
    if (!x) {
      fates.push({ kind: 'removed', expert: e });
    } else if (x.routerRow === e) {
      const members = x.members ?? x.sources.map((s) => s.expert);
      fates.push({ kind: 'kept', expert: e, newId: j, absorbed: members.filter((m) => m !== e) });
    } else {
      const total = x.sources.reduce((a, s) => a + s.weight, 0);
      const w = x.sources.find((s) => s.expert === e)?.weight ?? 0;
      fates.push({ kind: 'merged', expert: e, newId: j, into: x.routerRow, weight: total > 0 ? w / total : 0 });
    }
  }
  return fates;
}

/** One line per layer: "8 -> 6 experts; removed #2, #5" or "8 -> 4 experts; merged {#0, #3} -> #0, …". */
export function layerSummary(l: LayerPlan): string {
  const fates = expertFates(l);
  const removed = fates.filter((f) => f.kind === 'removed').map((f) => `#${f.expert}`);
  const groups = fates.flatMap((f) => (f.kind === 'kept' && f.absorbed.length > 0 ? [`{${[f.expert, ...f.absorbed].sort((a, b) => a - b).map((e) => `#${e}`).join(', ')}} -> #${f.expert}`] : []));
  const parts = [`${l.numExperts} -> ${l.experts.length} experts`];
  if (removed.length > 0) parts.push(`removed ${removed.join(', ')}`);
  if (groups.length > 0) parts.push(`merged ${groups.join(', ')}`);
  if (removed.length === 0 && groups.length === 0) parts.push('unchanged');
  return parts.join('; ');
}

/** A plan parameter value in words: expert refs as "layer:expert", objects as "key=value", [] as "none". */
export function formatParameter(v: unknown): string {
  if (Array.isArray(v)) return v.length === 0 ? 'none' : v.map(formatParameter).join(', ');
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.layer === 'number' && typeof o.expert === 'number' && Object.keys(o).length === 2) return `${o.layer}:${o.expert}`;
    return Object.entries(o)
      .map(([k, x]) => `${k}=${formatParameter(x)}`)
      .join(', ');
  }
  return String(v);
}

// ---- the text report ----

/** What the saliency scores are, in words (the statistic's name when it is unknown). */
export function statisticLabel(stat: ExpertStatistic): string {
  return STATISTIC_LABELS[stat] ?? String(stat);
}

/** Aligned columns; the last column is not padded. */
function table(rows: readonly (readonly string[])[], indent = ''): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => indent + r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd());
}

const MAX_LISTED = 20;

export function reportText(report: OperationReport): string {
  const { record, written, evaluation: ev, impact } = report;
  const out: string[] = [report.title, ''];
  out.push(
    ...table([
      ['created', formatDate(report.createdAt)],
      ['operation', `${record.plan.operation}: ${record.plan.description}`],
      ['source', record.source.dir],
      ['output', written.dir],
      ['written', `${written.files.length} file${written.files.length === 1 ? '' : 's'}, ${formatMegabytes(written.bytes)}`],
      ...(record.profile ? [['profile', `${record.profile.file} (${record.profile.tokens.toLocaleString('en-US')} tokens)`]] : []),
    ]),
  );

  out.push('');
  if (ev) {
    out.push(...table([['metric', 'before', 'after', 'change'], ...evaluationFigures(ev).map((f) => [f.metric, f.before, f.after, f.change])]));
    out.push(`evaluated on ${evaluationBasis(ev)}`);
  } else {
    out.push('not evaluated: no before/after comparison was run');
  }

  out.push('', `experts per layer (scores: ${statisticLabel(report.statistic)})`);
  out.push(...table(record.plan.layers.map((l) => [`layer ${l.layer}`, layerSummary(l)]), '  '));

  if (impact) {
    const share = impact.tokens > 0 ? ` (${formatPercent(impact.affectedTokens / impact.tokens)})` : '';
    out.push('', `impact on the calibration sample: ${impact.affectedTokens} of ${impact.tokens} tokens affected${share}`);
    if (impact.perLayer.length > 0) {
      out.push(
        ...table(
          [['layer', 'affected', 'share', 'gate mass lost/token'], ...impact.perLayer.map((p) => [String(p.layer), String(p.affected), impact.tokens > 0 ? formatPercent(p.affected / impact.tokens) : DASH, p.gateMassLost.toFixed(4)])],
          '  ',
        ),
      );
    }
    if (impact.worst.length > 0) {
      out.push('  most affected tokens:');
      out.push(...table([['#', 'token', 'mass lost', 'layers'], ...impact.worst.slice(0, MAX_LISTED).map((w) => [String(w.index), `"${visibleToken(w.text)}"`, w.massLost.toFixed(4), w.layers.join(', ')])], '    '));
    }
  }

  const doc = ev?.document;
  if (doc) {
    out.push('', `document: ${doc.tokens} tokens, next-token prediction changed at ${doc.changedPredictions} (${formatPercent(doc.tokens > 0 ? doc.changedPredictions / doc.tokens : 0)})`);
    if (doc.routingChanged.length > 0) out.push(`  routing changed: ${doc.routingChanged.map((r) => `layer ${r.layer} ${formatPercent(r.share)}`).join(', ')}`);
    const changed = doc.perToken.filter((t) => t.before !== t.after);
    if (changed.length > 0) {
      out.push(...table([['#', 'token', 'before', 'after', 'KL'], ...changed.slice(0, MAX_LISTED).map((t) => [String(t.index), `"${visibleToken(t.text)}"`, `"${visibleToken(t.before)}"`, `"${visibleToken(t.after)}"`, formatKl(t.kl)])], '  '));
      if (changed.length > MAX_LISTED) out.push(`  … and ${changed.length - MAX_LISTED} more`);
    }
  }

  if (report.notes.length > 0) out.push('', 'notes:', ...report.notes.map((n) => `  - ${n}`));
  out.push('', 'parameters:', ...table(Object.entries(record.plan.parameters).map(([k, v]) => [k, formatParameter(v)]), '  '));
  return out.join('\n') + '\n';
}
