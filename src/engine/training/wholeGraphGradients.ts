// The same loss and gradients as computeGradients from the whole model as one graph (trainingSession.ts):
// the oracle the layer-wise runner is tested against.
import { MoeError } from '../../protocol/moeError';
import type { MoeEngine } from '../moeEngine';
import type { FeedTensor } from '../runtime/ortSession';
import { checkInputs, type GradientOptions, type GradientResult, trainableGraphWeights } from './computeGradients';
import { readAnyWeight } from './gradientWeights';
import { hfGradients } from './hfGradients';
import { gradOutputName, trainingSession } from './trainingSession';

export async function wholeGraphGradients(engine: MoeEngine, ids: readonly number[], opts: GradientOptions): Promise<GradientResult & { readonly zLoss: number }> {
  const mask = checkInputs(engine, ids, opts);
  const session = await trainingSession(engine, trainableGraphWeights(opts.trainable));
  const scalar = (v: number): FeedTensor => ({ type: 'float32', data: Float32Array.of(v), dims: [] });
  const feeds: Record<string, FeedTensor> = {
    input_ids: { type: 'int64', data: BigInt64Array.from(ids, (i) => BigInt(i)), dims: [ids.length] },
    loss_mask: { type: 'float32', data: mask, dims: [mask.length] },
    aux_coef: scalar(opts.auxLossCoef ?? 0),
    z_coef: scalar(opts.zLossCoef ?? 0),
  };
  const read = readAnyWeight(engine);
  for (const name of session.inputNames) {
    if (feeds[name]) continue;
    const w = read(name);
    feeds[name] = { type: 'float32', data: w.data, dims: w.dims };
  }
  const out = await session.run(feeds);
  const f32 = (name: string): Float32Array => {
    const t = out[name]?.data;
    if (!(t instanceof Float32Array)) throw new MoeError('E_INTERNAL', `training graph output ${name} is missing`);
    return t;
  };
  const grads = hfGradients(engine.config, opts.trainable, (w) => f32(gradOutputName(w)));
  return { loss: f32('loss')[0]!, lmLoss: f32('lm_loss')[0]!, auxLoss: f32('aux_loss')[0]!, zLoss: f32('z_loss')[0]!, grads };
}
