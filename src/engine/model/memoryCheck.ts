// Refuses, before any weight is read, a model whose float32 weights plus working memory exceed what the
// machine has available. The engine holds every weight in memory as float32 (16-bit files double in size);
// without this check an oversized model is allocated until the process dies (issue #8). The figures come
// from the config, whose sizes configBounds.ts has already bound to the safetensors headers.
import { MoeError } from '../../protocol/moeError';
import { availableMemory, gib, type AvailableMemory } from './availableMemory';
import type { ModelConfig } from './modelConfig';
import { expectedTensors, expertLayout } from './tensorSpec';

/** Besides the weights: ONNX Runtime's arenas, one prompt's activations, the V8 heap. A floor, not a bound. */
const RUNTIME_RESERVE_BYTES = 256 * 2 ** 20;
/** Activations and runtime buffers grow with the model; a tenth of the weights covers ordinary prompts. */
const RUNTIME_SHARE = 0.1;

export interface MemoryNeed {
  readonly weightBytes: number;
  readonly workingBytes: number;
}

/** Float32 bytes of every weight the engine loads, plus working memory (load-time scratch and runtime). */
export function memoryNeeded(c: ModelConfig): MemoryNeed {
  let elements = 0;
  for (const t of expectedTensors(c)) elements += t.shape.reduce((a, b) => a * b, 1);
  const weightBytes = elements * 4;
  // Scratch while loading one MoE layer: GraniteMoE's fused [E, 2I, H] tensor is read whole before it is
  // interleaved; the other layouts read one expert's gate and up projections at a time.
  let scratch = 0;
  for (const [L, l] of c.layers.entries()) {
    if (l.kind !== 'moe') continue;
    const perLayer = expertLayout(c, L).kind === 'fused' ? l.routing.numExperts * 2 * l.intermediateSize * c.hiddenSize : 2 * l.intermediateSize * c.hiddenSize;
    scratch = Math.max(scratch, perLayer * 4);
  }
  return { weightBytes, workingBytes: scratch + Math.max(RUNTIME_RESERVE_BYTES, weightBytes * RUNTIME_SHARE) };
}

/** Throws E_UNSUPPORTED with needed vs available (GiB) when the model cannot be held in memory. */
export function checkMemoryFor(c: ModelConfig, modelDir: string, available: AvailableMemory = availableMemory()): void {
  const need = memoryNeeded(c);
  const total = need.weightBytes + need.workingBytes;
  if (total <= available.bytes) return;
  throw new MoeError(
    'E_UNSUPPORTED',
    `${modelDir}: the model needs about ${gib(total)} of memory (${gib(need.weightBytes)} of float32 weights + ${gib(need.workingBytes)} working memory), ` +
      `but only ${gib(available.bytes)} is available (${available.source}). This engine holds every weight in memory as float32; use a smaller model or free memory.`,
    modelDir,
  );
}
