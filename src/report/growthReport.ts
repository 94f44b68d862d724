// The "Growth" section of a fine-tuning report (issue #11 §3, §4): when the fine-tuned model was grown
// (its moe_workbench.json, or a record it carries as `previous`, is an upcycle or add-experts record), the
// report shows before/after: the function difference the grow operation measured at creation, held-out
// perplexity, expert load balance per MoE layer (CV, MaxVio) and how specialised each new expert became
// (its share of the held-out top-k assignments, its relative weight distance to its source). Every text is
// escaped and every number goes through formatNumbers (a hostile report.json cannot put markup in the page).
import { formatFixed, formatId, formatInteger, formatPercent, formatPerplexity, formatScore } from './formatNumbers';
import { escapeHtml as esc } from './reportHtml';

export interface GrowthBalanceSide {
  /** Coefficient of variation of the per-expert load (population std / mean). */
  readonly cv: number;
  /** (max load − n·K/E) / (n·K/E). */
  readonly maxVio: number;
}

export interface GrowthExpert {
  readonly layer: number;
  readonly expert: number;
  /** What the expert was made from: "expert 3" (add-experts), "cold", or the dense MLP "model.layers.0.mlp" (upcycle). */
  readonly from: string;
  /** Share of the layer's held-out top-k assignments (load / (tokens · K)), before and after training. */
  readonly share?: { readonly before: number; readonly after: number };
  /** add-experts from an existing expert: that source expert's share, before and after. */
  readonly sourceShare?: { readonly before: number; readonly after: number };
  /**
   * ‖W − W_ref‖ / ‖W_ref‖ over gate, up and down, before (as created) and after training. W_ref: the source
   * expert as the grown model holds it (add-experts); the expert as created (upcycle, cold experts), so
   * `before` is 0 there.
   */
  readonly weightChange: { readonly reference: 'source expert' | 'as created'; readonly before: number; readonly after: number };
}

export interface FinetuneGrowth {
  readonly operation: 'upcycle' | 'add-experts';
  readonly method: string;
  /** The model the grow operation started from (the dense model, or the MoE experts were added to). */
  readonly source: { readonly dir: string; readonly sha256: string };
  /** The grow operation's measured logit difference to its source at creation (upcycleEval.ts); absent if it ran with --no-eval. */
  readonly creation?: { readonly maxAbsLogitDiff: number; readonly meanAbsLogitDiff: number; readonly top1Agreement: number; readonly sequences: number; readonly tokens: number };
  /** The grow operation's statement on the function (copies with renormalised top-k, the add-experts rule). */
  readonly functionRule: string;
  /** Held-out perplexity exp(mean next-token loss), before and after (absent with --no-eval). */
  readonly perplexity?: { readonly before: number; readonly after: number };
  /** Held-out tokens the balance and shares count (every position of the held-out sequences with a target). */
  readonly heldOutTokens: number;
  readonly balance: readonly { readonly layer: number; readonly experts: number; readonly topK: number; readonly before: GrowthBalanceSide; readonly after: GrowthBalanceSide }[];
  readonly experts: readonly GrowthExpert[];
}

const pair = (x: { before: number; after: number } | undefined, f: (v: number) => string): string => (x ? `${esc(f(x.before))} → ${esc(f(x.after))}` : '<span class="muted">n/a</span>');

