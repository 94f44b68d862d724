// Learning-rate schedules of fine-tuning (issue #10 §3), as Hugging Face's get_constant_schedule_with_warmup
// and get_cosine_schedule_with_warmup define them: linear warm-up from 0 over `warmup` steps, then constant,
// or half a cosine from the peak down to 0 at the last step. `step` counts from 0 (the first update).
import { MoeError } from '../../protocol/moeError';

export type ScheduleKind = 'constant' | 'cosine';

export interface Schedule {
  readonly kind: ScheduleKind;
  readonly lr: number;
  readonly warmup: number;
  readonly totalSteps: number;
}

export function checkSchedule(s: Schedule): Schedule {
  if (!Number.isFinite(s.lr) || s.lr <= 0) throw new MoeError('E_INPUT', `--lr must be a number > 0 (got ${s.lr})`);
  if (!Number.isInteger(s.totalSteps) || s.totalSteps < 1) throw new MoeError('E_INPUT', `--steps must be an integer >= 1 (got ${s.totalSteps})`);
  if (!Number.isInteger(s.warmup) || s.warmup < 0 || s.warmup >= s.totalSteps) throw new MoeError('E_INPUT', `--warmup must be an integer from 0 to steps - 1 = ${s.totalSteps - 1} (got ${s.warmup})`);
  return s;
}

/** The learning rate of update `step` (0-based). */
export function learningRateAt(s: Schedule, step: number): number {
  if (step < s.warmup) return (s.lr * step) / Math.max(1, s.warmup);
  if (s.kind === 'constant') return s.lr;
  const progress = (step - s.warmup) / Math.max(1, s.totalSteps - s.warmup);
  return s.lr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}
