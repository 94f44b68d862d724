// The report of an expert operation (prune / merge) as plain text for the CLI: what was done and written,
// the before/after table, per layer the removed experts or merged groups, the impact on the calibration
// sample and on the document, and the notes. No ANSI colours. The figures live here and are shared with
// reportHtml, so the two reports always show the same numbers; numbers are formatted by formatNumbers.
import { STATISTIC_LABELS } from '../engine/experts/expertStatistics';
import type { AffectedToken, EvalReport, ExpertPlan, ExpertStatistic, LayerPlan, OperationReport } from '../protocol/expertOps';
import { formatBytes, formatChange, formatFixed, formatId, formatIds, formatInteger, formatKl, formatParams, formatPercent, formatPerplexity, formatSeconds, formatShare } from './formatNumbers';

// ---- formatting shared with reportHtml (numbers: formatNumbers.ts) ----

const DASH = '—';

/** An ISO timestamp as "YYYY-MM-DD HH:MM UTC" (locale-independent); anything else as given. */
export function formatDate(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** Token text with its whitespace made visible, for table cells and tooltips: "·" space, "↵" newline, "⇥" tab. */
export function visibleToken(text: string): string {
  return String(text).replace(/ /g, '·').replace(/\r\n|\n/g, '↵').replace(/\r/g, '␍').replace(/\t/g, '⇥');
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
    { metric: 'size on disk', before: formatBytes(b.bytesOnDisk), after: formatBytes(c.bytesOnDisk), change: formatChange(b.bytesOnDisk, c.bytesOnDisk) },
    { metric: 'total parameters', before: formatParams(b.totalParams), after: formatParams(c.totalParams), change: formatChange(b.totalParams, c.totalParams) },
    { metric: 'active parameters', before: formatParams(b.activeParams), after: formatParams(c.activeParams), change: formatChange(b.activeParams, c.activeParams) },
    { metric: 'experts per layer', before: formatInteger(b.numExperts), after: formatInteger(c.numExperts), change: formatChange(b.numExperts, c.numExperts) },
  ];
}

/** What the evaluation ran on, e.g. "4,096 tokens in 4 chunks, 12.3 s". */
export function evaluationBasis(e: EvalReport): string {
  return `${formatInteger(e.tokens)} tokens in ${formatInteger(e.chunks)} chunk${e.chunks === 1 ? '' : 's'}, ${formatSeconds(e.runMs)}`;
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
  const removed = fates.filter((f) => f.kind === 'removed').map((f) => `#${formatId(f.expert)}`);
  const groups = fates.flatMap((f) => (f.kind === 'kept' && f.absorbed.length > 0 ? [`{${[f.expert, ...f.absorbed].sort((a, b) => a - b).map((e) => `#${formatId(e)}`).join(', ')}} -> #${formatId(f.expert)}`] : []));
  const parts = [`${formatInteger(l.numExperts)} -> ${formatInteger(l.experts.length)} experts`];
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

/**
 * What the impact figure measures, by operation: the applied gate weight tokens gave to the experts that
 * change. A prune removes them (the router renormalises over the rest); a merge folds them into another
 * expert, so nothing is lost there: the weight now reaches the merged expert.
 */
export function impactMeasure(operation: ExpertPlan['operation']): string {
  return operation === 'merge' ? 'gate weight on merged experts' : 'gate weight on removed experts';
}

/** Where an affected token is, e.g. "a.txt, line 12" ("line 12" without a document name; "" when unknown). */
export function tokenWhere(w: AffectedToken): string {
  const line = typeof w.line === 'number' ? `line ${formatInteger(w.line)}` : '';
  return typeof w.document === 'string' ? (line ? `${w.document}, ${line}` : w.document) : line;
}

/** The token between its context, whitespace visible, e.g. `…of·the[↵]def·f(x)…`. */
export function tokenInContext(w: AffectedToken): string {
  const before = typeof w.before === 'string' ? w.before : '';
  const after = typeof w.after === 'string' ? w.after : '';
  return `${before ? '…' : ''}${visibleToken(before)}[${visibleToken(w.text)}]${visibleToken(after)}${after ? '…' : ''}`;
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
      ['written', `${formatInteger(written.files.length)} file${written.files.length === 1 ? '' : 's'}, ${formatBytes(written.bytes)}`],
      ...(record.profile ? [['profile', `${record.profile.file} (${formatInteger(record.profile.tokens)} tokens${record.profile.originalFile && record.profile.originalFile !== record.profile.file ? `, a copy of ${record.profile.originalFile}` : ''})`]] : []),
      ...((record.skippedFiles ?? []).length > 0 ? [['not copied', (record.skippedFiles ?? []).map((f) => `${f.name} (${f.reason})`).join(', ')]] : []),
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
    const measure = impactMeasure(record.plan.operation);
    out.push('', `impact on the calibration sample: ${formatInteger(impact.affectedTokens)} of ${formatInteger(impact.tokens)} tokens affected${impact.tokens > 0 ? ` (${formatShare(impact.affectedTokens, impact.tokens)})` : ''}`);
    if (impact.perLayer.length > 0) {
      out.push(
        ...table(
          [['layer', 'affected', 'share', `${measure} per token`], ...impact.perLayer.map((p) => [formatId(p.layer), formatInteger(p.affected), formatShare(p.affected, impact.tokens), formatFixed(p.gateMassLost, 4)])],
          '  ',
        ),
      );
    }
    if (impact.worst.length > 0) {
      out.push('  most affected tokens:');
      out.push(...table([['#', 'where', 'token in context', measure, 'layers'], ...impact.worst.slice(0, MAX_LISTED).map((w) => [formatId(w.index), tokenWhere(w), tokenInContext(w), formatFixed(w.massLost, 4), formatIds(w.layers)])], '    '));
    }
  }

  const doc = ev?.document;
  if (doc) {
    out.push('', `document: ${formatInteger(doc.tokens)} tokens, next-token prediction changed at ${formatInteger(doc.changedPredictions)} (${formatPercent(doc.tokens > 0 ? doc.changedPredictions / doc.tokens : 0)})`);
    if (doc.routingChanged.length > 0) out.push(`  routing changed: ${doc.routingChanged.map((r) => `layer ${formatId(r.layer)} ${formatPercent(r.share)}`).join(', ')}`);
    const changed = doc.perToken.filter((t) => t.before !== t.after);
    if (changed.length > 0) {
      out.push(...table([['#', 'token', 'before', 'after', 'KL'], ...changed.slice(0, MAX_LISTED).map((t) => [formatId(t.index), `"${visibleToken(t.text)}"`, `"${visibleToken(t.before)}"`, `"${visibleToken(t.after)}"`, formatKl(t.kl)])], '  '));
      if (changed.length > MAX_LISTED) out.push(`  … and ${formatInteger(changed.length - MAX_LISTED)} more`);
    }
  }

  if (report.notes.length > 0) out.push('', 'notes:', ...report.notes.map((n) => `  - ${n}`));
  out.push('', 'parameters:', ...table(Object.entries(record.plan.parameters).map(([k, v]) => [k, formatParameter(v)]), '  '));
  return out.join('\n') + '\n';
}
