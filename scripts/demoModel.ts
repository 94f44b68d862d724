// The bundled demo model: a small Mixtral-layout MoE, randomly initialised with planted token-class
// routing (see src/devtools/randomCheckpoint.ts), marked untrained in its config.json. Regenerated when
// missing or when its spec changes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeRandomCheckpoint, type RandomMoeSpec } from '../src/devtools/randomCheckpoint';
import { DEMO_MARKER_KEY } from '../src/engine/modelProvenance';

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

/** Said wherever the model is named (status bar, explorer, Model tree), read from config.json by the engine. */
export const DEMO_NOTE = 'random weights, not trained: its token-class routing is planted by scripts/demoModel.ts, not learnt';

export async function ensureDemoModel(): Promise<string> {
  const marker = path.join(demoModelDir, 'moe_workbench_demo.json');
  // `untrainedMarker` is part of the spec so that a demo model built before config.json carried the marker is rebuilt.
  const want = JSON.stringify({ ...demoSpec, tokenizerCorpus: corpus.length, untrainedMarker: 1 });
  if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === want) return demoModelDir;
  await writeRandomCheckpoint(demoModelDir, demoSpec);
  markUntrained(path.join(demoModelDir, 'config.json'));
  fs.writeFileSync(marker, want);
  return demoModelDir;
}

/** Adds `"moe_workbench_demo": {"trained": false, ...}` to a config.json (Transformers keeps unknown keys as attributes). */
export function markUntrained(configFile: string, note = DEMO_NOTE): void {
  const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  config[DEMO_MARKER_KEY] = { trained: false, note };
  fs.writeFileSync(configFile, JSON.stringify(config, null, 1) + '\n');
}

if (require.main === module) {
  ensureDemoModel().then((d) => console.log(`demo model: ${d}`));
}
