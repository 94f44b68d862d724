// The tensors of the grown checkpoint, as producers called when the writer reaches each one: per MoE layer
// the router with N rows appended and N new experts (ids E..E+N−1) made from their sources by the method —
// separate tensors per expert, or appended along dim 0 of the fused tensors (GraniteMoE) — and every other
// tensor (the old experts, shared experts, attention, norms, embeddings) byte for byte.
import { MoeError } from '../../protocol/moeError';
import type { Checkpoint } from '../model/checkpoint';
import { isStorageDtype, type StorageDtype, storageElementBytes } from '../model/dtype';
import type { TensorData } from '../model/safetensorsWriter';
import { type ExpertLayout, expertLayout } from '../model/tensorSpec';
import { decodeSlice, encode, naturalCompare, type PlannedTensor } from '../surgery/planTensors';
import { addNoise, DOWN, dropUpcycle, GATE, type Matrix, UP } from '../upcycle/neuronEdits';
import { normals, Purpose, stream } from '../upcycle/upcycleRandom';
import { randomRouter } from '../upcycle/upcycleTensors';
import { type AddExpertsPlan, neuronEditPlan } from './addExpertsPlan';

/** The new router rows the data gave (domain init), [N, H] per MoE layer. */
export type DomainRows = ReadonlyMap<number, Float32Array>;

/** Mean and (unbiased) standard deviation of one matrix kind over a layer's existing experts: a cold expert's draw. */
export interface MatrixStats {
  readonly mean: number;
  readonly std: number;
}

function storageDtype(ckpt: Checkpoint, name: string): StorageDtype {
  const loc = ckpt.tensors.get(name);
  if (!loc) throw new MoeError('E_WEIGHTS', `${ckpt.dir}: tensor "${name}" is missing`, ckpt.dir);
  const d = loc.entry.dtype;
  if (!isStorageDtype(d)) throw new MoeError('E_UNSUPPORTED', `${loc.file.path}: tensor "${name}" has dtype ${d}; only F32, F16 and BF16 tensors can be written`, loc.file.path);
  return d;
}

const raw = (ckpt: Checkpoint, name: string): Uint8Array => ckpt.tensors.get(name)!.file.readRaw(name);

/** Accumulates values into a mean and unbiased std (float64 sums). */
class Moments {
  private n = 0;
  private sum = 0;
  private sq = 0;
  add(w: Float32Array): void {
    for (const x of w) {
      this.sum += x;
      this.sq += x * x;
    }
    this.n += w.length;
  }
  result(): MatrixStats {
    const mean = this.n > 0 ? this.sum / this.n : 0;
    return { mean, std: this.n > 1 ? Math.sqrt(Math.max(0, (this.sq - this.n * mean * mean) / (this.n - 1))) : 0 };
  }
}

/** A layer's expert matrices as float32, per expert and matrix, whatever the layout. */
interface ExpertReader {
  readonly f32: (e: number, m: Matrix) => Float32Array;
  readonly bytes: (e: number, m: Matrix) => Uint8Array;
}

function readerOf(ckpt: Checkpoint, lay: ExpertLayout, I: number, H: number, fused?: { gateUp: Uint8Array; down: Uint8Array; dtype: StorageDtype }): ExpertReader {
  if (lay.kind === 'separate') {
    const name = (e: number, m: Matrix): string => (m === GATE ? lay.gate(e) : m === UP ? lay.up(e) : lay.down(e));
    return { f32: (e, m) => ckpt.readF32(name(e, m)), bytes: (e, m) => raw(ckpt, name(e, m)) };
  }
  const f = fused!;
  const size = storageElementBytes(f.dtype);
  const n = I * H;
  // gate_up [E, 2I, H]: rows 0..I−1 of an expert's slice are gate, I..2I−1 up; down [E, H, I].
  const begin = (e: number, m: Matrix): number => (m === DOWN ? e * n : e * 2 * n + (m === UP ? n : 0));
  const src = (m: Matrix): Uint8Array => (m === DOWN ? f.down : f.gateUp);
  return {
    f32: (e, m) => decodeSlice(src(m), f.dtype, begin(e, m), n),
    bytes: (e, m) => src(m).subarray(begin(e, m) * size, (begin(e, m) + n) * size),
  };
}

