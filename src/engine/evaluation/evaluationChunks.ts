// Held-out text for evaluation as token chunks: every document tokenised with the baseline's tokenizer,
// split into chunks of `chunkTokens`, up to `maxTokens` in total.
import { MoeError } from '../../protocol/moeError';
import { type CalibrationSet, chunkTokens as split } from '../calibration/calibrationSet';
import type { MoeEngine } from '../moeEngine';

export function evaluationChunks(engine: MoeEngine, data: CalibrationSet, chunkTokens: number, maxTokens = Infinity): number[][] {
  const len = Math.min(chunkTokens, engine.config.contextLength);
  const out: number[][] = [];
  let total = 0;
  for (const d of data.documents) {
    for (const c of split(
      engine.tokenizer.encode(d.text).map((t) => t.id),
      len,
    )) {
      const take = c.slice(0, Math.max(0, maxTokens - total));
      if (take.length >= 2) {
        out.push(take);
        total += take.length;
      }
      if (total >= maxTokens) return out;
    }
  }
  if (out.length === 0) throw new MoeError('E_INPUT', `the evaluation data has no chunk of 2 or more tokens (${data.documents.length} documents)`);
  return out;
}
