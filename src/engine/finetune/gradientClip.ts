// Gradient clipping by the global L2 norm over every trained tensor, as torch.nn.utils.clip_grad_norm_
// does: scale = max_norm / (norm + 1e-6), applied only when below 1. The norm is accumulated in float64 in
// a fixed order, so it is deterministic. maxNorm 0 disables clipping (the norm is still reported).

export interface ClipResult {
  /** The global norm before clipping. */
  readonly norm: number;
  /** The factor the gradients were multiplied by (1 when not clipped). */
  readonly scale: number;
}

export function globalNorm(grads: Iterable<Float32Array>): number {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
  return Math.sqrt(s);
}

/** Clips `grads` in place. A non-finite norm is returned as is and nothing is scaled (the trainer stops). */
export function clipGradients(grads: readonly Float32Array[], maxNorm: number): ClipResult {
  const norm = globalNorm(grads);
  if (maxNorm <= 0 || !Number.isFinite(norm)) return { norm, scale: 1 };
  const coef = maxNorm / (norm + 1e-6);
  if (coef >= 1) return { norm, scale: 1 };
  const c = Math.fround(coef);
  for (const g of grads) for (let i = 0; i < g.length; i++) g[i] = Math.fround(g[i]! * c);
  return { norm, scale: c };
}