/** Matrix m of new expert `id` (index j among the new ones) of layer L: from its source by the method, or drawn cold. */
function newMatrix(p: AddExpertsPlan, L: number, j: number, m: Matrix, r: ExpertReader, H: number, cold: (m: Matrix) => MatrixStats): TensorData {
  const src = p.sources.get(L)![j]!;
  const id = p.oldExperts + j;
  if (src.expert === null) {
    const { mean, std } = cold(m);
    const z = normals(stream(p.options.seed, L, id, Purpose.values, m));
    return Float32Array.from({ length: p.intermediate * H }, () => mean + std * z());
  }
  switch (p.options.method) {
    case 'copy':
      return r.bytes(src.expert, m);
    case 'noise': {
      const w = r.f32(src.expert, m);
      addNoise(neuronEditPlan(p), L, id, m, w, H);
      return w;
    }
    case 'drop':
      return dropUpcycle(neuronEditPlan(p), L, id, m, r.f32(src.expert, m), H);
  }
}

/** Statistics of matrix m over the layer's E existing experts, computed on first use. */
function coldStats(p: AddExpertsPlan, read: () => ExpertReader): (m: Matrix) => MatrixStats {
  const cache = new Map<Matrix, MatrixStats>();
  return (m) => {
    let s = cache.get(m);
    if (!s) {
      const r = read();
      const acc = new Moments();
      for (let e = 0; e < p.oldExperts; e++) acc.add(r.f32(e, m));
      cache.set(m, (s = acc.result()));
    }
    return s;
  };
}

function layerTensors(ckpt: Checkpoint, p: AddExpertsPlan, L: number, domain: DomainRows | undefined, out: PlannedTensor[]): Set<string> {
  const H = ckpt.config.hiddenSize;
  const I = p.intermediate;
  const E = p.oldExperts;
  const N = p.options.count;
  const lay = expertLayout(ckpt.config, L);
  const replaced = new Set<string>([lay.router]);
  const add = (name: string, dtype: StorageDtype, shape: number[], produce: () => TensorData): void => {
    out.push({ name, dtype, shape, byteLength: shape.reduce((a, b) => a * b, storageElementBytes(dtype)), produce });
  };
  const sources = p.sources.get(L)!;

  // Router [E + N, H]: the old rows' bytes, then one row per new expert.
  const rdt = storageDtype(ckpt, lay.router);
  add(lay.router, rdt, [E + N, H], () => {
    const old = raw(ckpt, lay.router);
    const rowBytes = old.byteLength / E;
    const result = new Uint8Array((E + N) * rowBytes);
    result.set(old, 0);
    if (p.router === 'copy') {
      sources.forEach((s, j) => result.set(old.subarray(s.expert! * rowBytes, (s.expert! + 1) * rowBytes), (E + j) * rowBytes));
    } else {
      const rows = p.router === 'random' ? randomRouter(p.options.seed, L, N, H) : domain?.get(L);
      if (!rows) throw new MoeError('E_INTERNAL', `no domain router rows for layer ${L}`);
      result.set(encode(rows, rdt), E * rowBytes);
    }
    return result;
  });

  if (lay.kind === 'separate') {
    const r = readerOf(ckpt, lay, I, H);
    const cold = coldStats(p, () => r);
    for (let j = 0; j < N; j++) {
      for (const m of [GATE, UP, DOWN] as const) {
        const name = m === GATE ? lay.gate : m === UP ? lay.up : lay.down;
        const dtype = storageDtype(ckpt, name(sources[j]!.expert ?? 0));
        add(name(E + j), dtype, m === DOWN ? [H, I] : [I, H], () => newMatrix(p, L, j, m, r, H, cold));
      }
    }
    return replaced;
  }

  // Fused: both tensors are produced together (the new experts' gate and up share input_linear's slices).
  replaced.add(lay.gateUp).add(lay.down);
  const gdt = storageDtype(ckpt, lay.gateUp);
  const ddt = storageDtype(ckpt, lay.down);
  if (gdt !== ddt) throw new MoeError('E_UNSUPPORTED', `${ckpt.dir}: ${lay.gateUp} is ${gdt} but ${lay.down} is ${ddt}; fused experts of one dtype are expected`, ckpt.dir);
  const reader = (): ExpertReader => readerOf(ckpt, lay, I, H, { gateUp: raw(ckpt, lay.gateUp), down: raw(ckpt, lay.down), dtype: gdt });
  const cold = coldStats(p, reader);
  const bytesOf = (d: TensorData): Uint8Array => (d instanceof Float32Array ? encode(d, gdt) : d);
  add(lay.gateUp, gdt, [E + N, 2 * I, H], () => {
    const r = reader();
    const old = raw(ckpt, lay.gateUp);
    const slice = old.byteLength / E;
    const result = new Uint8Array((E + N) * slice);
    result.set(old, 0);
    for (let j = 0; j < N; j++) {
      result.set(bytesOf(newMatrix(p, L, j, GATE, r, H, cold)), (E + j) * slice);
      result.set(bytesOf(newMatrix(p, L, j, UP, r, H, cold)), (E + j) * slice + slice / 2);
    }
    return result;
  });
  add(lay.down, ddt, [E + N, H, I], () => {
    const r = reader();
    const old = raw(ckpt, lay.down);
    const slice = old.byteLength / E;
    const result = new Uint8Array((E + N) * slice);
    result.set(old, 0);
    for (let j = 0; j < N; j++) result.set(bytesOf(newMatrix(p, L, j, DOWN, r, H, cold)), (E + j) * slice);
    return result;
  });
  return replaced;
}

