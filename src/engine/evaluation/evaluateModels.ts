// The before/after evaluation shared by the expert operations (pruning, merging; later upcycling and
// fine-tuning): both models on the same token chunks give each one's perplexity, how often their top-1 next
// token agrees and the mean KL(baseline ‖ candidate) of their next-token distributions; on the open
// document also which predictions changed and, per MoE layer, how many tokens' sets of experts changed.
import type { Capture, ForwardResult, Progress, TokenSpan } from '../../protocol/engineProtocol';
import type { EvalReport, EvalSide, TokenChange } from '../../protocol/expertOps';
import { MoeError } from '../../protocol/moeError';
import type { I32Matrix } from '../../protocol/tensors';
import { HeldArrays, spillCapBytes } from '../layerwise/activationSpill';
import { layerMajorBatches, sequenceBytes } from '../layerwise/layerMajorBatches';
import type { MoeEngine } from '../moeEngine';
import { argmaxRow, klDivergence } from './nextTokenStats';

export interface EvalOptions {
  readonly signal?: AbortSignal;
  /** {stage: 'evaluate', done, total} in tokens (chunks, then the document), with an ETA in the message. */
  readonly onProgress?: (p: Progress) => void;
  /** Text of the open document, for the routing change and the per-token view. */
  readonly document?: string;
  /** Per MoE layer of the candidate: new expert id -> old (baseline) expert id, to compare routing in the baseline's numbering. Identity when absent. */
  readonly expertMap?: ReadonlyMap<number, readonly number[]>;
  /** Awaited between chunks: the engine runs waiting queries (annotation) there. */
  readonly pause?: () => Promise<void>;
  /** Cap on `document.perToken` entries (default 4096). */
  readonly maxDocumentTokens?: number;
}

type DocumentReport = NonNullable<EvalReport['document']>;

/** The document is run in one forward pass per model, truncated to this many tokens (or less, see documentLimit). */
export const DOCUMENT_TOKEN_LIMIT = 2048;
const LOGITS: Capture = { routing: false, hidden: false, logits: true };
const ROUTING_AND_LOGITS: Capture = { routing: true, hidden: false, logits: true };

/**
 * Compares `candidate` with `baseline` on token chunks (ids of the baseline's tokenizer). Perplexity, top-1
 * agreement and mean KL are over the positions 0..T-2 of every chunk, the ones with a next token; chunks
 * of fewer than 2 tokens predict nothing and are skipped (not counted in `tokens`/`chunks`). On the
 * document, `changedPredictions` and `perToken` cover every token 0..T-1 (the prediction after the last
 * token counts too), and `tokens` is what was evaluated (at most documentLimit()).
 */
export async function evaluateModels(baseline: MoeEngine, candidate: MoeEngine, chunks: readonly (readonly number[])[], opts: EvalOptions = {}): Promise<EvalReport> {
  const t0 = performance.now();
  const V = baseline.config.vocabSize;
  if (candidate.config.vocabSize !== V) {
    throw new MoeError('E_INPUT', `the models have different vocabularies (${V} tokens in ${baseline.info.path}, ${candidate.config.vocabSize} in ${candidate.info.path}): their next-token predictions cannot be compared`);
  }
  const scored = chunks.filter((c) => c.length >= 2);
  if (scored.length === 0) {
    throw new MoeError('E_INPUT', chunks.length === 0 ? 'there is no evaluation data: no chunks of tokens were given' : 'there is no evaluation data: every chunk has fewer than 2 tokens, so there is no next token to predict');
  }
  const doc = opts.document ? baseline.tokenizer.encode(opts.document).slice(0, documentLimit(baseline, candidate)) : [];
  const chunkTokens = scored.reduce((n, c) => n + c.length, 0);
  const progress = progressReporter(opts.onProgress, chunkTokens + doc.length, t0);

  let nllBase = 0;
  let nllCand = 0;
  let positions = 0;
  let agree = 0;
  let klSum = 0;
  let done = 0;
  // Layer-major when either model converts or reads weights per layer: each layer is prepared once per
  // batch. Logits are consumed as each sequence's head runs; only the baseline's wait for the candidate's
  // pass, in memory up to half the allowance (activations get the other half), on disk beyond, as are the
  // activations beyond their half.
  const layerMajor = baseline.prefersLayerMajor || candidate.prefersLayerMajor;
  const allowance = Math.min(baseline.layerMajorBatchBytes, candidate.layerMajorBatchBytes);
  const batches = layerMajor ? layerMajorBatches(scored, (ids) => sequenceBytes(baseline.config, ids.length, V * 4), allowance + spillCapBytes()) : scored.map((ids) => [ids]);
  const each = async (e: MoeEngine, batch: readonly (readonly number[])[], f: (j: number, r: ForwardResult) => void): Promise<void> => {
    if (batch.length === 1) f(0, await e.forward(batch[0]!, LOGITS));
    else await e.forwardEach(batch, LOGITS, f, { ...(opts.signal ? { signal: opts.signal } : {}), activationBytes: allowance / 2 });
  };
  for (const batch of batches) {
    await opts.pause?.();
    checkCancelled(opts.signal);
    const held = new HeldArrays(batch.length === 1 ? Infinity : allowance / 2);
    try {
      const baseLogprobs: Float32Array[] = [];
      await each(baseline, batch, (j, b) => {
        baseLogprobs[j] = b.logprobs;
        held.put(j, logitsOf(b));
      });
      checkCancelled(opts.signal);
      await each(candidate, batch, (j, c) => {
        const ids = batch[j]!;
        const bp = baseLogprobs[j]!;
        const bl = held.take(j);
        const cl = logitsOf(c);
        const n = ids.length - 1;
        for (let i = 0; i < n; i++) {
          nllBase -= bp[i]!;
          nllCand -= c.logprobs[i]!;
          if (argmaxRow(bl, i, V) === argmaxRow(cl, i, V)) agree++;
          klSum += klDivergence(bl, cl, i, V);
        }
        positions += n;
        done += ids.length;
      });
    } finally {
      held.dispose();
    }
    progress(done);
  }

  let document: DocumentReport | undefined;
  if (doc.length > 0) {
    checkCancelled(opts.signal);
    document = await compareOnDocument(baseline, candidate, doc, opts);
    progress(done + doc.length);
  }
  return {
    tokens: chunkTokens,
    chunks: scored.length,
    baseline: sideOf(baseline, Math.exp(nllBase / positions)),
    candidate: sideOf(candidate, Math.exp(nllCand / positions)),
    top1Agreement: agree / positions,
    meanKl: klSum / positions,
    ...(document ? { document } : {}),
    runMs: performance.now() - t0,
  };
}

