// A model's identity for profiles and operation records: sha256 over config.json, every safetensors
// header (names, dtypes, shapes, offsets) and the router weights' bytes. Cheap (no expert weights are
// read) yet it tells apart two checkpoints of one architecture, and a pruned copy from its source.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ModelIdentity } from '../../protocol/expertOps';
import { openCheckpoint } from '../model/checkpoint';
import { expertLayout } from '../model/tensorSpec';

export function modelIdentity(modelDir: string): ModelIdentity {
  const ckpt = openCheckpoint(modelDir);
  try {
    const hash = createHash('sha256');
    hash.update(fs.readFileSync(path.join(ckpt.dir, 'config.json')));
    for (const f of ckpt.files) {
      hash.update('\0file\0');
      for (const t of [...f.tensors.values()].sort((a, b) => a.byteOffset - b.byteOffset)) {
        hash.update(`${t.name}|${t.dtype}|${t.shape.join(',')}|${t.byteOffset}|${t.byteLength}\n`);
      }
    }
    ckpt.config.layers.forEach((l, L) => {
      if (l.kind !== 'moe') return;
      const router = expertLayout(ckpt.config, L).router;
      const loc = ckpt.tensors.get(router);
      if (loc) hash.update(loc.file.readRaw(router));
    });
    return { sha256: hash.digest('hex'), name: path.basename(ckpt.dir), dir: ckpt.dir, modelType: ckpt.config.modelType };
  } finally {
    ckpt.close();
  }
}
