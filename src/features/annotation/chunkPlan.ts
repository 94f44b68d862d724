// Long documents are annotated in passes of at most `perPass` tokens, the passes that cover what the user
// sees first. Each pass is its own forward (its own attention context): for text longer than one pass the
// routing of a pass does not see the text of earlier passes.

export interface Chunk {
  readonly start: number; // token index, inclusive
  readonly end: number; // exclusive
}

/** Token chunks of at most perPass tokens, ordered: those overlapping a visible token range first, then by distance. */
export function planChunks(tokenCount: number, perPass: number, visible: readonly { start: number; end: number }[]): Chunk[] {
  const chunks: Chunk[] = [];
  for (let s = 0; s < tokenCount; s += perPass) chunks.push({ start: s, end: Math.min(tokenCount, s + perPass) });
  if (visible.length === 0) return chunks;
  const distance = (c: Chunk): number => Math.min(...visible.map((v) => (c.end <= v.start ? v.start - c.end + 1 : c.start >= v.end ? c.start - v.end + 1 : 0)));
  return chunks.map((c, i) => ({ c, i, d: distance(c) })).sort((a, b) => a.d - b.d || a.i - b.i).map((x) => x.c);
}
