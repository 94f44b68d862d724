// config.json sizes checked against the shapes the safetensors headers declare, before anything is sized
// from them: a config can never claim more layers, experts or wider tensors than the weight files hold.
// Each refusal names the config key and its value and the tensor that disagrees (issue #8).
import { MoeError } from '../../protocol/moeError';
import type { ModelConfig } from './modelConfig';
import { numExpertsKey } from './parseConfig';
import type { TensorEntry } from './safetensors';
import { eachExpectedTensor, expertLayout } from './tensorSpec';

/** A tensor as its header declares it, and the file that declares it. */
export interface DeclaredTensor {
  readonly entry: TensorEntry;
  readonly file: { readonly path: string };
}

type Declared = ReadonlyMap<string, DeclaredTensor>;

/** Throws, naming the key, when config.json and the weight headers disagree on a size (E_CONFIG for counts, E_WEIGHTS for shapes). */
export function checkConfigAgainstWeights(c: ModelConfig, tensors: Declared, configFile: string): void {
  const fail = (msg: string): never => {
    throw new MoeError('E_CONFIG', `${configFile}: ${msg}`, configFile);
  };
  /**
   * Fails when `name` (if the files declare it, with the rank of `want`) differs from `want` at `axis`, the
   * dimension `key` sets. The weights file is named as the place of the disagreement, the key as its cause.
   */
  const expectShape = (name: string, want: readonly number[], axis: number, key: string): void => {
    const t = tensors.get(name);
    if (!t) return; // a missing tensor is reported by name once the sizes are known to be sane
    const got = t.entry.shape;
    // Only the key's own dimension: another dimension's mismatch is another key's (or validateTensors') to report.
    if (got.length !== want.length || got[axis] === want[axis]) return;
    const file = t.file.path;
    throw new MoeError(
      'E_WEIGHTS',
      `${file}: tensor "${name}" has shape [${got.join(', ')}] but config.json implies [${want.join(', ')}]: ${key} is ${want[axis]} in ${configFile}, dimension ${axis} of the tensor is ${got[axis] ?? 'absent'}`,
      file,
    );
  };

  const declaredLayers = layersDeclared(tensors);
  if (c.numLayers > declaredLayers) {
    fail(`"num_hidden_layers" is ${c.numLayers}, but the weight files declare tensors for ${declaredLayers} layer${declaredLayers === 1 ? '' : 's'}` + (declaredLayers > 0 ? ` (model.layers.0 to model.layers.${declaredLayers - 1})` : ''));
  }
  const H = c.hiddenSize;
  expectShape('model.embed_tokens.weight', [c.vocabSize, H], 0, '"vocab_size"');
  expectShape('model.embed_tokens.weight', [c.vocabSize, H], 1, '"hidden_size"');
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const heads = `"num_attention_heads" × head dimension (${c.numHeads} × ${c.headDim})`;
  const kvHeads = `"num_key_value_heads" × head dimension (${c.numKvHeads} × ${c.headDim})`;
  for (const [L, layer] of c.layers.entries()) {
    const p = `model.layers.${L}.`;
    expectShape(`${p}self_attn.q_proj.weight`, [qDim, H], 0, heads);
    expectShape(`${p}self_attn.k_proj.weight`, [kvDim, H], 0, kvHeads);
    const I = layer.intermediateSize;
    if (layer.kind === 'dense') {
      expectShape(`${p}mlp.gate_proj.weight`, [I, H], 0, '"intermediate_size"');
      continue;
    }
    const E = layer.routing.numExperts;
    const expertsKey = `"${numExpertsKey(c.modelType)}"`;
    const lay = expertLayout(c, L);
    expectShape(lay.router, [E, H], 0, expertsKey);
    const interKey = c.modelType === 'qwen2_moe' || c.modelType === 'qwen3_moe' ? '"moe_intermediate_size"' : '"intermediate_size"';
    if (lay.kind === 'fused') {
      expectShape(lay.gateUp, [E, 2 * I, H], 0, expertsKey);
      expectShape(lay.down, [E, H, I], 2, interKey);
    } else {
      expectShape(lay.gate(0), [I, H], 0, interKey);
    }
    if (layer.shared) expectShape(`${p}mlp.shared_expert.gate_proj.weight`, [layer.shared.intermediateSize, H], 0, '"shared_expert_intermediate_size"');
  }
  // Whatever the tensors are named, a config implying more of them than the files declare cannot load;
  // counting lazily stops at the files' count, so a huge expert count is never enumerated.
  let n = 0;
  for (const _ of eachExpectedTensor(c)) {
    if (++n > tensors.size) fail(`the config implies more tensors than the ${tensors.size} the weight files declare (check "num_hidden_layers" = ${c.numLayers} and the expert counts)`);
  }
}

/** 1 + the largest N of the `model.layers.N.` tensors in the headers (0 when there are none). */
function layersDeclared(tensors: Declared): number {
  let max = -1;
  for (const name of tensors.keys()) {
    const m = /^model\.layers\.(\d{1,9})\./.exec(name);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max + 1;
}
