// Rotary position embedding frequencies, computed as HF does in float32 (including llama3/linear scaling).
import type { ModelConfig } from '../model/modelConfig';

const f32 = Math.fround;

/** inv_freq[i] = 1 / theta^(2i/D) in float32, then the config's scaling rule. Length D/2. */
export function ropeInvFreq(c: ModelConfig): Float32Array {
  const D = c.headDim;
  const inv = new Float32Array(D / 2);
  for (let i = 0; i < D / 2; i++) inv[i] = f32(1 / f32(Math.pow(c.ropeTheta, f32(f32(2 * i) / D))));
  const s = c.ropeScaling;
  if (s.type === 'linear') {
    // HF divides the positions by the factor; dividing the frequencies is the same product.
    for (let i = 0; i < inv.length; i++) inv[i] = f32(inv[i]! / s.factor);
  } else if (s.type === 'llama3') {
    const lowWavelen = s.originalMaxPositions / s.lowFreqFactor;
    const highWavelen = s.originalMaxPositions / s.highFreqFactor;
    for (let i = 0; i < inv.length; i++) {
      const f = inv[i]!;
      const wavelen = (2 * Math.PI) / f;
      let out = wavelen > lowWavelen ? f / s.factor : f;
      if (!(wavelen < highWavelen) && !(wavelen > lowWavelen)) {
        const smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        out = (1 - smooth) * (out / s.factor) + smooth * out;
      }
      inv[i] = f32(out);
    }
  }
  return inv;
}
