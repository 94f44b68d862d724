// The tensors of the upcycled checkpoint, as producers called when the writer reaches each one (one tensor
// in memory at a time): per MoE layer a router and E experts made from the dense MLP by the method, every
// other tensor (attention, norms, embeddings, lm_head, the MLPs of layers left dense) byte for byte.
import { MoeError } from '../../protocol/moeError';
import type { Checkpoint } from '../model/checkpoint';
import { isStorageDtype, type StorageDtype, storageElementBytes } from '../model/dtype';
import type { TensorData } from '../model/safetensorsWriter';
import { expertLayout } from '../model/tensorSpec';
import { naturalCompare, type PlannedTensor } from '../surgery/planTensors';
import { addNoise, DOWN, dropUpcycle, GATE, type Matrix, splitGroups, UP } from './neuronEdits';
import { Purpose, stream } from './upcycleRandom';
import { ROUTER_STD, type UpcyclePlan } from './upcyclePlan';

const DENSE = ['gate_proj', 'up_proj', 'down_proj'] as const;

/** What dataInit.ts learnt from --data, per MoE layer. */
export interface FromData {
  readonly routers?: ReadonlyMap<number, Float32Array>;
  readonly groups?: ReadonlyMap<number, Int32Array[]>;
}

export const denseMlpName = (layer: number, m: Matrix): string => `model.layers.${layer}.mlp.${DENSE[m]}.weight`;

/** Zero-mean uniform with std ROUTER_STD: (U(0,1) − ½)·σ·√12, one stream per layer. */
export function randomRouter(seed: number, layer: number, E: number, H: number): Float32Array {
  const u = stream(seed, layer, 0, Purpose.router);
  const scale = ROUTER_STD * Math.sqrt(12);
  const out = new Float32Array(E * H);
  for (let i = 0; i < out.length; i++) out[i] = (u() - 0.5) * scale;
  return out;
}

/** Rows `idx` of a row-major [*, H] matrix (gate/up) or columns `idx` of [H, I] (down), as raw bytes. */
function gatherNeurons(raw: Uint8Array, size: number, I: number, H: number, idx: Int32Array, rows: boolean): Uint8Array {
  const out = new Uint8Array(idx.length * H * size);
  if (rows) {
    idx.forEach((n, j) => out.set(raw.subarray(n * H * size, (n + 1) * H * size), j * H * size));
    return out;
  }
  const g = idx.length;
  for (let k = 0; k < H; k++) {
    for (let j = 0; j < g; j++) {
      const src = (k * I + idx[j]!) * size;
      out.set(raw.subarray(src, src + size), (k * g + j) * size);
    }
  }
  return out;
}

function storageDtype(ckpt: Checkpoint, name: string): StorageDtype {
  const loc = ckpt.tensors.get(name)!;
  const d = loc.entry.dtype;
  if (!isStorageDtype(d)) throw new MoeError('E_UNSUPPORTED', `${loc.file.path}: tensor "${name}" has dtype ${d}; only F32, F16 and BF16 tensors can be written`, loc.file.path);
  return d;
}

/** One MoE layer: its router and experts, named as the target family names them. */
function layerTensors(ckpt: Checkpoint, p: UpcyclePlan, L: number, init: FromData, out: PlannedTensor[]): void {
  const H = ckpt.config.hiddenSize;
  const I = p.denseIntermediate;
  const g = p.expertIntermediate;
  const E = p.options.experts;
  const { method, seed } = p.options;
  const lay = expertLayout({ ...ckpt.config, modelType: p.target }, L);
  if (lay.kind !== 'separate') throw new MoeError('E_INTERNAL', `${p.target} has a fused expert layout`);
  const add = (name: string, dtype: StorageDtype, shape: number[], produce: () => TensorData): void => {
    out.push({ name, dtype, shape, byteLength: shape.reduce((a, b) => a * b, storageElementBytes(dtype)), produce });
  };
  const gateDtype = storageDtype(ckpt, denseMlpName(L, GATE));
  const router = init.routers?.get(L);
  add(lay.router, gateDtype, [E, H], () => router ?? randomRouter(seed, L, E, H));
  const groups = method === 'split' ? (init.groups?.get(L) ?? splitGroups(p, L)) : undefined;
  for (let e = 0; e < E; e++) {
    for (const m of [GATE, UP, DOWN] as const) {
      const src = denseMlpName(L, m);
      const dtype = storageDtype(ckpt, src);
      const name = m === GATE ? lay.gate(e) : m === UP ? lay.up(e) : lay.down(e);
      const shape = m === DOWN ? [H, g] : [g, H];
      const raw = (): Uint8Array => ckpt.tensors.get(src)!.file.readRaw(src);
      switch (method) {
        case 'copy':
          add(name, dtype, shape, raw);
          break;
        case 'split':
          add(name, dtype, shape, () => gatherNeurons(raw(), storageElementBytes(dtype), I, H, groups![e]!, m !== DOWN));
          break;
        case 'noise':
          add(name, dtype, shape, () => {
            const w = ckpt.readF32(src);
            addNoise(p, L, e, m, w, H);
            return w;
          });
          break;
        case 'drop':
          add(name, dtype, shape, () => dropUpcycle(p, L, e, m, ckpt.readF32(src), H));
          break;
      }
    }
  }
}

/**
 * Every tensor of the upcycled checkpoint, sorted by name (digits as numbers); routers and split groups from the
 * data (dataInit.ts) where given, else seeded random. Throws E_UNSUPPORTED for a
 * tensor of an upcycled layer's MLP other than its three projections (it would have nowhere to go).
 */
export function upcycleTensors(ckpt: Checkpoint, p: UpcyclePlan, init: FromData = {}): PlannedTensor[] {
  const moe = new Set(p.moeLayers);
  const out: PlannedTensor[] = [];
  for (const L of p.moeLayers) layerTensors(ckpt, p, L, init, out);
  for (const [name, loc] of ckpt.tensors) {
    const m = /^model\.layers\.(\d+)\.mlp\./.exec(name);
    if (m && moe.has(Number(m[1]))) {
      if (DENSE.some((d) => name === `${m[0]}${d}.weight`)) continue;
      throw new MoeError('E_UNSUPPORTED', `${loc.file.path}: tensor "${name}" is part of layer ${m[1]}'s MLP but not one of its gate/up/down weights; the experts of ${p.target} could not hold it`, loc.file.path);
    }
    const { shape, byteLength } = loc.entry;
    out.push({ name, dtype: storageDtype(ckpt, name), shape, byteLength, produce: () => loc.file.readRaw(name) });
  }
  return out.sort((a, b) => naturalCompare(a.name, b.name));
}
