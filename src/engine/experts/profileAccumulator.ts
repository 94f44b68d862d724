// Sums of §3.0 (docs/moe-methods.md) over calibration tokens for one MoE layer, fed with the routing the
// engine returns for a chunk: applied top-k ids and weights, router logits and the routed experts' output
// norms. Pure: the same code checks the numbers in tests.
import type { LayerProfile } from '../../protocol/expertOps';
import type { LayerRouting } from '../../protocol/engineProtocol';
import { MoeError } from '../../protocol/moeError';

export class LayerAccumulator {
  tokens = 0;
  readonly count: Float64Array;
  readonly gateSum: Float64Array;
  readonly probSum: Float64Array;
  readonly eanSum: Float64Array;
  readonly reapSum: Float64Array;
  readonly maxNorm: Float64Array;
  readonly logitSum: Float64Array;
  readonly logitGram: Float64Array;
  private readonly prob: Float64Array;

  constructor(
    readonly layer: number,
    readonly numExperts: number,
    readonly topK: number,
  ) {
    const E = numExperts;
    this.count = new Float64Array(E);
    this.gateSum = new Float64Array(E);
    this.probSum = new Float64Array(E);
    this.eanSum = new Float64Array(E);
    this.reapSum = new Float64Array(E);
    this.maxNorm = new Float64Array(E);
    this.logitSum = new Float64Array(E);
    this.logitGram = new Float64Array(E * E);
    this.prob = new Float64Array(E);
  }

  add(r: LayerRouting): void {
    const E = this.numExperts;
    const K = this.topK;
    const T = r.routerLogits.rows;
    if (r.routerLogits.cols !== E || r.experts.cols !== K || r.weights.cols !== K) throw new MoeError('E_INTERNAL', `layer ${this.layer}: routing shapes do not match the profile`);
    const norms = r.expertNorms;
    if (!norms) throw new MoeError('E_INTERNAL', `layer ${this.layer}: profiling needs expert output norms`);
    const z = r.routerLogits.data;
    const gram = this.logitGram;
    for (let t = 0; t < T; t++) {
      const o = t * E;
      let max = -Infinity;
      for (let e = 0; e < E; e++) max = Math.max(max, z[o + e]!);
      let sum = 0;
      for (let e = 0; e < E; e++) {
        const p = Math.exp(z[o + e]! - max);
        this.prob[e] = p;
        sum += p;
      }
      for (let i = 0; i < E; i++) {
        this.probSum[i]! += this.prob[i]! / sum;
        const zi = z[o + i]!;
        this.logitSum[i]! += zi;
        const row = i * E;
        for (let j = i; j < E; j++) gram[row + j]! += zi * z[o + j]!;
      }
      for (let k = 0; k < K; k++) {
        const e = r.experts.data[t * K + k]!;
        const g = r.weights.data[t * K + k]!;
        const n = norms.data[o + e]!;
        this.count[e]! += 1;
        this.gateSum[e]! += g;
        this.eanSum[e]! += n;
        this.reapSum[e]! += g * n;
        if (n > this.maxNorm[e]!) this.maxNorm[e] = n;
      }
    }
    this.tokens += T;
  }

  result(): LayerProfile {
    const E = this.numExperts;
    const gram = Array.from(this.logitGram);
    for (let i = 0; i < E; i++) for (let j = 0; j < i; j++) gram[i * E + j] = gram[j * E + i]!; // mirror the upper triangle
    return {
      layer: this.layer,
      numExperts: E,
      topK: this.topK,
      tokens: this.tokens,
      count: Array.from(this.count),
      gateSum: Array.from(this.gateSum),
      probSum: Array.from(this.probSum),
      eanSum: Array.from(this.eanSum),
      reapSum: Array.from(this.reapSum),
      maxNorm: Array.from(this.maxNorm),
      logitSum: Array.from(this.logitSum),
      logitGram: gram,
    };
  }
}