/** The section's HTML (an h2 and its content). */
export function growthSectionHtml(g: FinetuneGrowth): string {
  const what = g.operation === 'upcycle' ? 'upcycled from the dense model' : 'grown by add-experts from';
  const c = g.creation;
  const creation = c
    ? `max |logit − source logit| <strong>${esc(formatScore(c.maxAbsLogitDiff))}</strong>, mean ${esc(formatScore(c.meanAbsLogitDiff))}, top-1 agreement ${esc(formatPercent(c.top1Agreement))} over ${esc(formatInteger(c.sequences))} sequences (${esc(formatInteger(c.tokens))} tokens), measured when the model was written`
    : 'not measured (the grow operation ran with --no-eval)';
  const balance = g.balance
    .map((b) => `<tr><td>${esc(formatId(b.layer))}</td><td>${esc(formatInteger(b.experts))}, top-${esc(formatInteger(b.topK))}</td><td>${pair({ before: b.before.cv, after: b.after.cv }, (v) => formatFixed(v, 4))}</td><td>${pair({ before: b.before.maxVio, after: b.after.maxVio }, (v) => formatFixed(v, 4))}</td></tr>`)
    .join('\n');
  const experts = g.experts
    .map((e) => `<tr><td>${esc(formatId(e.layer))}</td><td>${esc(formatId(e.expert))}</td><td><code>${esc(e.from)}</code></td><td>${pair(e.share, formatPercent)}</td><td>${pair(e.sourceShare, formatPercent)}</td><td>${esc(e.weightChange.reference)}</td><td>${pair(e.weightChange, formatScore)}</td></tr>`)
    .join('\n');
  return `<h2>Growth</h2>
<p class="muted">This model was ${esc(what)} <code>${esc(g.source.dir)}</code> (identity ${esc(String(g.source.sha256).slice(0, 12))}, method ${esc(g.method)}); before = the model as it was loaded for this run, after = the fine-tuned model.</p>
<dl>
<dt>Difference to the source at creation</dt><dd>${creation}</dd>
<dt>Function</dt><dd>${esc(g.functionRule)}</dd>
<dt>Held-out perplexity</dt><dd>${g.perplexity ? pair(g.perplexity, formatPerplexity) : 'not measured (--no-eval)'}</dd>
<dt>Held-out tokens counted</dt><dd>${esc(formatInteger(g.heldOutTokens))}</dd>
</dl>
<h3>Expert load balance on the held-out tokens</h3>
<p class="muted">Load n_e: held-out tokens with expert e in their top-k. CV = std(n) / mean(n) over the layer's E experts; MaxVio = (max n_e − n̄) / n̄ with n̄ = tokens · K / E. 0 = perfectly balanced.</p>
${g.balance.length === 0 ? '<p class="muted">No held-out data.</p>' : `<table><thead><tr><th>Layer</th><th>Experts</th><th>CV</th><th>MaxVio</th></tr></thead><tbody>\n${balance}\n</tbody></table>`}
<h3>Specialisation of the new experts</h3>
<p class="muted">Share: the expert's part of the layer's held-out top-k assignments, n_e / (tokens · K), summing to 100% over the layer's experts (an even split gives each 1/E). Source share: the same for the expert it was copied from (copies with copied router rows start tied with it). Weight distance: ‖W − W_ref‖ / ‖W_ref‖ over gate, up and down, before and after training; W_ref is the source expert as the grown model holds it, or for upcycled and cold experts the expert as created (so 0 before training). A drop-initialised expert's neurons are permuted, which the distance to its source includes.</p>
${g.experts.length === 0 ? '<p class="muted">No new experts.</p>' : `<table><thead><tr><th>Layer</th><th>Expert</th><th>From</th><th>Share</th><th>Source share</th><th>Distance to</th><th>Weight distance</th></tr></thead><tbody>\n${experts}\n</tbody></table>`}`;
}

/** Throws naming the first field finetuneReportPage must not draw (a report.json anyone may hand over). */
export function checkGrowth(v: unknown): void {
  const g = v as FinetuneGrowth;
  if (typeof v !== 'object' || v === null) throw new Error('growth is not an object');
  if (!Array.isArray(g.balance) || !Array.isArray(g.experts)) throw new Error('growth.balance / growth.experts are not lists');
  if (typeof g.source !== 'object' || g.source === null) throw new Error('growth.source is not an object');
  for (const [i, e] of g.experts.entries()) if (typeof e !== 'object' || e === null || typeof e.weightChange !== 'object' || e.weightChange === null) throw new Error(`growth.experts[${i}].weightChange is not an object`);
  for (const [i, b] of g.balance.entries()) if (typeof b !== 'object' || b === null || typeof b.before !== 'object' || b.before === null || typeof b.after !== 'object' || b.after === null) throw new Error(`growth.balance[${i}] has no before/after`);
}
