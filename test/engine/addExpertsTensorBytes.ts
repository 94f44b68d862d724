// Test helpers for add-experts: one expert matrix or router row of a checkpoint, as bytes or float32,
// whatever the layout (separate tensors per expert, or GraniteMoE's fused tensors).
import type { Checkpoint } from '../../src/engine/model/checkpoint';
import { bf16ToF32, storageElementBytes, type StorageDtype } from '../../src/engine/model/dtype';
import { expertLayout } from '../../src/engine/model/tensorSpec';

const rawOf = (c: Checkpoint, name: string): Buffer => Buffer.from(c.tensors.get(name)!.file.readRaw(name));

/** The tensor holding matrix m (0 gate, 1 up, 2 down) of expert e in layer L. */
function tensorOf(c: Checkpoint, L: number, e: number, m: 0 | 1 | 2): string {
  const lay = expertLayout(c.config, L);
  return lay.kind === 'separate' ? [lay.gate, lay.up, lay.down][m]!(e) : m === 2 ? lay.down : lay.gateUp;
}

/** Matrix m of expert e in layer L as raw bytes. */
export function expertBytes(c: Checkpoint, L: number, e: number, m: 0 | 1 | 2): Buffer {
  const name = tensorOf(c, L, e, m);
  const b = rawOf(c, name);
  if (expertLayout(c.config, L).kind === 'separate') return b;
  const E = c.tensors.get(name)!.entry.shape[0]!;
  const slice = b.byteLength / E;
  if (m === 2) return b.subarray(e * slice, (e + 1) * slice);
  return b.subarray(e * slice + (m === 1 ? slice / 2 : 0), e * slice + (m === 1 ? slice : slice / 2));
}

/** Router row e of layer L as raw bytes. */
export function routerRow(c: Checkpoint, L: number, e: number): Buffer {
  const name = expertLayout(c.config, L).router;
  const rowBytes = c.config.hiddenSize * storageElementBytes(c.tensors.get(name)!.entry.dtype as StorageDtype);
  return rawOf(c, name).subarray(e * rowBytes, (e + 1) * rowBytes);
}

/** F32 or BF16 bytes as float32. */
export function asF32(dtype: string, b: Buffer): Float32Array {
  const copy = Uint8Array.from(b);
  if (dtype === 'F32') return new Float32Array(copy.buffer);
  const out = new Float32Array(copy.byteLength / 2);
  bf16ToF32(new Uint16Array(copy.buffer), out);
  return out;
}

export const expertF32 = (c: Checkpoint, L: number, e: number, m: 0 | 1 | 2): Float32Array => asF32(c.tensors.get(tensorOf(c, L, e, m))!.entry.dtype, expertBytes(c, L, e, m));
export const routerF32 = (c: Checkpoint, L: number, e: number): Float32Array => asF32(c.tensors.get(expertLayout(c.config, L).router)!.entry.dtype, routerRow(c, L, e));
