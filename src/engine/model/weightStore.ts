// The weights the engine computes with, by engine name (HF names, plus the expert tensors in the MoE
// operator's layout, unitTensors.ts), held in one of three modes:
// - resident: every float32 tensor kept (the fastest; 16-bit checkpoints double in size);
// - cached: the checkpoint's tensors kept in their stored dtype, float32 copies of the planned layers (and
//   of every unit stored as F32, which runs from its own copy), the other units converted when they run;
// - streaming: nothing kept: a unit is read from the safetensors files when it runs (the page cache does
//   the rest).
// Units converted when they run share one reused float32 buffer: a fresh multi-GB buffer costs far more to
// touch the first time than the copy into it (9.2 s vs 0.58 s for 2.4 GB measured here).
import { MoeError } from '../../protocol/moeError';
import type { Progress } from '../../protocol/engineProtocol';
import type { LayerWeights, UnitWeights, WeightUnit } from '../layerwise/layerwiseModel';
import type { Checkpoint } from './checkpoint';
import type { ModelConfig } from './modelConfig';
import { DiskSource, HeldSource, type StoredTensor, type TensorSource } from './tensorSource';
import { engineTensors, type EngineTensor } from './unitTensors';

export interface WeightTensor {
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

export type WeightMode = 'resident' | 'cached' | 'streaming';

export interface WeightPlan {
  readonly mode: WeightMode;
  /** Decoder layers that keep a float32 copy in cached mode (ignored otherwise). */
  readonly f32Layers: ReadonlySet<number>;
}

/** Bytes held by the store, by what holds them. */
export interface WeightHolding {
  readonly mode: WeightMode;
  readonly storedBytes: number;
  readonly f32Bytes: number;
  readonly bufferBytes: number;
  readonly overrideBytes: number;
  readonly totalBytes: number;
}

export interface LoadOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: Progress) => void;
}

const EMBED = 'model.embed_tokens.weight';

export class WeightStore implements LayerWeights {
  private readonly byName = new Map<string, EngineTensor>();
  private readonly byUnit = new Map<WeightUnit | 'embeddings', EngineTensor[]>();
  /** Kept float32 tensors (views of `stored` for F32 tensors of converted units). */
  private readonly f32 = new Map<string, WeightTensor>();
  private readonly stored = new Map<string, StoredTensor>();
  private readonly overrides = new Map<string, WeightTensor>();
  private source: TensorSource | undefined;
  private disk: DiskSource | undefined;
  private buffer: Float32Array | undefined;
  /** The unit whose weights the buffer holds (a unit run twice in a row is not converted again). */
  private bufferUnit: WeightUnit | undefined;

  constructor(
    private readonly config: ModelConfig,
    readonly mode: WeightMode,
  ) {
    for (const t of engineTensors(config)) {
      this.byName.set(t.name, t);
      const list = this.byUnit.get(t.unit) ?? [];
      list.push(t);
      this.byUnit.set(t.unit, list);
    }
  }

  /** A float32 tensor: the kept copy, or one converted now (cached, streaming) that the store does not keep. */
  get(name: string): WeightTensor {
    const t = this.overrides.get(name) ?? this.f32.get(name);
    if (t) return t;
    const spec = this.byName.get(name);
    if (!spec || !this.source) throw new MoeError('E_INTERNAL', `weight "${name}" is not loaded`);
    const data = new Float32Array(spec.elements);
    for (const k of spec.copies) this.source.copy(k, data, 0);
    return { dims: spec.dims, data };
  }

  /** Replaces a weight (kept as float32 in every mode: a changed weight has no stored copy). */
  set(name: string, t: WeightTensor): void {
    const n = t.dims.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new MoeError('E_INTERNAL', `weight "${name}": ${t.data.length} values for shape [${t.dims.join(', ')}]`);
    if (this.f32.has(name) && this.mode === 'resident') this.f32.set(name, t);
    else this.overrides.set(name, t);
    if (this.bufferUnit !== undefined && this.byName.get(name)?.unit === this.bufferUnit) this.bufferUnit = undefined;
  }

  acquire(unit: WeightUnit): Promise<UnitWeights> {
    const tensors = this.byUnit.get(unit) ?? [];
    const missing = tensors.filter((t) => !this.f32.has(t.name) && !this.overrides.has(t.name));
    if (missing.length === 0) return Promise.resolve(this);
    const views = new Map<string, WeightTensor>();
    const buf = this.unitBuffer(missing.reduce((n, t) => n + t.elements, 0));
    let at = 0;
    const fresh = this.bufferUnit !== unit;
    for (const t of missing) {
      if (fresh) for (const k of t.copies) this.source!.copy(k, buf, at);
      views.set(t.name, { dims: t.dims, data: buf.subarray(at, at + t.elements) });
      at += t.elements;
    }
    this.bufferUnit = unit;
    return Promise.resolve({ get: (name) => this.overrides.get(name) ?? this.f32.get(name) ?? views.get(name) ?? this.get(name) });
  }

  release(): void {}

  embeddingRows(ids: Int32Array): Float32Array {
    const H = this.config.hiddenSize;
    const out = new Float32Array(ids.length * H);
    const table = this.overrides.get(EMBED) ?? this.f32.get(EMBED);
    if (table) {
      ids.forEach((id, t) => out.set(table.data.subarray(id * H, (id + 1) * H), t * H));
    } else {
      ids.forEach((id, t) => this.source!.copy({ hf: EMBED, from: id * H, rowLen: H, rows: 1, to: t * H, stride: H }, out, 0));
    }
    return out;
  }

