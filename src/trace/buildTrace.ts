// Engine output -> the routing trace (docs/trace-format.md), the format every part of the product shares.
import type { ForwardResult, TokenSpan } from '../protocol/engineProtocol';
import type { ModelInfo } from '../protocol/modelInfo';
import { rowOf } from '../protocol/tensors';
import type { RoutingTrace, TraceLayer } from '../protocol/trace';

export interface TraceOptions {
  /** Keep only this decoder layer. */
  readonly layer?: number;
  readonly logits?: boolean;
}

export function buildTrace(info: ModelInfo, tokens: readonly TokenSpan[], r: ForwardResult, opts: TraceOptions = {}): RoutingTrace {
  const T = tokens.length;
  const rows = <R>(f: (t: number) => R): R[] => Array.from({ length: T }, (_, t) => f(t));
  const layers: TraceLayer[] = r.routing
    .filter((l) => opts.layer === undefined || l.layer === opts.layer)
    .map((l) => ({
      layer: l.layer,
      experts: rows((t) => rowOf(l.experts, t)),
      weights: rows((t) => rowOf(l.weights, t)),
      routerLogits: rows((t) => rowOf(l.routerLogits, t)),
      entropy: Array.from(l.entropy),
      ...(l.sharedExpertGate ? { sharedExpertGate: Array.from(l.sharedExpertGate) } : {}),
    }));
  return {
    model: { name: info.name, path: info.path, architecture: info.modelType, numLayers: info.numLayers, numExperts: info.numExperts, topK: info.topK, moeLayers: info.moeLayers },
    tokens: tokens.map((t) => ({ id: t.id, text: t.text, start: t.start, end: t.end })),
    layers,
    ...(opts.logits && r.logits ? { logits: rows((t) => rowOf(r.logits!, t)) } : {}),
    logprobs: Array.from(r.logprobs),
    ...(T > 1 ? { loss: r.loss } : {}),
  };
}
