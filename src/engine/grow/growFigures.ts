// Parameters (total, active per token) and bytes on disk of a checkpoint before or after add-experts, from its
// headers (no weights read): the figures of the preview, the job's result and the report.
import { inactivePerToken, parameterCount } from '../../report/upcycleReport';
import { type Checkpoint, openCheckpoint } from '../model/checkpoint';
import type { AddExpertsPlan } from './addExpertsPlan';

export const fileBytes = (ckpt: Checkpoint): number => ckpt.files.reduce((a, f) => a + f.fileSize, 0);

/** Routed experts a token does not run, per MoE layer summed: the parameters not active per token. */
export const inactive = (ckpt: Checkpoint, p: AddExpertsPlan, experts: number): number =>
  inactivePerToken({ experts, topK: p.topK, moeLayers: p.moeLayers.length, hiddenSize: ckpt.config.hiddenSize, expertIntermediate: p.intermediate });

/** Parameters (total and active per token) and bytes of an open checkpoint with `experts` routed experts per MoE layer. */
export function checkpointFigures(c: Checkpoint, plan: AddExpertsPlan, experts: number): { parameters: number; active: number; bytes: number } {
  const parameters = parameterCount([...c.tensors.values()].map((t) => t.entry));
  return { parameters, active: parameters - inactive(c, plan, experts), bytes: fileBytes(c) };
}

/** The same for a checkpoint folder. */
export function figuresOf(dir: string, plan: AddExpertsPlan, experts: number): { parameters: number; active: number; bytes: number } {
  const c = openCheckpoint(dir);
  try {
    return checkpointFigures(c, plan, experts);
  } finally {
    c.close();
  }
}
