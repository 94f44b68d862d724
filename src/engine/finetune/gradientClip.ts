// Gradient clipping by the global L2 norm over every trained tensor, as torch.nn.utils.clip_grad_norm_
// does: scale = max_norm / (norm + 1e-6), applied only when below 1. The norm is accumulated in float64 in
// a fixed order (tensor by tensor, entry by entry), so it is deterministic; that sequential sum is bound
// by the latency of one float64 add per entry (~1 ns), which a reordered (SIMD) sum would beat only by
// changing the last bits of the norm. maxNorm 0 disables clipping (the norm is still reported). The
// trainer does not scale the gradients here: the optimizer applies clipScale inside its update pass
// (Optimizer.apply's gradScale), with the same float32 product as clipGradients.

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

/** The global norm and the float32 factor clipping multiplies every gradient entry by (1: none). */
export function clipScale(grads: readonly Float32Array[], maxNorm: number): ClipResult {
  const norm = globalNorm(grads);
  if (maxNorm <= 0 || !Number.isFinite(norm)) return { norm, scale: 1 };
  const coef = maxNorm / (norm + 1e-6);
  return { norm, scale: coef >= 1 ? 1 : Math.fround(coef) };
}

/** Clips `grads` in place. A non-finite norm is returned as is and nothing is scaled (the trainer stops). */
export function clipGradients(grads: readonly Float32Array[], maxNorm: number): ClipResult {
  const r = clipScale(grads, maxNorm);
  const c = r.scale;
  if (c !== 1) for (const g of grads) for (let i = 0; i < g.length; i++) g[i] = Math.fround(g[i]! * c);
  return r;
}