/** Tokens of the document both engines can run in one pass: the context, the attention limit, DOCUMENT_TOKEN_LIMIT. */
export function documentLimit(...engines: MoeEngine[]): number {
  let limit = DOCUMENT_TOKEN_LIMIT;
  for (const e of engines) {
    limit = Math.min(limit, e.config.contextLength, e.maxAttentionTokens);
  }
  return limit;
}

async function compareOnDocument(baseline: MoeEngine, candidate: MoeEngine, tokens: readonly TokenSpan[], opts: EvalOptions): Promise<DocumentReport> {
  const V = baseline.config.vocabSize;
  const ids = tokens.map((t) => t.id);
  const b = await baseline.forward(ids, ROUTING_AND_LOGITS);
  checkCancelled(opts.signal);
  const c = await candidate.forward(ids, ROUTING_AND_LOGITS);
  const bl = logitsOf(b);
  const cl = logitsOf(c);
  const cap = Math.max(0, opts.maxDocumentTokens ?? 4096);
  let changedPredictions = 0;
  const perToken: TokenChange[] = [];
  for (let t = 0; t < ids.length; t++) {
    const before = argmaxRow(bl, t, V);
    const after = argmaxRow(cl, t, V);
    if (before !== after) changedPredictions++;
    if (t < cap) {
      const tok = tokens[t]!;
      perToken.push({
        index: t,
        text: tok.text || baseline.tokenizer.tokenText(tok.id),
        before: baseline.tokenizer.tokenText(before),
        after: candidate.tokenizer.tokenText(after),
        kl: klDivergence(bl, cl, t, V),
      });
    }
  }
  const routingChanged: DocumentReport['routingChanged'] = [];
  for (const br of b.routing) {
    const cr = c.routing.find((r) => r.layer === br.layer);
    if (cr) routingChanged.push({ layer: br.layer, share: routingChangeShare(br.experts, cr.experts, opts.expertMap?.get(br.layer), br.layer) });
  }
  return { tokens: ids.length, changedPredictions, routingChanged, perToken };
}

/** Share of tokens whose set of top-k experts differs, the candidate's ids mapped to the baseline's through `map`. */
function routingChangeShare(base: I32Matrix, cand: I32Matrix, map: readonly number[] | undefined, layer: number): number {
  const toOld = (id: number): number => {
    if (!map) return id;
    const old = map[id];
    if (old === undefined || !Number.isInteger(old)) throw new MoeError('E_INPUT', `expertMap for layer ${layer} has no baseline expert for the candidate's expert ${id}`);
    return old;
  };
  let changed = 0;
  for (let t = 0; t < base.rows; t++) {
    const bs = expertSet(base, t, (id) => id);
    const cs = expertSet(cand, t, toOld);
    if (bs.length !== cs.length || bs.some((e, i) => e !== cs[i])) changed++;
  }
  return base.rows > 0 ? changed / base.rows : 0;
}

/** Row t's experts, mapped, as a sorted set. */
function expertSet(m: I32Matrix, t: number, map: (id: number) => number): number[] {
  const s = new Set<number>();
  for (let j = 0; j < m.cols; j++) s.add(map(m.data[t * m.cols + j]!));
  return [...s].sort((x, y) => x - y);
}

function logitsOf(r: ForwardResult): Float32Array {
  if (!r.logits) throw new MoeError('E_INTERNAL', 'the forward pass returned no logits');
  return r.logits.data;
}

function sideOf(e: MoeEngine, perplexity: number): EvalSide {
  const i = e.info;
  return { dir: i.path, name: i.name, perplexity, bytesOnDisk: i.bytesOnDisk, totalParams: i.totalParams, activeParams: i.activeParams, numExperts: i.numExperts };
}

function checkCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new MoeError('E_CANCELLED', 'cancelled');
}

/** Reports {stage: 'evaluate', done, total} with "n of N tokens, about X left" from the rate so far. */
function progressReporter(onProgress: EvalOptions['onProgress'], total: number, t0: number): (done: number) => void {
  const report = (done: number): void => {
    if (!onProgress) return;
    let message = `${done} of ${total} tokens`;
    if (done > 0 && done < total) message += `, about ${formatSeconds(((performance.now() - t0) / done) * (total - done) / 1000)} left`;
    onProgress({ stage: 'evaluate', done, total, message });
  };
  report(0);
  return report;
}

function formatSeconds(s: number): string {
  const r = Math.max(1, Math.round(s));
  if (r < 60) return `${r} s`;
  const m = Math.floor(r / 60);
  return m < 60 ? `${m} min ${r % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}
