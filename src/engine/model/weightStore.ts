// The weights the engine computes with: float32 buffers keyed by name (HF names, plus the derived expert
// tensors in the MoE operator's layout). Graphs take them as inputs, so every session shares one copy, and
// operations that change weights (pruning, upcycling, fine-tuning) change them here.
import { MoeError } from '../../protocol/moeError';
import type { Progress } from '../../protocol/engineProtocol';
import type { LayerWeights, UnitWeights } from '../layerwise/layerwiseModel';
import type { Checkpoint } from './checkpoint';
import type { ModelConfig } from './modelConfig';
import { expertFc1Name, expertFc2Name } from './engineTensorNames';
import { expectedTensors, expertLayout } from './tensorSpec';

export interface WeightTensor {
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

export class WeightStore implements LayerWeights {
  private readonly tensors = new Map<string, WeightTensor>();

  constructor(private readonly config: ModelConfig) {}

  // Every weight is resident as float32: a unit's weights are the store itself.
  acquire(): Promise<UnitWeights> {
    return Promise.resolve(this);
  }

  release(): void {}

  embeddingRows(ids: Int32Array): Float32Array {
    const H = this.config.hiddenSize;
    const table = this.get('model.embed_tokens.weight').data;
    const out = new Float32Array(ids.length * H);
    ids.forEach((id, t) => out.set(table.subarray(id * H, (id + 1) * H), t * H));
    return out;
  }

  get(name: string): WeightTensor {
    const t = this.tensors.get(name);
    if (!t) throw new MoeError('E_INTERNAL', `weight "${name}" is not loaded`);
    return t;
  }

  set(name: string, t: WeightTensor): void {
    const n = t.dims.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new MoeError('E_INTERNAL', `weight "${name}": ${t.data.length} values for shape [${t.dims.join(', ')}]`);
    this.tensors.set(name, t);
  }

  get byteSize(): number {
    let n = 0;
    for (const t of this.tensors.values()) n += t.data.byteLength;
    return n;
  }
}

export interface LoadOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: Progress) => void;
}


/** Lets queued messages (a cancel) in between reads. */
const breathe = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Reads every tensor the engine needs from the checkpoint into a WeightStore (float32). */
export async function loadWeights(ckpt: Checkpoint, opts: LoadOptions = {}): Promise<WeightStore> {
  const c = ckpt.config;
  const store = new WeightStore(c);
  const expertNames = new Set<string>();
  c.layers.forEach((l, L) => {
    if (l.kind !== 'moe') return;
    const lay = expertLayout(c, L);
    if (lay.kind === 'fused') {
      expertNames.add(lay.gateUp).add(lay.down);
    } else {
      for (let e = 0; e < l.routing.numExperts; e++) expertNames.add(lay.gate(e)).add(lay.up(e)).add(lay.down(e));
    }
  });
  const plain = expectedTensors(c).filter((t) => !expertNames.has(t.name));
  const total = plain.length + c.layers.filter((l) => l.kind === 'moe').length;
  let done = 0;
  let lastBreath = performance.now();
  const step = async (what: string): Promise<void> => {
    done++;
    opts.onProgress?.({ stage: 'weights', done, total, message: what });
    if (performance.now() - lastBreath > 50) {
      await breathe();
      lastBreath = performance.now();
    }
    if (opts.signal?.aborted) throw new MoeError('E_CANCELLED', 'loading cancelled');
  };
  for (const t of plain) {
    store.set(t.name, { dims: t.shape, data: ckpt.readF32(t.name) });
    await step(t.name);
  }
  for (const [L, l] of c.layers.entries()) {
    if (l.kind !== 'moe') continue;
    const E = l.routing.numExperts;
    const I = l.intermediateSize;
    const H = c.hiddenSize;
    const fc1 = new Float32Array(E * 2 * I * H);
    const fc2 = new Float32Array(E * H * I);
    const lay = expertLayout(c, L);
    if (lay.kind === 'fused') {
      // GraniteMoE input_linear [E, 2I, H]: rows 0..I-1 gate, I..2I-1 up.
      const gateUp = ckpt.readF32(lay.gateUp);
      for (let e = 0; e < E; e++) interleave(gateUp, e * 2 * I * H, gateUp, (e * 2 * I + I) * H, fc1, e * 2 * I * H, I, H);
      ckpt.readF32(lay.down, fc2, 0);
    } else {
      const gate = new Float32Array(I * H);
      const up = new Float32Array(I * H);
      for (let e = 0; e < E; e++) {
        ckpt.readF32(lay.gate(e), gate, 0);
        ckpt.readF32(lay.up(e), up, 0);
        interleave(gate, 0, up, 0, fc1, e * 2 * I * H, I, H);
        ckpt.readF32(lay.down(e), fc2, e * H * I);
      }
    }
    store.set(expertFc1Name(L), { dims: [E, 2 * I, H], data: fc1 });
    store.set(expertFc2Name(L), { dims: [E, H, I], data: fc2 });
    await step(`layer ${L} experts`);
  }
  return store;
}

/** fc1 rows for swiglu_fusion=1: row 2i is gate row i, row 2i+1 is up row i. */
function interleave(gate: Float32Array, gateOff: number, up: Float32Array, upOff: number, out: Float32Array, outOff: number, I: number, H: number): void {
  for (let i = 0; i < I; i++) {
    out.set(gate.subarray(gateOff + i * H, gateOff + (i + 1) * H), outOff + 2 * i * H);
    out.set(up.subarray(upOff + i * H, upOff + (i + 1) * H), outOff + (2 * i + 1) * H);
  }
}
