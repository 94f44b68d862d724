// The `finetunePlan` request (issue #10 §1): what a finetune with these parameters would train, on what
// data — the ESFT scores per layer and the selection, the experts and tensors that would train and their
// parameters, the packed data's figures and the first tokens of the first sequence with their chat mask —
// from the same preparation as the job (finetunePreparation.ts), so the preview cannot disagree with the run.
// An empty selection is returned, not refused: the person may add experts before training.
import type { FinetunePlan, FinetunePlanParams, Progress } from '../../protocol/engineProtocol';
import { MoeError } from '../../protocol/moeError';
import type { MoeEngine } from '../moeEngine';
import { trainableParameterCount } from '../training/trainableParameters';
import { prepareFinetuneData, prepareTrainable } from './finetunePreparation';

const DEFAULT_PREVIEW_TOKENS = 200;

export async function finetunePlan(engine: MoeEngine, p: FinetunePlanParams, ctx: { readonly signal?: AbortSignal; progress?(p: Progress): void; pause?(): Promise<void> }): Promise<FinetunePlan> {
  const c = engine.config;
  const previewTokens = p.previewTokens ?? DEFAULT_PREVIEW_TOKENS;
  if (!Number.isInteger(previewTokens) || previewTokens < 0) throw new MoeError('E_INPUT', `previewTokens must be an integer >= 0 (got ${previewTokens})`);
  const data = prepareFinetuneData(engine, p, ctx.signal);
  const chosen = await prepareTrainable(engine, p, data.train, ctx);
  const { trainable } = chosen;

  const moe = c.layers.flatMap((l, i) => (l.kind === 'moe' ? [i] : []));
  const experts = moe.map((L) => [L, [...(trainable.experts.get(L) ?? [])].sort((a, b) => a - b)] as const);
  const count = trainableParameterCount(c, trainable);
  const other = trainableParameterCount(c, { tensors: trainable.tensors, experts: new Map() }).trainable;
  const expertParameters = moe.map((L) => [L, trainableParameterCount(c, { tensors: new Set(), experts: new Map([[L, new Set([0])]]) }).trainable] as const);
  const numExperts = moe.reduce((n, L) => {
    const l = c.layers[L]!;
    return l.kind === 'moe' ? Math.max(n, l.routing.numExperts) : n;
  }, 0);

  const first = data.train[0]!;
  const preview = first.ids.slice(0, previewTokens).map((id, i) => ({
    text: engine.tokenizer.tokenText(id),
    // Token i is the target of position i - 1. The first token of a sequence is never predicted, but the
    // preview marks prompts (masked text), so it is marked only when the token after it is a prompt token too.
    masked: first.lossMask ? first.lossMask[i === 0 ? 0 : i - 1] === 0 : false,
  }));

  const plan = chosen.plan;
  return {
    seqLen: data.seqLen,
    files: data.files,
    sequences: data.train.length,
    tokens: data.train.reduce((n, q) => n + q.ids.length, 0),
    trainedTargets: data.train.reduce((n, q) => n + (q.lossMask ? q.lossMask.reduce((a, b) => a + b, 0) : q.ids.length - 1), 0),
    chatRecords: data.chatRecords,
    heldOut: data.heldOutFrom,
    ...(plan
      ? {
          selection: {
            method: plan.method,
            threshold: plan.threshold,
            layers: plan.scores.map((s) => ({ layer: s.layer, scores: Array.from(plan.method === 'esft-token' ? s.token : s.gate), selected: [...(plan.selection.get(s.layer) ?? [])] })),
          },
        }
      : {}),
    experts,
    tensors: [...trainable.tensors].sort(),
    trainableParameters: count.trainable,
    totalParameters: count.total,
    otherParameters: other,
    expertParameters,
    numExperts,
    preview,
  };
}
