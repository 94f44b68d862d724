// The weights the engine computes with, by engine name (HF names, plus the expert tensors in the MoE
// operator's layout, unitTensors.ts), held in one of three modes:
// - resident: every float32 tensor kept (the fastest; 16-bit checkpoints double in size);
// - cached: the checkpoint's tensors kept in their stored dtype, float32 copies of the planned layers (and
//   of every unit stored as F32, which runs from its own copy), the other units converted when they run;
// - streaming: nothing kept: a unit is read from the safetensors files when it runs (the page cache does
//   the rest).
// Units converted when they run share two reused float32 slots (the running unit's, and the next one's,
// prepared meanwhile by worker threads, conversionWorker.ts): a fresh multi-GB buffer costs far more to
// touch the first time than the copy into it (9.2 s vs 0.58 s for 2.4 GB measured here). With two cores
// a slot is split into two buffers (unitParts.ts; together the size of the largest unit) filled by two
// workers at once: when a layer's run is short, converting is what a pass waits for.
// get(name) serves any weight as float32 in every mode (converted on demand when no copy is kept, not
// retained); set(name) replaces one, kept as float32 whatever the mode.
import { MoeError } from '../../protocol/moeError';
import type { Progress } from '../../protocol/engineProtocol';
import type { LayerWeights, UnitWeights, WeightUnit } from '../layerwise/layerwiseModel';
import type { Checkpoint } from './checkpoint';
import type { ModelConfig } from './modelConfig';
import { availableParallelism } from 'node:os';
import { ConversionWorker, type FillItem } from './conversionWorker';
import { placeUnits, type Placement } from './unitParts';
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
  /** Prepare the next unit in a worker thread while one runs (default true; tests compare both). */
  readonly prefetch?: boolean;
}

interface Slot {
  /** One buffer per part (unitParts.ts), each of its part's size. */
  parts: Float32Array[];
  unit: WeightUnit | undefined;
  /** Set while workers fill it (its buffers are transferred away meanwhile). */
  pending: Promise<void> | undefined;
}

