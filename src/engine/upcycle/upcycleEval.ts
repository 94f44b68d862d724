// How far the upcycled model is from the dense one it came from, measured through the real engine: the
// logits of both on a few seeded token sequences. For copies with renormalised top-k this is the function-
// preservation check (differences at float32 rounding); for the other methods it is how much they changed.
// The two models are loaded one after the other, so only one is in memory at a time.
import { MoeEngine } from '../moeEngine';
import { stream } from './upcycleRandom';

export interface UpcycleEvaluation {
  readonly sequences: number;
  readonly tokens: number;
  /** max over all positions and vocabulary entries of |logit_moe − logit_dense|. */
  readonly maxAbsLogitDiff: number;
  readonly meanAbsLogitDiff: number;
  /** Fraction of positions where both models' top-1 token is the same. */
  readonly top1Agreement: number;
}

export const EVAL_SEQUENCES = 4;
export const EVAL_TOKENS = 32;

/** Seeded token ids in [0, vocab): any model can run them, no tokenizer or data needed. */
export function evalSequences(seed: number, vocab: number, count = EVAL_SEQUENCES, length = EVAL_TOKENS): number[][] {
  const u = stream(seed, 0xfffe, 0, 0);
  return Array.from({ length: count }, () => Array.from({ length }, () => Math.floor(u() * vocab)));
}

async function logitsOf(dir: string, seqs: readonly (readonly number[])[]): Promise<{ data: Float32Array; cols: number }[]> {
  const engine = await MoeEngine.load(dir);
  try {
    const rs = await engine.forwardBatch(seqs, { routing: false, hidden: false, logits: true });
    return rs.map((r) => ({ data: r.logits!.data, cols: r.logits!.cols }));
  } finally {
    await engine.dispose();
  }
}

function argmax(a: Float32Array, off: number, n: number): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (a[off + j]! > a[off + best]!) best = j;
  return best;
}

export async function compareToDense(denseDir: string, moeDir: string, seqs: readonly (readonly number[])[]): Promise<UpcycleEvaluation> {
  const dense = await logitsOf(denseDir, seqs);
  const moe = await logitsOf(moeDir, seqs);
  let max = 0;
  let sum = 0;
  let count = 0;
  let agree = 0;
  let positions = 0;
  dense.forEach((d, s) => {
    const m = moe[s]!;
    for (let i = 0; i < d.data.length; i++) {
      const diff = Math.abs(m.data[i]! - d.data[i]!);
      if (!(diff <= max)) max = diff; // NaN propagates as the maximum
      sum += diff;
      count++;
    }
    for (let t = 0; t * d.cols < d.data.length; t++) {
      positions++;
      if (argmax(d.data, t * d.cols, d.cols) === argmax(m.data, t * d.cols, d.cols)) agree++;
    }
  });
  return { sequences: seqs.length, tokens: positions, maxAbsLogitDiff: max, meanAbsLogitDiff: count > 0 ? sum / count : 0, top1Agreement: positions > 0 ? agree / positions : 1 };
}