  /** Bytes held, by kind (each buffer counted once: F32 tensors of converted units are views of their stored copy). */
  get holding(): WeightHolding {
    const seen = new Set<ArrayBufferLike>();
    const count = (arrays: Iterable<{ buffer: ArrayBufferLike }>): number => {
      let n = 0;
      for (const a of arrays) {
        if (seen.has(a.buffer)) continue;
        seen.add(a.buffer);
        n += a.buffer.byteLength;
      }
      return n;
    };
    const storedBytes = count([...this.stored.values()].map((t) => t.data));
    const f32Bytes = count([...this.f32.values()].map((t) => t.data));
    const overrideBytes = count([...this.overrides.values()].map((t) => t.data));
    const bufferBytes = (this.buffer?.byteLength ?? 0) + (this.disk?.scratchBytes ?? 0);
    return { mode: this.mode, storedBytes, f32Bytes, bufferBytes, overrideBytes, totalBytes: storedBytes + f32Bytes + bufferBytes + overrideBytes };
  }

  get byteSize(): number {
    return this.holding.totalBytes;
  }

  /** Closes the files a streaming store reads from. */
  close(): void {
    this.disk?.close();
    this.disk = undefined;
  }

  /** The reused buffer, grown to `elements` (units of one model differ in size: the largest decides). */
  private unitBuffer(elements: number): Float32Array {
    if (!this.buffer || this.buffer.length < elements) {
      this.buffer = new Float32Array(Math.max(elements, this.largestConverted()));
      this.bufferUnit = undefined;
    }
    return this.buffer;
  }

  private largestConverted(): number {
    let max = 0;
    for (const [unit, ts] of this.byUnit) {
      if (unit === 'embeddings') continue;
      max = Math.max(max, ts.filter((t) => !this.f32.has(t.name)).reduce((n, t) => n + t.elements, 0));
    }
    return max;
  }

  /** Loads per `plan`: reads what the mode keeps, converting the kept float32 tensors. */
  static async load(ckpt: Checkpoint, plan: WeightPlan, opts: LoadOptions = {}): Promise<WeightStore> {
    const store = new WeightStore(ckpt.config, plan.mode);
    const disk = new DiskSource(ckpt);
    try {
      await store.fill(disk, plan, opts);
    } catch (e) {
      disk.close();
      throw e;
    }
    if (plan.mode === 'streaming') {
      store.disk = disk;
      store.source = disk;
    } else {
      disk.close();
      store.source = new HeldSource(store.stored);
    }
    return store;
  }

  private async fill(disk: DiskSource, plan: WeightPlan, opts: LoadOptions): Promise<void> {
    if (plan.mode === 'streaming') return;
    const allF32 = (ts: readonly EngineTensor[]): boolean => ts.every((t) => t.sources.every((s) => disk.dtypeOf(s) === 'F32'));
    const keptUnit = (unit: WeightUnit | 'embeddings', ts: readonly EngineTensor[]): boolean =>
      plan.mode === 'resident' || (plan.mode === 'cached' && unit !== 'embeddings' && (allF32(ts) || (typeof unit === 'number' && plan.f32Layers.has(unit))));
    const keep: EngineTensor[] = [];
    const hold = new Set<string>();
    for (const [unit, ts] of this.byUnit) {
      if (keptUnit(unit, ts)) keep.push(...ts);
      else for (const t of ts) for (const s of t.sources) hold.add(s);
    }
    // The embedding rows are looked up from the stored matrix when no float32 copy is kept.
    if (!keep.some((t) => t.name === EMBED)) hold.add(EMBED);
    const progress = stepper(keep.length + hold.size, opts);
    for (const t of keep) {
      const data = new Float32Array(t.elements);
      for (const k of t.copies) disk.copy(k, data, 0);
      this.f32.set(t.name, { dims: t.dims, data });
      await progress(t.name);
    }
    for (const hf of hold) {
      this.stored.set(hf, disk.readStored(hf));
      await progress(hf);
    }
    // A plain F32 tensor of a converted unit runs from its stored copy.
    for (const [unit, ts] of this.byUnit) {
      if (keptUnit(unit, ts)) continue;
      for (const t of ts) {
        const s = t.sources.length === 1 && t.copies.length === 1 && t.copies[0]!.rowLen === t.elements ? this.stored.get(t.sources[0]!) : undefined;
        if (s?.dtype === 'F32') this.f32.set(t.name, { dims: t.dims, data: s.data as Float32Array });
      }
    }
  }
}

/** Lets queued messages (a cancel) in between reads. */
const breathe = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function stepper(total: number, opts: LoadOptions): (what: string) => Promise<void> {
  let done = 0;
  let lastBreath = performance.now();
  return async (what) => {
    done++;
    opts.onProgress?.({ stage: 'weights', done, total, message: what });
    if (performance.now() - lastBreath > 50) {
      await breathe();
      lastBreath = performance.now();
    }
    if (opts.signal?.aborted) throw new MoeError('E_CANCELLED', 'loading cancelled');
  };
}

/** Reads every tensor the engine needs as float32 (resident mode). */
export function loadWeights(ckpt: Checkpoint, opts: LoadOptions = {}): Promise<WeightStore> {
  return WeightStore.load(ckpt, { mode: 'resident', f32Layers: new Set() }, opts);
}
