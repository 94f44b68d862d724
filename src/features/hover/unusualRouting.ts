// Which of a token's routing decisions are unusual enough to mark in the hover, and against what. A mark
// needs evidence: on a short document almost every second choice is below its fair share by chance, so an
// expert is "rare" only when enough tokens were counted (the loaded profile's, else the document's) and its
// count is far below the balanced share, and an entropy is "high" only against the document's own
// distribution. Pure; every mark says what it compared against.
import * as path from 'node:path';
import type { LayerProfile } from '../../protocol/expertOps';
import type { DocLayerRouting, DocumentRouting } from '../annotation/documentRouting';
import { codeSpan } from './markdownText';

/** An expert is rare when at most this share of its balanced load N·k/E was routed to it (half is ordinary imbalance)… */
export const LOW_LOAD = 0.25;
/** …the balanced load N·k/E is at least this (fewer tokens cannot show a shortfall)… */
export const MIN_EXPECTED = 20;
/** …and a binomial test (Chernoff bound) rejects "balanced" at this level. */
export const SIGNIFICANCE = 1e-3;
/** Entropy is high when above this share of ln E and above this percentile of the document's tokens. */
export const HIGH_ENTROPY = 0.85;
export const ENTROPY_PERCENTILE = 0.95;
/** Fewer tokens than this have too short a tail (5 tokens at the 95th percentile) to call one of them unusual. */
export const MIN_TOKENS_FOR_PERCENTILE = 100;

/** The loaded profile (ActiveProfile of the ProfileStore fits), the better evidence for expert frequency. */
export interface RoutingBaseline {
  readonly file: string;
  readonly profile: { readonly layers: readonly LayerProfile[] };
}

export interface RoutingMark {
  /** A few words for the table cell. */
  readonly short: string;
  /** Markdown: what was compared against what. */
  readonly detail: string;
}

/** 0.004 → "0.4%", 0.125 → "12.5%", 0.25 → "25%". */
const percent = (x: number): string => `${(100 * x).toFixed(1).replace(/\.0$/, '')}%`;
const count = (n: number): string => String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** Kullback–Leibler divergence of Bernoulli(q) from Bernoulli(p), in nats. */
function bernoulliKl(q: number, p: number): number {
  const term = (a: number, b: number): number => (a > 0 ? a * Math.log(a / b) : 0);
  return term(q, p) + term(1 - q, 1 - p);
}

/**
 * Whether `observed` of `n` draws is significantly below the share `p`: the Chernoff bound
 * P(X ≤ observed) ≤ exp(−n·KL(observed/n ‖ p)) is below SIGNIFICANCE (conservative: it overstates P).
 */
export function significantlyLow(observed: number, n: number, p: number): boolean {
  const mu = n * p;
  if (!(n > 0) || !(p > 0 && p < 1) || mu < MIN_EXPECTED || observed > LOW_LOAD * mu) return false;
  return n * bernoulliKl(observed / n, p) >= Math.log(1 / SIGNIFICANCE);
}

/** Tokens with known routing, and per expert how many of them have it in their top-k. */
function documentLoads(doc: DocumentRouting, l: DocLayerRouting): { n: number; loads: number[] } {
  const loads = new Array<number>(doc.numExperts).fill(0);
  let n = 0;
  for (let t = 0; t < doc.tokens.length; t++) {
    if (!doc.known[t]) continue;
    n++;
    for (let j = 0; j < doc.topK; j++) {
      const e = l.experts[t * doc.topK + j]!;
      if (e >= 0 && e < loads.length) loads[e]!++;
    }
  }
  return { n, loads };
}

/** The marks of token `index` in layer `l`: rare chosen experts, then high entropy. */
export function routingMarks(doc: DocumentRouting, l: DocLayerRouting, index: number, baseline?: RoutingBaseline): RoutingMark[] {
  const k = doc.topK;
  const E = doc.numExperts;
  const marks: RoutingMark[] = [];
  const fair = k / E;
  const fromDoc = documentLoads(doc, l);
  const prof = baseline?.profile.layers.find((p) => p.layer === l.layer && p.numExperts === E && p.tokens > 0);
  const source = prof
    ? { n: prof.tokens, loads: prof.count, p: prof.topK / E, of: `the ${count(prof.tokens)} tokens of profile ${codeSpan(path.basename(baseline!.file))}` }
    : { n: fromDoc.n, loads: fromDoc.loads, p: fair, of: `this document's ${count(fromDoc.n)} tokens` };
  const chosen = new Set(Array.from({ length: k }, (_, j) => l.experts[index * k + j]!));
  for (const e of chosen) {
    const observed = source.loads[e] ?? 0;
    if (!significantlyLow(observed, source.n, source.p)) continue;
    marks.push({
      short: `rare expert ${e}`,
      detail: `rare: expert ${e} was chosen for ${percent(observed / source.n)} of ${source.of} vs ${percent(source.p)} if balanced (top-${k} of ${E})`,
    });
  }
  const h = l.entropy[index]!;
  const logE = Math.log(Math.max(2, E));
  if (fromDoc.n >= MIN_TOKENS_FOR_PERCENTILE && h > HIGH_ENTROPY * logE) {
    const known = new Float64Array(fromDoc.n);
    let i = 0;
    for (let t = 0; t < doc.tokens.length; t++) if (doc.known[t]) known[i++] = l.entropy[t]!;
    known.sort();
    const threshold = known[Math.ceil(ENTROPY_PERCENTILE * fromDoc.n) - 1]!; // nearest-rank percentile
    if (h > threshold) {
      marks.push({
        short: 'high entropy',
        detail: `high entropy: ${h.toFixed(2)} nats, above the ${Math.round(100 * ENTROPY_PERCENTILE)}th percentile of this document's ${count(fromDoc.n)} tokens (${threshold.toFixed(2)}) and above ${HIGH_ENTROPY}·ln ${E} = ${(HIGH_ENTROPY * logE).toFixed(2)}`,
      });
    }
  }
  return marks;
}