/** Tensors under a layer's experts or router that this writer would not know how to extend (biases, correction terms). */
function checkKnown(ckpt: Checkpoint, p: AddExpertsPlan): void {
  for (const L of p.moeLayers) {
    const lay = expertLayout(ckpt.config, L);
    const known = new Set<string>([lay.router]);
    if (lay.kind === 'fused') known.add(lay.gateUp).add(lay.down);
    else for (let e = 0; e < p.oldExperts; e++) known.add(lay.gate(e)).add(lay.up(e)).add(lay.down(e));
    const stem = (n: string): string => n.slice(0, n.lastIndexOf('.') + 1);
    const first = lay.kind === 'fused' ? lay.gateUp : lay.gate(0);
    const prefixes = lay.kind === 'fused' ? [stem(lay.router), stem(lay.gateUp), stem(lay.down)] : [stem(lay.router), first.slice(0, first.lastIndexOf('.0.') + 1)];
    for (const [name, loc] of ckpt.tensors) {
      if (!known.has(name) && prefixes.some((x) => name.startsWith(x))) {
        throw new MoeError('E_UNSUPPORTED', `${loc.file.path}: tensor "${name}" belongs to the experts or router of MoE layer ${L}, but is not one add-experts knows how to extend for the new experts`, loc.file.path);
      }
    }
  }
}

/** Every tensor of the grown checkpoint, sorted by name (digits as numbers). */
export function addExpertsTensors(ckpt: Checkpoint, p: AddExpertsPlan, domain?: DomainRows): PlannedTensor[] {
  checkKnown(ckpt, p);
  const out: PlannedTensor[] = [];
  const replaced = new Set<string>();
  for (const L of p.moeLayers) for (const n of layerTensors(ckpt, p, L, domain, out)) replaced.add(n);
  for (const [name, loc] of ckpt.tensors) {
    if (replaced.has(name)) continue;
    const { shape, byteLength } = loc.entry;
    out.push({ name, dtype: storageDtype(ckpt, name), shape, byteLength, produce: () => loc.file.readRaw(name) });
  }
  return out.sort((a, b) => naturalCompare(a.name, b.name));
}
