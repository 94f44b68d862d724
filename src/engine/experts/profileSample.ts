// The profile's sample: the first N calibration tokens with their routing per MoE layer, stored compactly
// (base64 Uint16 ids and Float32 weights) so a preview can count exactly which tokens a plan touches.
import type { ProfileSample } from '../../protocol/expertOps';
import type { LayerRouting, TokenSpan } from '../../protocol/engineProtocol';
import { MoeError } from '../../protocol/moeError';

/** Default number of sampled tokens kept in a profile. */
export const SAMPLE_TOKENS = 8192;

export class SampleBuilder {
  private readonly tokens: string[] = [];
  private readonly doc: number[] = [];
  private readonly offset: number[] = [];
  private readonly experts: Uint16Array[];
  private readonly weights: Float32Array[];
  private n = 0;

  constructor(
    private readonly cap: number,
    private readonly topKs: readonly number[],
  ) {
    this.experts = topKs.map((k) => new Uint16Array(cap * k));
    this.weights = topKs.map((k) => new Float32Array(cap * k));
  }

  get full(): boolean {
    return this.n >= this.cap;
  }

  /** Adds the tokens of one chunk (spans from the tokenizer, routing per MoE layer in profile order). */
  add(docIndex: number, spans: readonly TokenSpan[], routing: readonly LayerRouting[]): void {
    const take = Math.min(spans.length, this.cap - this.n);
    for (let t = 0; t < take; t++) {
      this.tokens.push(spans[t]!.text);
      this.doc.push(docIndex);
      this.offset.push(spans[t]!.start);
    }
    routing.forEach((r, i) => {
      const k = this.topKs[i]!;
      for (let j = 0; j < take * k; j++) {
        this.experts[i]![this.n * k + j] = r.experts.data[j]!;
        this.weights[i]![this.n * k + j] = r.weights.data[j]!;
      }
    });
    this.n += take;
  }

  result(): ProfileSample {
    const b64 = (a: Uint16Array | Float32Array, len: number): string => Buffer.from(a.buffer, a.byteOffset, len * a.BYTES_PER_ELEMENT).toString('base64');
    return {
      tokens: this.tokens,
      doc: this.doc,
      offset: this.offset,
      experts: this.experts.map((a, i) => b64(a, this.n * this.topKs[i]!)),
      weights: this.weights.map((a, i) => b64(a, this.n * this.topKs[i]!)),
    };
  }
}

/** The sample's routing of one layer (index into profile.layers), decoded. */
export function decodeSampleLayer(sample: ProfileSample, i: number, topK: number): { experts: Uint16Array; weights: Float32Array } {
  const n = sample.tokens.length;
  const eb = Buffer.from(sample.experts[i] ?? '', 'base64');
  const wb = Buffer.from(sample.weights[i] ?? '', 'base64');
  if (eb.length !== n * topK * 2 || wb.length !== n * topK * 4) throw new MoeError('E_INPUT', `profile sample of layer #${i} has ${eb.length / 2} expert ids for ${n} tokens × top-${topK}`);
  const experts = new Uint16Array(n * topK);
  const weights = new Float32Array(n * topK);
  for (let j = 0; j < n * topK; j++) {
    experts[j] = eb.readUInt16LE(j * 2);
    weights[j] = wb.readFloatLE(j * 4);
  }
  return { experts, weights };
}
