// The tensors of the new checkpoint, as producers: what each tensor is called, its dtype and shape, and a
// function that reads (and, for merged experts, averages) its values from the source when it is streamed.
// Nothing is read here, so a multi-GB model is written with one tensor in memory at a time.
import type { LayerPlan, PlannedExpert } from '../../protocol/expertOps';
import { MoeError } from '../../protocol/moeError';
import type { Checkpoint } from '../model/checkpoint';
import { type StorageDtype, bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, isStorageDtype, storageElementBytes } from '../model/dtype';
import type { TensorData } from '../model/safetensorsWriter';
import { expertLayout } from '../model/tensorSpec';

export interface PlannedTensor {
  readonly name: string;
  readonly dtype: StorageDtype;
  readonly shape: readonly number[];
  readonly byteLength: number;
  /** Reads the values from the source checkpoint; called once, when the tensor is written. */
  readonly produce: () => TensorData;
}

/** Names compared with their digit runs as numbers, so layer 10 comes after layer 9 (HF's shard order). */
export function naturalCompare(a: string, b: string): number {
  const re = /(\d+)|(\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (x === y) continue;
    const nx = /^\d/.test(x) && /^\d/.test(y);
    if (nx && Number(x) !== Number(y)) return Number(x) - Number(y);
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

/** The tensor's stored dtype, which the writer can reproduce (checked up front for every tensor). */
function dtypeOf(ckpt: Checkpoint, name: string): StorageDtype {
  const dtype = ckpt.tensors.get(name)!.entry.dtype;
  return dtype as StorageDtype;
}

function rawOf(ckpt: Checkpoint, name: string): Uint8Array {
  return ckpt.tensors.get(name)!.file.readRaw(name);
}

/** Σ w_i x_i / Σ w_i in float32, accumulated in place into the first source's array (2 tensors in memory). */
function weightedAverage(sources: PlannedExpert['sources'], read: (expert: number) => Float32Array): Float32Array {
  const total = sources.reduce((s, x) => s + x.weight, 0);
  let acc: Float32Array | undefined;
  for (const s of sources) {
    const c = s.weight / total;
    const x = read(s.expert);
    if (acc === undefined) {
      acc = x;
      for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! * c;
    } else {
      for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + c * x[i]!;
    }
  }
  return acc!;
}

/** Elements `[begin, begin + n)` of raw bytes in `dtype` as float32. */
export function decodeSlice(raw: Uint8Array, dtype: StorageDtype, begin: number, n: number): Float32Array {
  const size = storageElementBytes(dtype);
  const bytes = raw.slice(begin * size, (begin + n) * size); // a copy: aligned for the typed-array view
  if (dtype === 'F32') return new Float32Array(bytes.buffer);
  const out = new Float32Array(n);
  (dtype === 'BF16' ? bf16ToF32 : f16ToF32)(new Uint16Array(bytes.buffer), out);
  return out;
}

/** float32 values as raw bytes in `dtype` (round to nearest even, as the safetensors writer does). */
export function encode(values: Float32Array, dtype: StorageDtype): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint16Array(values.length);
  (dtype === 'BF16' ? f32ToBf16 : f32ToF16)(values, out);
  return new Uint8Array(out.buffer);
}

/** Tensor names (and name prefixes) a layer's routed experts own; anything else under the prefixes is unknown. */
function ownedBy(ckpt: Checkpoint, L: number, E: number): { names: Set<string>; prefixes: string[] } {
  const lay = expertLayout(ckpt.config, L);
  const stem = (n: string): string => n.slice(0, n.lastIndexOf('.') + 1);
  const names = new Set<string>([lay.router]);
  const prefixes = [stem(lay.router)];
  if (lay.kind === 'fused') {
    names.add(lay.gateUp).add(lay.down);
    prefixes.push(stem(lay.gateUp), stem(lay.down));
  } else {
    for (let e = 0; e < E; e++) names.add(lay.gate(e)).add(lay.up(e)).add(lay.down(e));
    const g = lay.gate(0);
    prefixes.push(g.slice(0, g.lastIndexOf('.0.') + 1));
  }
  return { names, prefixes };
}

function planLayer(ckpt: Checkpoint, L: number, lp: LayerPlan, out: PlannedTensor[]): void {
  const lay = expertLayout(ckpt.config, L);
  const E = lp.numExperts;
  const En = lp.experts.length;
  const add = (name: string, dtype: StorageDtype, shape: readonly number[], produce: () => TensorData): void => {
    out.push({ name, dtype, shape, byteLength: shape.reduce((a, b) => a * b, storageElementBytes(dtype)), produce });
  };

  // Router [E, H]: row j of the new router is old row routerRow, byte for byte.
  const router = ckpt.tensors.get(lay.router)!.entry;
  add(lay.router, dtypeOf(ckpt, lay.router), [En, ...router.shape.slice(1)], () => {
    const raw = rawOf(ckpt, lay.router);
    const row = raw.byteLength / E;
    const rows = new Uint8Array(En * row);
    lp.experts.forEach((x, j) => rows.set(raw.subarray(x.routerRow * row, (x.routerRow + 1) * row), j * row));
    return rows;
  });

  if (lay.kind === 'separate') {
    // One tensor per expert and projection: a single source is its old tensor renamed (a weighted average of
    // one tensor is itself), a group is averaged in float32 and stored in the source dtype.
    lp.experts.forEach((x, j) => {
      for (const name of [lay.gate, lay.up, lay.down]) {
        const first = name(x.sources[0]!.expert);
        const entry = ckpt.tensors.get(first)!.entry;
        const produce = x.sources.length === 1 ? () => rawOf(ckpt, first) : () => weightedAverage(x.sources, (e) => ckpt.readF32(name(e)));
        add(name(j), dtypeOf(ckpt, first), entry.shape, produce);
      }
    });
    return;
  }

  // Fused [E, ...]: slice dim 0 per new expert, raw bytes for a single source, the average for a group.
  for (const name of [lay.gateUp, lay.down]) {
    const entry = ckpt.tensors.get(name)!.entry;
    const dtype = dtypeOf(ckpt, name);
    add(name, dtype, [En, ...entry.shape.slice(1)], () => {
      const raw = rawOf(ckpt, name);
      const slice = raw.byteLength / E;
      const numel = slice / storageElementBytes(dtype);
      const result = new Uint8Array(En * slice);
      lp.experts.forEach((x, j) => {
        const one = x.sources.length === 1 ? x.sources[0]!.expert : undefined;
        const bytes = one !== undefined ? raw.subarray(one * slice, (one + 1) * slice) : encode(weightedAverage(x.sources, (e) => decodeSlice(raw, dtype, e * numel, numel)), dtype);
        result.set(bytes, j * slice);
      });
      return result;
    });
  }
}

/**
 * Every tensor of the new checkpoint, sorted by name (digits as numbers): each MoE layer's router and routed
 * experts per the plan, every other source tensor copied byte for byte (shared experts, norms, attention,
 * extra tensors the engine does not read). Throws E_UNSUPPORTED for a tensor that cannot be carried over: a
 * dtype other than F32/F16/BF16, or an unknown tensor among a layer's experts or router (it would need
 * renumbering that this writer does not know how to do).
 */
export function planTensors(ckpt: Checkpoint, layers: ReadonlyMap<number, LayerPlan>): PlannedTensor[] {
  for (const [name, loc] of ckpt.tensors) {
    if (!isStorageDtype(loc.entry.dtype)) {
      throw new MoeError('E_UNSUPPORTED', `${loc.file.path}: tensor "${name}" has dtype ${loc.entry.dtype}; only F32, F16 and BF16 tensors can be written (file: ${loc.file.path})`, loc.file.path);
    }
  }
  const out: PlannedTensor[] = [];
  const owned = new Set<string>();
  const prefixes: { prefix: string; layer: number }[] = [];
  for (const [L, lp] of [...layers].sort((a, b) => a[0] - b[0])) {
    const o = ownedBy(ckpt, L, lp.numExperts);
    for (const n of o.names) owned.add(n);
    for (const p of o.prefixes) prefixes.push({ prefix: p, layer: L });
    planLayer(ckpt, L, lp, out);
  }
  for (const [name, loc] of ckpt.tensors) {
    if (owned.has(name)) continue;
    const hit = prefixes.find((p) => name.startsWith(p.prefix));
    if (hit !== undefined) {
      throw new MoeError(
        'E_UNSUPPORTED',
        `${loc.file.path}: tensor "${name}" belongs to the experts or router of MoE layer ${hit.layer}, but is not one this writer knows how to renumber; ` +
          'the checkpoint cannot be pruned or merged safely',
        loc.file.path,
      );
    }
    const { dtype, shape, byteLength } = loc.entry;
    out.push({ name, dtype: dtype as StorageDtype, shape, byteLength, produce: () => loc.file.readRaw(name) });
  }
  return out.sort((a, b) => naturalCompare(a.name, b.name));
}
