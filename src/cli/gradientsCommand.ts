// `moe-workbench gradients`: loss and gradients of the trainable parameters on one prompt, written as a
// safetensors file. The flags are checked before the model loads, so a typo costs no load; what needs the
// model (layers, experts, vocabulary, the output folder) the engine checks before it computes anything.
import * as path from 'node:path';
import type { EngineClient } from '../host/engineClient';
import type { GradientsParams, Progress, PromptInput } from '../protocol/engineProtocol';
import { MoeError } from '../protocol/moeError';
import { parseTrainSpec } from '../engine/training/trainSpec';
import { UsageError } from './expertCommands';
import { DECIMAL } from './flagValues';

export interface GradientsFlags {
  readonly train?: readonly string[] | undefined;
  readonly 'aux-loss-coef'?: string | undefined;
  readonly out?: string | undefined;
}


/** The request the flags ask for; UsageError naming the flag and value when they are malformed. */
export function gradientsParams(v: GradientsFlags, input: PromptInput): GradientsParams {
  if (v.out === undefined || v.out === '') throw new UsageError('--out FILE.safetensors is required');
  // The file is safetensors whatever its name; the suffix guards against `--out DIR` or a model folder's name.
  if (!v.out.endsWith('.safetensors')) throw new UsageError(`--out ${v.out}: the gradients file must end in .safetensors`);
  const train = v.train ?? [];
  for (const spec of train) {
    try {
      parseTrainSpec(spec);
    } catch (e) {
      if (e instanceof MoeError) throw new UsageError(e.message);
      throw e;
    }
  }
  const params: GradientsParams = { input, train, outFile: path.resolve(v.out) };
  const coef = v['aux-loss-coef'];
  if (coef === undefined) return params;
  const x = Number(coef);
  if (!DECIMAL.test(coef.trim()) || !Number.isFinite(x)) throw new UsageError(`--aux-loss-coef "${coef}": not a finite non-negative number (e.g. 0.01)`);
  return { ...params, auxLossCoef: x };
}

interface Ctx {
  readonly client: EngineClient;
  readonly signal: AbortSignal;
  readonly onProgress: ((p: Progress) => void) | undefined;
  readonly write: (s: string) => void;
}

export async function gradientsCommand(ctx: Ctx, params: GradientsParams): Promise<number> {
  const r = await ctx.client.request('gradients', params, { signal: ctx.signal, ...(ctx.onProgress ? { onProgress: ctx.onProgress } : {}) });
  const coef = params.auxLossCoef ?? 0;
  ctx.write(`loss      ${r.loss.toFixed(6)}` + (coef !== 0 ? ` (lm ${r.lmLoss.toFixed(6)} + ${coef} x aux)` : ''));
  ctx.write(`aux_loss  ${r.auxLoss.toFixed(6)}`);
  ctx.write(`tokens    ${r.tokens.length}`);
  ctx.write(`tensors   ${r.tensors.length} gradients (F32) + loss, aux_loss`);
  ctx.write(`file      ${r.file}`);
  return 0;
}
