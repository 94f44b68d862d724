// Fine-tuning data (issue #10 §2): the calibration reader's documents tokenised in order and packed into
// sequences of `seqLen` tokens, each with its loss mask over next-token targets. A target is trained when
// its token belongs to trained text (all of a plain document; only an assistant turn's content in a chat
// record — the prompt is masked out) and it does not start a document: packing never trains the model to
// predict one document's first token from the end of another.
import type { TokenSpan } from '../../protocol/engineProtocol';
import { MoeError } from '../../protocol/moeError';
import type { CalibrationDocument, CalibrationSet } from '../calibration/calibrationSet';
import type { ModelTokenizer } from '../tokenizer/tokenizer';

export interface TrainingSequence {
  readonly ids: readonly number[];
  /** [T - 1]: 1 where the target ids[i + 1] is trained. */
  readonly lossMask: Float32Array;
  /** Indices of the documents it holds tokens of (in the set's order). */
  readonly docs: readonly number[];
}

export interface PackedTrainingData {
  readonly sequences: readonly TrainingSequence[];
  readonly tokens: number;
  /** Targets with mask 1, over all sequences. */
  readonly trainedTargets: number;
  /** Chat records among the documents used. */
  readonly chatRecords: number;
  /** The token budget ran out before the data did. */
  readonly truncated: boolean;
}

const where = (d: CalibrationDocument): string => `${d.source}${d.line === undefined ? '' : `:${d.line}`}`;

/** Packs `data` into sequences of `seqLen` tokens (the last may be shorter; under 2 tokens dropped), at most `maxTokens`. */
export function packTrainingData(tokenizer: ModelTokenizer, data: CalibrationSet, seqLen: number, maxTokens = Infinity, signal?: AbortSignal): PackedTrainingData {
  if (!Number.isInteger(seqLen) || seqLen < 2) throw new MoeError('E_INPUT', `--seq-len must be an integer >= 2 (got ${seqLen})`);
  const ids: number[] = [];
  const trained: boolean[] = [];
  const starts: boolean[] = [];
  const docOf: number[] = [];
  let chatRecords = 0;
  let truncated = false;
  for (const [d, doc] of data.documents.entries()) {
    if (signal?.aborted) throw new MoeError('E_CANCELLED', 'cancelled');
    const left = maxTokens - ids.length;
    if (left < 1) {
      truncated = true;
      break;
    }
    const chat = doc.chat?.();
    if (chat && !chat.hasAssistant) throw new MoeError('E_INPUT', `${where(doc)}: a chat record with no assistant turn has nothing to train on (add an {"role": "assistant", ...} message or remove the record)`, doc.source);
    let tokens: TokenSpan[];
    let complete = true;
    if (chat) tokens = tokenizer.encode(doc.text);
    else if (Number.isFinite(left)) ({ tokens, complete } = tokenizer.encodeHead((n) => doc.head(n), left));
    else tokens = tokenizer.encode(doc.text);
    if (tokens.length > left) {
      tokens = tokens.slice(0, left);
      complete = false;
    }
    if (chat) chatRecords++;
    for (const [i, t] of tokens.entries()) {
      ids.push(t.id);
      trained.push(!chat || chat.ranges.some(([a, b]) => t.start < b && t.end > a));
      starts.push(i === 0);
      docOf.push(d);
    }
    if (!complete) {
      truncated = true;
      break;
    }
  }
  const sequences: TrainingSequence[] = [];
  let trainedTargets = 0;
  for (let s = 0; s + 1 < ids.length; s += seqLen) {
    const e = Math.min(ids.length, s + seqLen);
    if (e - s < 2) break;
    const lossMask = new Float32Array(e - s - 1);
    for (let j = s + 1; j < e; j++) if (trained[j] && !starts[j]) lossMask[j - s - 1] = 1;
    trainedTargets += lossMask.reduce((a, b) => a + b, 0);
    sequences.push({ ids: ids.slice(s, e), lossMask, docs: [...new Set(docOf.slice(s, e))] });
  }
  if (sequences.length === 0) throw new MoeError('E_INPUT', `the training data holds ${ids.length} token${ids.length === 1 ? '' : 's'}: at least 2 are needed (files: ${data.files.join(', ')})`, data.files[0]);
  if (trainedTargets === 0) throw new MoeError('E_INPUT', `no token of the training data is a training target (every target is masked: prompts only, or one-token documents) in ${data.files.join(', ')}`, data.files[0]);
  return { sequences, tokens: sequences.reduce((n, q) => n + q.ids.length, 0), trainedTargets, chatRecords, truncated };
}
