// Test-only: a complete, loadable random checkpoint for any raw config.json of a supported family, with
// exactly the tensors `expectedTensors(config)` names. (src/devtools/randomCheckpoint.ts writes Mixtral only.)
// Weights are scaled so that activations stay O(1) through every layer: with the tiny N(0, 0.02) weights of
// real initialisers, attention would be nearly uniform and RoPE, masks or q/k norms could be wrong without
// moving any output past the tolerance.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { StorageDtype } from '../../src/engine/model/dtype';
import type { ModelConfig } from '../../src/engine/model/modelConfig';
import { parseModelConfig } from '../../src/engine/model/parseConfig';
import { writeSafetensors, type TensorToWrite } from '../../src/engine/model/safetensorsWriter';
import { expectedTensors } from '../../src/engine/model/tensorSpec';
import { fixture } from './paths';

const TORCH_DTYPE: Record<StorageDtype, string> = { F32: 'float32', BF16: 'bfloat16', F16: 'float16' };

/** mulberry32: deterministic uniform (0, 1) samples for a seed, and N(0, 1) ones through Box-Muller. */
export function sampler(seed: number): { uniform: () => number; normal: () => number } {
  let a = seed >>> 0;
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return { uniform, normal: () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()) };
}

/** Standard deviation for one tensor, chosen from its role (the name) and fan-in (last dim). */
function stdFor(name: string, shape: readonly number[]): number {
  const fanIn = shape[shape.length - 1]!;
  if (name.endsWith('.bias')) return 0.3;
  if (name === 'model.embed_tokens.weight') return 1;
  // Routers: logits with std ~3 so the top k+1 are well separated and routing is decisive.
  if (/\.(mlp\.gate|block_sparse_moe\.gate|router\.layer)\.weight$/.test(name)) return 3 / Math.sqrt(fanIn);
  // Linear layers: unit-variance outputs for unit-variance inputs.
  return 1 / Math.sqrt(fanIn);
}

function isNormWeight(name: string): boolean {
  return /(norm|layernorm)\.weight$/.test(name);
}

/**
 * Writes config.json, model.safetensors (every tensor stored as `dtype`), tokenizer.json and
 * tokenizer_config.json into `dir`; returns the resolved config. Deterministic for a seed.
 */
export async function writeCheckpointForConfig(dir: string, rawConfig: Record<string, unknown>, seed: number, dtype: StorageDtype = 'F32'): Promise<ModelConfig> {
  fs.mkdirSync(dir, { recursive: true });
  const configJson: Record<string, unknown> = { ...rawConfig };
  if (configJson['torch_dtype'] === undefined && configJson['dtype'] === undefined) configJson['torch_dtype'] = TORCH_DTYPE[dtype];
  const config = parseModelConfig(configJson, path.join(dir, 'config.json'));
  const { uniform, normal } = sampler(seed);
  const tensors: TensorToWrite[] = expectedTensors(config).map(({ name, shape }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (isNormWeight(name)) {
      // Around 1 (HF initialises norms to 1), but not exactly, so a norm applied with the wrong weight shows.
      for (let i = 0; i < n; i++) data[i] = 0.9 + 0.2 * uniform();
    } else {
      const std = stdFor(name, shape);
      for (let i = 0; i < n; i++) data[i] = normal() * std;
    }
    return { name, dtype, shape, data };
  });
  await writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(configJson, null, 2) + '\n');
  // Byte-level tokenizer (ids 0..255): every config here has vocab_size >= 256.
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(fixture('mixtral'), f), path.join(dir, f));
  return config;
}
