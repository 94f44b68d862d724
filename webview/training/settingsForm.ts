// The settings form's values as typed (strings), checked before Start: whole numbers where the run needs
// them, a positive finite learning rate, warm-up shorter than the run, an output folder. The host checks
// again on Start (the folder must not exist); its refusal is shown next to the field it names. Pure.
import type { FinetuneOptimizer, FinetuneSchedule, TrainingSettings } from '../../src/protocol/trainingPanelProtocol';

export type SettingsField = keyof TrainingSettings;

/** The form's fields as the user typed them. */
export interface SettingsInput {
  readonly steps: string;
  readonly lr: string;
  readonly optimizer: string;
  readonly schedule: string;
  readonly warmup: string;
  readonly batchTokens: string;
  readonly seed: string;
  readonly outDir: string;
  readonly adapterOnly: boolean;
}

export type SettingsErrors = Partial<Record<SettingsField, string>>;

export interface SettingsCheck {
  /** Present exactly when `errors` is empty. */
  readonly settings?: TrainingSettings;
  readonly errors: SettingsErrors;
}

export const OPTIMIZERS: readonly FinetuneOptimizer[] = ['adamw', 'sgd'];
export const SCHEDULES: readonly FinetuneSchedule[] = ['constant', 'cosine'];

export function settingsInput(s: TrainingSettings): SettingsInput {
  return {
    steps: String(s.steps),
    lr: String(s.lr),
    optimizer: s.optimizer,
    schedule: s.schedule,
    warmup: String(s.warmup),
    batchTokens: String(s.batchTokens),
    seed: String(s.seed),
    outDir: s.outDir,
    adapterOnly: s.adapterOnly,
  };
}

/** A whole number ≥ `min` written in plain digits (no "1e3", "1.0", "0x10"), or undefined. */
function wholeNumber(text: string, min: number): number | undefined {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isSafeInteger(n) && n >= min ? n : undefined;
}

/** A decimal number ("0.0001", "1e-4", ".5"), or undefined (empty text, hex, "Infinity"). */
function decimal(text: string): number | undefined {
  const t = text.trim();
  if (!/^[+]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t)) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

export function checkSettings(input: SettingsInput): SettingsCheck {
  const errors: SettingsErrors = {};
  const steps = wholeNumber(input.steps, 1);
  if (steps === undefined) errors.steps = 'Steps must be a whole number, at least 1.';
  const lr = decimal(input.lr);
  if (lr === undefined || lr <= 0) errors.lr = 'The learning rate must be a number above 0, e.g. 1e-4.';
  const optimizer = OPTIMIZERS.find((o) => o === input.optimizer);
  if (!optimizer) errors.optimizer = 'Choose AdamW or SGD.';
  const schedule = SCHEDULES.find((s) => s === input.schedule);
  if (!schedule) errors.schedule = 'Choose a constant or cosine schedule.';
  const warmup = wholeNumber(input.warmup, 0);
  if (warmup === undefined) errors.warmup = 'Warm-up must be a whole number of steps (0 for none).';
  else if (steps !== undefined && warmup >= steps) errors.warmup = `Warm-up must be fewer steps than the run (${steps}).`;
  const batchTokens = wholeNumber(input.batchTokens, 1);
  if (batchTokens === undefined) errors.batchTokens = 'Batch tokens must be a whole number, at least 1.';
  const seed = wholeNumber(input.seed, 0);
  if (seed === undefined) errors.seed = 'The seed must be a whole number (0 or more).';
  const outDir = input.outDir.trim();
  if (outDir === '') errors.outDir = 'Name the output folder.';
  if (Object.keys(errors).length > 0) return { errors };
  return { errors, settings: { steps: steps!, lr: lr!, optimizer: optimizer!, schedule: schedule!, warmup: warmup!, batchTokens: batchTokens!, seed: seed!, outDir, adapterOnly: input.adapterOnly } };
}
