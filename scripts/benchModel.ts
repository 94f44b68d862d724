// The benchmark-size model of issue #2: hidden 512, 8 layers, 8 heads, 16 experts, top-2, expert
// intermediate 1024, vocab 32000, random weights. Cached in .cache/bench-model.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeRandomCheckpoint, type RandomMoeSpec } from '../src/devtools/randomCheckpoint';

export const benchModelDir = path.resolve(__dirname, '..', '.cache', 'bench-model');

export const benchSpec: RandomMoeSpec = {
  hiddenSize: 512,
  numLayers: 8,
  numHeads: 8,
  numKvHeads: 8,
  numExperts: 16,
  topK: 2,
  intermediateSize: 1024,
  vocabSize: 32000,
  contextLength: 4096,
  seed: 2,
  tokenizerCorpus: '',
  merges: 0,
  plantedRouting: false,
};

export async function ensureBenchModel(): Promise<string> {
  const marker = path.join(benchModelDir, 'moe_workbench_bench.json');
  const want = JSON.stringify(benchSpec);
  if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === want) return benchModelDir;
  await writeRandomCheckpoint(benchModelDir, benchSpec);
  fs.writeFileSync(marker, want);
  return benchModelDir;
}

if (require.main === module) {
  const t0 = Date.now();
  ensureBenchModel().then((d) => console.log(`benchmark model ready in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${d}`));
}
