// The units the engine loads and runs one at a time (embeddings, each decoder layer, final norm + head), with
// what each costs in memory: as stored in the safetensors files and as float32. The float32 figure counts the
// expert weights in the MoE operator's layout (fc1 [E, 2I, H], fc2 [E, H, I]), which holds exactly the
// elements of the Hugging Face gate/up/down tensors, so it is 4 bytes per stored element.
import type { Checkpoint } from '../model/checkpoint';
import { storageElementBytes, type StorageDtype } from '../model/dtype';
import type { ModelConfig } from '../model/modelConfig';
import { eachExpectedTensor, expertLayout } from '../model/tensorSpec';

export type MemoryUnitKind = 'embeddings' | 'layer' | 'head';

export interface MemoryUnit {
  readonly kind: MemoryUnitKind;
  /** Decoder layer index, for kind 'layer'. */
  readonly layer?: number;
  /** Bytes as stored (a head tied to the embeddings stores only its norm). */
  readonly storedBytes: number;
  /** Bytes of the float32 copy the unit runs with (a tied head: the whole embedding matrix). */
  readonly f32Bytes: number;
  /** Stored dtypes of its tensors, e.g. ["BF16"]. */
  readonly dtypes: readonly string[];
  /**
   * Streaming reads the routed experts' gate and up projections one block at a time (to interleave them
   * into fc1): the stored bytes of one expert's projection, 0 without routed experts.
   */
  readonly readBlockBytes: number;
  /** Of f32Bytes, what is the embeddings' matrix (a tied head): resident mode holds it once. */
  readonly sharedF32Bytes: number;
}

/** How one tensor is stored: its dtype and byte length. */
export type StoredTensorOf = (name: string, elements: number) => { readonly dtype: string; readonly bytes: number };

/** The units of a config, with stored sizes from `storedOf` (the headers, or a dtype for planning by shape). */
export function memoryUnits(c: ModelConfig, storedOf: StoredTensorOf): MemoryUnit[] {
  const acc = new Map<string, { kind: MemoryUnitKind; layer?: number; stored: number; f32: number; shared: number; dtypes: Set<string> }>();
  const unit = (kind: MemoryUnitKind, layer?: number) => {
    const key = layer === undefined ? kind : `layer.${layer}`;
    let u = acc.get(key);
    if (!u) {
      u = { kind, ...(layer === undefined ? {} : { layer }), stored: 0, f32: 0, shared: 0, dtypes: new Set() };
      acc.set(key, u);
    }
    return u;
  };
  // Fixed order: embeddings, layers, head (the order they run in).
  unit('embeddings');
  for (let L = 0; L < c.numLayers; L++) unit('layer', L);
  unit('head');
  for (const t of eachExpectedTensor(c)) {
    const elements = t.shape.reduce((a, b) => a * b, 1);
    const s = storedOf(t.name, elements);
    const m = /^model\.layers\.(\d+)\./.exec(t.name);
    const u = m ? unit('layer', Number(m[1])) : t.name === 'model.embed_tokens.weight' ? unit('embeddings') : unit('head');
    u.stored += s.bytes;
    u.f32 += elements * 4;
    u.dtypes.add(s.dtype);
    if (t.name === 'model.embed_tokens.weight' && c.tieWordEmbeddings) {
      // The tied head multiplies by the same matrix: it needs its own float32 copy when it runs.
      const head = unit('head');
      head.f32 += elements * 4;
      head.shared += elements * 4;
      head.dtypes.add(s.dtype);
    }
  }
  const block = (L: number | undefined): number => {
    const l = L === undefined ? undefined : c.layers[L];
    if (L === undefined || l?.kind !== 'moe') return 0;
    const lay = expertLayout(c, L);
    const I = l.intermediateSize;
    const elements = I * c.hiddenSize;
    // A fused [E, 2I, H] tensor is read per expert and projection too: its element size decides.
    const probe = lay.kind === 'fused' ? storedOf(lay.gateUp, l.routing.numExperts * 2 * elements) : storedOf(lay.gate(0), elements);
    const total = lay.kind === 'fused' ? l.routing.numExperts * 2 * elements : elements;
    return (probe.bytes / total) * elements;
  };
  return [...acc.values()].map((u) => ({ kind: u.kind, ...(u.layer === undefined ? {} : { layer: u.layer }), storedBytes: u.stored, f32Bytes: u.f32, dtypes: [...u.dtypes].sort(), readBlockBytes: block(u.layer), sharedF32Bytes: u.shared }));
}

/** Units of an opened checkpoint, stored sizes from its safetensors headers. */
export function checkpointMemoryUnits(ckpt: Pick<Checkpoint, 'config' | 'tensors'>): MemoryUnit[] {
  return memoryUnits(ckpt.config, (name, elements) => {
    const loc = ckpt.tensors.get(name);
    // openCheckpoint has validated every expected tensor; a missing one would be a bug upstream.
    return loc ? { dtype: loc.entry.dtype, bytes: loc.entry.byteLength } : { dtype: 'F32', bytes: elements * 4 };
  });
}

/** Units of a config as if every tensor were stored in `dtype` (planning for published shapes). */
export function shapeMemoryUnits(c: ModelConfig, dtype: StorageDtype): MemoryUnit[] {
  const size = storageElementBytes(dtype);
  return memoryUnits(c, (_name, elements) => ({ dtype, bytes: elements * size }));
}
