// Calibration documents as token chunks within a token budget. Documents are tokenised in order and only
// as far as the budget reaches: a 100 MB file with --max-tokens 1000 was tokenised whole first (7.1 GB,
// 144 s, issue #8); now only a prefix a little longer than the budget's tokens is read and tokenised.
import type { TokenSpan } from '../../protocol/engineProtocol';
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
  if (!Number.isInteger(chunkLen) || chunkLen < 2) throw new MoeError('E_INPUT', `chunk length must be an integer >= 2, got ${chunkLen}`);
  const chunks: CalibrationChunk[] = [];
  let total = 0;
  for (const [d, doc] of data.documents.entries()) {
    if (signal?.aborted) throw new MoeError('E_CANCELLED', 'cancelled');
    const left = maxTokens - total;
    if (left < 2) return { chunks, tokens: total, truncated: true };
    const { tokens, complete } = Number.isFinite(left) ? tokenizer.encodeHead((n) => doc.head(n), left) : { tokens: tokenizer.encode(doc.text), complete: true };
    for (let s = 0; s < tokens.length; s += chunkLen) {
      const part = tokens.slice(s, s + chunkLen);
      if (part.length < 2) continue;
      chunks.push({ doc: d, spans: part });
      total += part.length;
    }
    if (!complete) return { chunks, tokens: total, truncated: true };
  }
  return { chunks, tokens: total, truncated: false };
}
