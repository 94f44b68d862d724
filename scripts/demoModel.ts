// The bundled demo model: a small Mixtral-layout MoE, randomly initialised with planted token-class
// routing (see src/devtools/randomCheckpoint.ts). Regenerated when missing or when its spec changes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeRandomCheckpoint, type RandomMoeSpec } from '../src/devtools/randomCheckpoint';

const root = path.resolve(__dirname, '..');
export const demoModelDir = path.join(root, 'media', 'demo-model');

const corpus = [
  ...fs.readdirSync(path.join(root, 'media', 'samples')).map((f) => fs.readFileSync(path.join(root, 'media', 'samples', f), 'utf8')),
  'The quick brown fox jumps over the lazy dog. Experts, routers, tokens and gates: the mixture decides which expert sees which token.',
  'function forward(input) { const hidden = embed(input); for (const layer of layers) hidden = layer(hidden); return logits(hidden); }',
  'In 2024 and 2025, sparse models with 8, 16, 64 or 128 experts per layer were released; top-2 and top-8 routing are common.',
].join('\n');

export const demoSpec: RandomMoeSpec = {
  hiddenSize: 128,
  numLayers: 4,
  numHeads: 4,
  numKvHeads: 2,
  numExperts: 8,
  topK: 2,
  intermediateSize: 256,
  vocabSize: 768,
  contextLength: 4096,
  seed: 1,
  tokenizerCorpus: corpus,
  merges: 400,
  plantedRouting: true,
};

export async function ensureDemoModel(): Promise<string> {
  const marker = path.join(demoModelDir, 'moe_workbench_demo.json');
  const want = JSON.stringify({ ...demoSpec, tokenizerCorpus: corpus.length });
  if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === want) return demoModelDir;
  await writeRandomCheckpoint(demoModelDir, demoSpec);
  fs.writeFileSync(marker, want);
  return demoModelDir;
}

if (require.main === module) {
  ensureDemoModel().then((d) => console.log(`demo model: ${d}`));
}
