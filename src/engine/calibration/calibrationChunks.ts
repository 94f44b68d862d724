// Calibration documents as token chunks within a token budget. Documents are tokenised in order and only
// as far as the budget reaches: a 100 MB file with --max-tokens 1000 was tokenised whole first (7.1 GB,
// 144 s, issue #8); now only a prefix a little longer than the budget's tokens is read and tokenised.
import type { Progress, TokenSpan } from '../../protocol/engineProtocol';
import { MoeError } from '../../protocol/moeError';
import type { ModelTokenizer } from '../tokenizer/tokenizer';
import type { CalibrationSet } from './calibrationSet';

export interface CalibrationChunk {
  /** Index of the document in the set. */
  readonly doc: number;
  readonly spans: TokenSpan[];
}

export interface BudgetedChunks {
  readonly chunks: CalibrationChunk[];
  readonly tokens: number;
  /** The budget ran out before the data did. */
  readonly truncated: boolean;
}

/**
 * Chunks of at most `chunkLen` tokens (pieces under 2 tokens predict nothing and are dropped), the same as
 * chunking every document's full tokenisation, up to `maxTokens` in total.
 */
export function calibrationChunks(tokenizer: ModelTokenizer, data: CalibrationSet, chunkLen: number, maxTokens = Infinity, signal?: AbortSignal): BudgetedChunks {
  const out = emptyChunks();
  for (const _ of chunkDocuments(tokenizer, data, chunkLen, maxTokens, out)) {
    if (signal?.aborted) throw new MoeError('E_CANCELLED', 'cancelled');
  }
  return out;
}

export interface TokeniseOptions {
  readonly signal?: AbortSignal;
  /** {stage: 'tokenise', done: documents done, total: 0} about every 100 ms, with a message. */
  readonly onProgress?: (p: Progress) => void;
  /** Awaited about every 100 ms: the engine runs waiting queries there. */
  readonly pause?: () => Promise<void>;
}

/**
 * calibrationChunks for a long job: reports progress while it tokenises (a large calibration set takes
 * seconds before the first forward) and yields so that a cancel or a waiting query gets through.
 */
export async function tokeniseCalibration(tokenizer: ModelTokenizer, data: CalibrationSet, chunkLen: number, maxTokens = Infinity, opts: TokeniseOptions = {}): Promise<BudgetedChunks> {
  const out = emptyChunks();
  const n = data.documents.length;
  let last = performance.now();
  for (const done of chunkDocuments(tokenizer, data, chunkLen, maxTokens, out)) {
    if (performance.now() - last < 100) continue;
    // total 0: this stage does not move a determinate bar (the job's own stage does).
    opts.onProgress?.({ stage: 'tokenise', done, total: 0, message: `${done.toLocaleString('en-US')} / ${n.toLocaleString('en-US')} documents, ${out.tokens.toLocaleString('en-US')} tokens so far` });
    await new Promise((r) => setImmediate(r));
    await opts.pause?.();
    if (opts.signal?.aborted) throw new MoeError('E_CANCELLED', 'cancelled');
    last = performance.now();
  }
  return out;
}

type MutableChunks = { -readonly [K in keyof BudgetedChunks]: BudgetedChunks[K] };

const emptyChunks = (): MutableChunks => ({ chunks: [], tokens: 0, truncated: false });

/** Tokenises and chunks the documents into `out` one at a time, yielding the number done after each. */
function* chunkDocuments(tokenizer: ModelTokenizer, data: CalibrationSet, chunkLen: number, maxTokens: number, out: MutableChunks): Generator<number, void> {
  if (!Number.isInteger(chunkLen) || chunkLen < 2) throw new MoeError('E_INPUT', `chunk length must be an integer >= 2, got ${chunkLen}`);
  for (const [d, doc] of data.documents.entries()) {
    const left = maxTokens - out.tokens;
    if (left < 2) {
      out.truncated = true;
      return;
    }
    const { tokens, complete } = Number.isFinite(left) ? tokenizer.encodeHead((n) => doc.head(n), left) : { tokens: tokenizer.encode(doc.text), complete: true };
    for (let s = 0; s < tokens.length; s += chunkLen) {
      const part = tokens.slice(s, s + chunkLen);
      if (part.length < 2) continue;
      out.chunks.push({ doc: d, spans: part });
      out.tokens += part.length;
    }
    if (!complete) {
      out.truncated = true;
      return;
    }
    yield d + 1;
  }
}
