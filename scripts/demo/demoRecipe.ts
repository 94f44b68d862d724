// The demo model's recipe (issue #12): tokenizer size, model shape and training settings, in one place for
// `npm run demo:train` (scripts/demoTrain.ts) and the TRAINING.md it writes.
import type { RandomMoeSpec } from '../../src/devtools/randomCheckpoint';

export const DEMO_TOKENIZER = { vocabSize: 4096, specialTokens: ['<|endoftext|>'] } as const;

/** Mixtral layout, 4 layers, hidden 256, 16 experts top-2 of intermediate 128: 9.2 M parameters, 18 MB in BF16. */
export const DEMO_SHAPE: Omit<RandomMoeSpec, 'tokenizerCorpus' | 'tokenizerJson' | 'merges'> = {
  hiddenSize: 256,
  numLayers: 4,
  numHeads: 4,
  numKvHeads: 2,
  numExperts: 16,
  topK: 2,
  intermediateSize: 128,
  vocabSize: DEMO_TOKENIZER.vocabSize,
  contextLength: 2048,
  seed: 12,
  plantedRouting: false,
  dtype: 'BF16',
  config: { bos_token_id: null, eos_token_id: DEMO_TOKENIZER.vocabSize - 1, router_aux_loss_coef: 0.01, output_router_logits: false },
};

/** `moe-workbench finetune` settings of the from-scratch run (every parameter trains). */
export const DEMO_TRAINING = {
  steps: 2500,
  seqLen: 512,
  batchTokens: 4096,
  lr: 3e-3,
  warmup: 40,
  schedule: 'cosine',
  weightDecay: 0.1,
  gradClip: 1,
  auxLossCoef: 0.01,
  seed: 12,
} as const;

/** The `moe-workbench finetune` arguments (after the CLI's path) of the recipe for `steps` steps: demo:train's and demo:pilot's. */
export function demoFinetuneArgs(o: { readonly model: string; readonly data: string; readonly out: string; readonly evalData: string; readonly steps: number }): string[] {
  const t = DEMO_TRAINING;
  return [
    'finetune', '--model', o.model, '--data', o.data, '--out', o.out, '--train', 'all',
    '--steps', String(o.steps), '--seq-len', String(t.seqLen), '--batch-tokens', String(t.batchTokens), '--lr', String(t.lr),
    '--warmup', String(Math.min(t.warmup, o.steps - 1)), '--schedule', t.schedule, '--weight-decay', String(t.weightDecay), '--grad-clip', String(t.gradClip),
    '--aux-loss-coef', String(t.auxLossCoef), '--seed', String(t.seed), '--eval-data', o.evalData, '--json',
  ];
}