/** Units split over two buffers, filled by two workers, when the machine has the cores for it. */
const MAX_PARTS = 2;

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
  /**
   * Reused float32 buffers of converted units: the one running and, with a worker, the next one being
   * prepared meanwhile. A slot remembers its unit, so a unit run again (the next sequence of a layer-major
   * batch) is not converted again.
   */
  private readonly slots: Slot[] = [];
  private current = 0;
  /** One per part; none without prefetching. */
  private workers: ConversionWorker[] = [];
  private placement: ReadonlyMap<string, Placement> = new Map();
  private partSizes: readonly number[] = [];

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
    const unit = this.byName.get(name)?.unit;
    for (const slot of this.slots) if (slot.unit === unit) slot.unit = undefined;
  }

  async acquire(unit: WeightUnit, next?: WeightUnit): Promise<UnitWeights> {
    const missing = this.missing(unit);
    const views = new Map<string, WeightTensor>();
    if (missing.length > 0) {
      let s = this.slots.findIndex((x) => x.unit === unit);
      if (s >= 0) await this.slots[s]!.pending;
      if (s < 0 || this.slots[s]!.unit !== unit) {
        s = await this.freeSlot();
        this.fillNow(this.slots[s]!, unit, missing);
      }
      this.current = s;
      const parts = this.slots[s]!.parts;
      for (const t of missing) {
        const p = this.place(t);
        views.set(t.name, { dims: t.dims, data: parts[p.part]!.subarray(p.at, p.at + t.elements) });
      }
    }
    if (next !== undefined) this.prefetch(next);
    return { get: (name) => this.overrides.get(name) ?? this.f32.get(name) ?? views.get(name) ?? this.get(name) };
  }

  /** Tensors of `unit` that have no kept float32 copy. */
  private missing(unit: WeightUnit): EngineTensor[] {
    return (this.byUnit.get(unit) ?? []).filter((t) => !this.f32.has(t.name) && !this.overrides.has(t.name));
  }

  private place(t: EngineTensor): Placement {
    const p = this.placement.get(t.name);
    if (!p) throw new MoeError('E_INTERNAL', `weight "${t.name}" has no place in the layer buffers`);
    return p;
  }

  private addSlots(want: number): void {
    while (this.slots.length < want) this.slots.push({ parts: this.partSizes.map((n) => new Float32Array(n)), unit: undefined, pending: undefined });
  }

  /** A slot to convert into now: not the running one when there are two, waited for if being filled. */
  private async freeSlot(): Promise<number> {
    const want = this.workers.length > 0 ? 2 : 1;
    this.addSlots(want);
    const s = want === 1 ? 0 : 1 - this.current;
    await this.slots[s]!.pending;
    return s;
  }

  private fillNow(slot: Slot, unit: WeightUnit, missing: readonly EngineTensor[]): void {
    slot.unit = undefined; // a failed conversion leaves no half-filled unit behind
    for (const t of missing) {
      const p = this.place(t);
      for (const k of t.copies) this.source!.copy(k, slot.parts[p.part]!, p.at);
    }
    slot.unit = unit;
  }

  /** Starts preparing `unit` in the workers (one per part), into the slot that is not running (if it is free). */
  private prefetch(unit: WeightUnit): void {
    if (this.workers.length === 0 || this.slots.some((x) => x.unit === unit)) return;
    const missing = this.missing(unit);
    if (missing.length === 0) return;
    this.addSlots(2);
    const slot = this.slots[1 - this.current]!;
    if (slot.pending) return;
    const items: FillItem[][] = this.partSizes.map(() => []);
    for (const t of missing) {
      const p = this.place(t);
      items[p.part]!.push({ copies: t.copies, at: p.at });
    }
    slot.unit = unit;
    const fills = items.map(async (its, part) => {
      if (its.length === 0) return true;
      const r = await this.workers[part]!.fill(slot.parts[part]!.buffer as ArrayBuffer, its);
      slot.parts[part] = r.buffer ? new Float32Array(r.buffer) : new Float32Array(this.partSizes[part]!);
      return !r.error && !!r.buffer;
    });
    slot.pending = Promise.all(fills).then((ok) => {
      // On failure the unit is converted on the main thread when it runs, which reports the error.
      if (!ok.every(Boolean)) slot.unit = undefined;
      slot.pending = undefined;
    });
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
    const slotBytes = this.slots.length * this.partSizes.reduce((n, x) => n + x * 4, 0);
    const bufferBytes = slotBytes + (this.disk?.scratchBytes ?? 0) + this.workers.reduce((n, w) => n + w.scratchBytes, 0);
    return { mode: this.mode, storedBytes, f32Bytes, bufferBytes, overrideBytes, totalBytes: storedBytes + f32Bytes + bufferBytes + overrideBytes };
  }

  get byteSize(): number {
    return this.holding.totalBytes;
  }

  /** Closes the files a streaming store reads from and stops the conversion workers. */
  async close(): Promise<void> {
    for (const slot of this.slots) await slot.pending;
    for (const w of this.workers) await w.close();
    this.workers = [];
    this.disk?.close();
    this.disk = undefined;
  }

  /** The converted tensors of each unit (those without a kept float32 copy after loading). */
  private convertedUnits(): EngineTensor[][] {
    return [...this.byUnit].filter(([unit]) => unit !== 'embeddings').map(([, ts]) => ts.filter((t) => !this.f32.has(t.name)));
  }

  /**
   * Places the converted tensors in `parts` buffers; one buffer when splitting would hold more in all
   * than the largest unit (the memory plan counts two buffers of the largest unit).
   */
  private split(parts: number): void {
    const units = this.convertedUnits();
    const largest = Math.max(0, ...units.map((ts) => ts.reduce((n, t) => n + t.elements, 0)));
    let placed = placeUnits(units, parts);
    if (parts > 1 && placed.sizes.reduce((a, b) => a + b, 0) > largest) placed = placeUnits(units, 1);
    this.placement = placed.placement;
    this.partSizes = placed.sizes;
  }

  /** Loads per `plan`: reads what the mode keeps, converting the kept float32 tensors. */
  static async load(ckpt: Checkpoint, plan: WeightPlan, opts: LoadOptions = {}): Promise<WeightStore> {
    const store = new WeightStore(ckpt.config, plan.mode);
    const disk = new DiskSource(ckpt);
    const prefetch = plan.prefetch ?? true;
    try {
      await store.fill(disk, plan, opts, prefetch);
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
    // Two or more units converted per forward: the next one is prepared while the current one runs, by a
    // worker per part of the slot.
    const converted = [...store.byUnit.keys()].filter((u) => u !== 'embeddings' && store.missing(u).length > 0);
    const workers = prefetch && plan.mode !== 'resident' && converted.length >= 2;
    store.split(workers ? Math.max(1, Math.min(MAX_PARTS, availableParallelism())) : 1);
    if (workers) store.workers = store.partSizes.map(() => new ConversionWorker(store.stored, plan.mode === 'streaming' ? disk.locations : new Map()));
    return store;
  }

  private async fill(disk: DiskSource, plan: WeightPlan, opts: LoadOptions, shared: boolean): Promise<void> {
    const allF32 = (ts: readonly EngineTensor[]): boolean => ts.every((t) => t.sources.every((s) => disk.dtypeOf(s) === 'F32'));
    // Streaming keeps the plan's float32 layers too (they are not read again) and holds nothing stored.
    const keptUnit = (unit: WeightUnit | 'embeddings', ts: readonly EngineTensor[]): boolean =>
      plan.mode === 'resident' || (typeof unit === 'number' && plan.f32Layers.has(unit)) || (plan.mode === 'cached' && unit !== 'embeddings' && allF32(ts));
    const keep: EngineTensor[] = [];
    const hold = new Set<string>();
    for (const [unit, ts] of this.byUnit) {
      if (keptUnit(unit, ts)) keep.push(...ts);
      else if (plan.mode === 'cached') for (const t of ts) for (const s of t.sources) hold.add(s);
    }
    // The embedding rows are looked up from the stored matrix when no float32 copy is kept.
    if (plan.mode === 'cached' && !keep.some((t) => t.name === EMBED)) hold.add(EMBED);
    const progress = stepper(keep.length + hold.size, opts);
    for (const t of keep) {
      const data = new Float32Array(t.elements);
      for (const k of t.copies) disk.copy(k, data, 0);
      this.f32.set(t.name, { dims: t.dims, data });
      await progress(t.name);
    }
    for (const hf of hold) {
      this.stored.set(hf, disk.readStored(hf, shared));
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
