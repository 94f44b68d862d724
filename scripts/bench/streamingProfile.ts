// Where a streaming forward pass's time goes (issue #9 §1), on a local checkpoint (default: the full-size
// OLMoE-1B-7B of scripts/makeBenchCheckpoint.ts): per unit, reading its bytes from the page cache,
// reading + converting them on one thread (DiskSource, as the main thread does), then whole forward passes
// in streaming mode split into the time spent waiting for a unit's weights (the conversion worker) and the
// rest (ONNX Runtime's runs). Prints; asserts nothing.
//   node --import tsx scripts/bench/streamingProfile.ts [DIR] [--units N] [--tokens 128,1024]
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { GraphOutputs } from '../../src/engine/graph/decoderGraph';
import { LayerwiseModel, type LayerWeights, type WeightUnit } from '../../src/engine/layerwise/layerwiseModel';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { DiskSource } from '../../src/engine/model/tensorSource';
import { engineTensors } from '../../src/engine/model/unitTensors';
import { MoeEngine } from '../../src/engine/moeEngine';
import { benchCheckpointDir } from '../makeBenchCheckpoint';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => (args.includes(name) ? args[args.indexOf(name) + 1]! : def);
const dir = args[0] && !args[0].startsWith('--') ? path.resolve(args[0]) : benchCheckpointDir('olmoe-1b-7b');
const UNITS = Number(opt('--units', '3'));
const TOKENS = opt('--tokens', '128,1024').split(',').map(Number);

function perUnit(): void {
  const ckpt = openCheckpoint(dir);
  const units = new Map<WeightUnit | 'embeddings', ReturnType<typeof engineTensors>>();
  for (const t of engineTensors(ckpt.config)) units.set(t.unit, [...(units.get(t.unit) ?? []), t]);
  const disk = new DiskSource(ckpt);
  const largest = Math.max(...[...units].filter(([u]) => u !== 'embeddings').map(([, ts]) => ts.reduce((n, t) => n + t.elements, 0)));
  const buf = new Float32Array(largest).fill(1); // touched once, as the store's reused buffers are
  const block = new Uint8Array(1 << 20);
  const fds = new Map<string, number>();
  for (const unit of [...Array.from({ length: Math.min(UNITS, ckpt.config.numLayers) }, (_, i) => i as WeightUnit), 'head' as const]) {
    const ts = units.get(unit)!;
    const elements = ts.reduce((n, t) => n + t.elements, 0);
    let t0 = performance.now();
    let bytes = 0;
    for (const t of ts) {
      for (const hf of t.sources) {
        const { file, entry } = ckpt.tensors.get(hf)!;
        let fd = fds.get(file.path);
        if (fd === undefined) fds.set(file.path, (fd = fs.openSync(file.path, 'r')));
        for (let at = 0; at < entry.byteLength; at += block.length) bytes += fs.readSync(fd, block, 0, Math.min(block.length, entry.byteLength - at), entry.byteOffset + at);
      }
    }
    const readMs = performance.now() - t0;
    t0 = performance.now();
    let at = 0;
    for (const t of ts) {
      for (const k of t.copies) disk.copy(k, buf, at);
      at += t.elements;
    }
    const fillMs = performance.now() - t0;
    console.log(`unit ${String(unit).padEnd(4)} ${(elements / 1e6).toFixed(0)}M elements: page-cache read (1 MiB blocks) ${readMs.toFixed(0)} ms = ${(bytes / readMs / 1e6).toFixed(2)} GB/s; read + convert on one thread ${fillMs.toFixed(0)} ms = ${(elements / fillMs / 1e6).toFixed(2)} G elements/s`);
  }
  for (const fd of fds.values()) fs.closeSync(fd);
  disk.close();
  ckpt.close();
}

async function passes(): Promise<void> {
  const engine = await MoeEngine.load(dir, { weightMode: 'streaming' });
  const model = new LayerwiseModel(engine.config, undefined);
  const store = engine.weights;
  let waitMs = 0;
  const timed: LayerWeights = {
    acquire: async (unit, next) => {
      const t0 = performance.now();
      const w = await store.acquire(unit, next);
      waitMs += performance.now() - t0;
      return w;
    },
    release: () => store.release(),
    embeddingRows: (ids) => store.embeddingRows(ids),
  };
  const outputs: GraphOutputs = { routing: true, hidden: false, logits: false };
  for (const T of TOKENS) {
    const ids = Int32Array.from({ length: T }, (_, i) => (i * 7919 + 13) % engine.config.vocabSize);
    for (const label of ['cold', 'warm']) {
      waitMs = 0;
      const t0 = performance.now();
      await model.forward(ids, timed, outputs);
      const ms = performance.now() - t0;
      console.log(`forward T=${String(T).padEnd(5)} ${label}: ${(ms / 1000).toFixed(2)} s = waiting for weights ${(waitMs / 1000).toFixed(2)} s + runs ${((ms - waitMs) / 1000).toFixed(2)} s`);
    }
  }
  await model.dispose();
  await engine.dispose();
}

async function main(): Promise<void> {
  console.log(`# ${dir}`);
  perUnit();
  await passes();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
