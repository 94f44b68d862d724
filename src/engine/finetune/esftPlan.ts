// ESFT on the user's data (issue #10 §1): the routing of the training sequences through the loaded model,
// scored per layer and expert (esftSelection.ts), the experts selected at the threshold, and what training
// them costs — shown before training and editable.
import { MoeError } from '../../protocol/moeError';
import type { MoeEngine } from '../moeEngine';
import { trainableParameterCount, type ParameterCount } from '../training/trainableParameters';
import type { TrainableSet } from '../training/trainableSet';
import { type EsftMethod, EsftScores, esftSelection, type LayerEsftScores } from './esftSelection';

export interface EsftPlan {
  readonly method: EsftMethod;
  readonly threshold: number;
  readonly scores: readonly LayerEsftScores[];
  /** MoE layer → selected expert ids, ascending. */
  readonly selection: ReadonlyMap<number, readonly number[]>;
  readonly trainable: TrainableSet;
  readonly parameters: ParameterCount;
  readonly sequences: number;
  readonly tokens: number;
}

/** Scores the experts on `sequences` (forward passes with routing) and selects per layer. */
/** Between sequences: `progress(done, total)`, then `pause()` (a job lets waiting queries run there). */
export interface EsftHooks {
  progress?(done: number, total: number): void;
  pause?(): Promise<void>;
}

export async function esftPlan(engine: MoeEngine, sequences: readonly (readonly number[])[], method: EsftMethod, threshold: number, signal?: AbortSignal, hooks: EsftHooks = {}): Promise<EsftPlan> {
  const c = engine.config;
  const layers = new Map(c.layers.flatMap((l, i) => (l.kind === 'moe' ? [[i, l.routing.numExperts] as [number, number]] : [])));
  if (layers.size === 0) throw new MoeError('E_INPUT', `${engine.info.path} has no MoE layer: ESFT selects routed experts`);
  const scores = new EsftScores(layers);
  for (const ids of sequences) {
    if (signal?.aborted) throw new MoeError('E_CANCELLED', 'ESFT scoring cancelled');
    const r = await engine.forward(ids, { routing: true, hidden: false, logits: false });
    scores.add(r.routing);
    hooks.progress?.(scores.sequenceCount, sequences.length);
    await hooks.pause?.();
  }
  if (scores.sequenceCount === 0) throw new MoeError('E_INPUT', 'ESFT needs at least one sequence of training data to score the experts');
  const all = scores.scores();
  const selection = esftSelection(all, method, threshold);
  const trainable: TrainableSet = { tensors: new Set(), experts: new Map([...selection].map(([L, es]) => [L, new Set(es)])) };
  return { method, threshold, scores: all, selection, trainable, parameters: trainableParameterCount(c, trainable), sequences: scores.sequenceCount, tokens: scores.tokens };
}
