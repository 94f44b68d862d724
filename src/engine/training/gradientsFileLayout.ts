// Where every tensor of a gradients file lies, fixed before any gradient exists, so each can be written
// into its place as it arrives. The layout is writeSafetensors' (model/safetensorsWriter.ts) for an
// all-F32 file: `__metadata__` first, tensors sorted by name, data back to back after a header padded with
// spaces to a multiple of 8. The header is sized for a bound on the metadata (a value known only at the end,
// like the loss, may be shorter than its bound): a shorter final header is padded with more spaces, which
// safetensors readers skip; with the final metadata as the bound the file is byte for byte writeSafetensors'.
import { MoeError } from '../../protocol/moeError';

export interface GradientSlot {
  readonly name: string;
  readonly shape: readonly number[];
  /** absolute position in the file */
  readonly position: number;
  readonly byteLength: number;
}

export interface GradientsLayout {
  /** 8-byte length plus the padded JSON header: where the data section starts */
  readonly headerBytes: number;
  readonly fileBytes: number;
  readonly slots: ReadonlyMap<string, GradientSlot>;
  /** The header for the final metadata, padded to headerBytes; E_INTERNAL if it is longer than the bound's. */
  header(metadata: Record<string, string>): Buffer;
}

function headerJson(sorted: readonly { name: string; shape: readonly number[]; offset: number; byteLength: number }[], metadata: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  // defineProperty so a name like "__proto__" is serialised as an ordinary key (as writeSafetensors does).
  const put = (k: string, v: unknown): void => void Object.defineProperty(header, k, { value: v, enumerable: true });
  put('__metadata__', { format: 'pt', ...metadata });
  for (const t of sorted) put(t.name, { dtype: 'F32', shape: [...t.shape], data_offsets: [t.offset, t.offset + t.byteLength] });
  return Buffer.from(JSON.stringify(header), 'utf8');
}

export function gradientsLayout(tensors: readonly { readonly name: string; readonly shape: readonly number[] }[], metadataBound: Record<string, string>): GradientsLayout {
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new MoeError('E_INTERNAL', `the gradients file would hold ${t.name} twice`);
    names.add(t.name);
  }
  // writeSafetensors' order for equal element sizes: by name, compared as UTF-16 code units.
  const byName = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let offset = 0;
  const sorted = byName.map((t) => {
    const byteLength = t.shape.reduce((a, b) => a * b, 1) * 4;
    const s = { name: t.name, shape: t.shape, offset, byteLength };
    offset += byteLength;
    return s;
  });
  const padded = (json: Buffer): number => Math.ceil(json.length / 8) * 8;
  const reserved = padded(headerJson(sorted, metadataBound));
  const headerBytes = 8 + reserved;
  const slots = new Map(sorted.map((s) => [s.name, { name: s.name, shape: s.shape, position: headerBytes + s.offset, byteLength: s.byteLength }]));
  return {
    headerBytes,
    fileBytes: headerBytes + offset,
    slots,
    header: (metadata) => {
      const json = headerJson(sorted, metadata);
      if (json.length > reserved) throw new MoeError('E_INTERNAL', `the gradients file's header grew to ${json.length} bytes; ${reserved} were reserved`);
      const out = Buffer.alloc(headerBytes, 0x20);
      out.writeBigUInt64LE(BigInt(reserved), 0);
      json.copy(out, 8);
      return out;
    },
  };
}
