// Held-out text for evaluation as token chunks: the documents tokenised with the baseline's tokenizer,
// split into chunks of `chunkTokens`, up to `maxTokens` in total (only as much text as that is tokenised).
import { MoeError } from '../../protocol/moeError';
import { calibrationChunks } from '../calibration/calibrationChunks';
import type { CalibrationSet } from '../calibration/calibrationSet';
import type { MoeEngine } from '../moeEngine';

export function evaluationChunks(engine: MoeEngine, data: CalibrationSet, chunkTokens: number, maxTokens = Infinity): number[][] {
  const len = Math.min(chunkTokens, engine.config.contextLength);
  const out = calibrationChunks(engine.tokenizer, data, len, maxTokens).chunks.map((c) => c.spans.map((t) => t.id));
  if (out.length === 0) throw new MoeError('E_INPUT', `the evaluation data has no chunk of 2 or more tokens (${data.documents.length} documents)`);
  return out;
}
