// --train specs: every form resolved against the fixtures' configs, and every error naming its value.
// Run: node --import tsx --test test/unit/trainSpec.test.ts
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { loadModelConfig, parseModelConfig } from '../../src/engine/model/parseConfig';
import type { ModelConfig } from '../../src/engine/model/modelConfig';
import { expectedTensors } from '../../src/engine/model/tensorSpec';
import { gradientFileTensors } from '../../src/engine/training/gradientsFile';
import { parseTrainSpec, resolveTrainSpecs } from '../../src/engine/training/trainSpec';
import type { TrainableSet } from '../../src/engine/training/trainableSet';
import { fixture } from '../support/paths';

const config = (name: string): ModelConfig => loadModelConfig(fixture(name));

/** Qwen2-MoE with layer 1 dense (mlp_only_layers): the only way to get a mixed model from the fixtures. */
function mixedQwen2(): ModelConfig {
  const file = path.join(fixture('qwen2_moe'), 'config.json');
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  return parseModelConfig({ ...raw, mlp_only_layers: [1] }, file);
}

const experts = (s: TrainableSet): string[] => [...s.experts].flatMap(([L, es]) => [...es].map((e) => `${L}:${e}`)).sort();
const all8 = (layers: number[]): string[] => layers.flatMap((L) => [0, 1, 2, 3, 4, 5, 6, 7].map((e) => `${L}:${e}`)).sort();

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.equal((e as { code?: string }).code, 'E_INPUT', String(e));
    return (e as Error).message;
  }
  assert.fail('expected an error');
}

describe('parseTrainSpec', () => {
  test('the named forms, trimmed', () => {
    for (const k of ['all', 'experts', 'routers', 'shared-experts']) assert.deepEqual(parseTrainSpec(` ${k} `), { kind: k });
    assert.deepEqual(parseTrainSpec('experts=0:3, 1:7'), { kind: 'expert-list', experts: [{ layer: 0, expert: 3 }, { layer: 1, expert: 7 }] });
  });
  test('malformed specs name the spec and the forms', () => {
    const cases: [string, RegExp][] = [
      ['', /"": empty/],
      ['expert', /"expert": unknown/],
      ['Experts', /"Experts": unknown/],
      ['experts=', /an empty item/],
      ['experts=0:1,', /an empty item/],
      ['experts=0', /"0" is not L:E/],
      ['experts=0:-1', /"0:-1" is not L:E/],
      ['experts=a:1', /"a:1" is not L:E/],
      ['experts=0:1.5', /"0:1.5" is not L:E/],
      ['experts=99999999999999999999:0', /out of range/],
    ];
    for (const [spec, re] of cases) {
      const msg = errorOf(() => parseTrainSpec(spec));
      assert.match(msg, re, spec);
      assert.match(msg, /the forms are all, experts, experts=L:E/);
    }
  });
});

describe('resolveTrainSpecs', () => {
  test('experts (also the default): every routed expert, no whole tensors', () => {
    for (const s of [resolveTrainSpecs(['experts'], config('mixtral')), resolveTrainSpecs([], config('mixtral'))]) {
      assert.equal(s.tensors.size, 0);
      assert.deepEqual(experts(s), all8([0, 1]));
    }
    assert.deepEqual(experts(resolveTrainSpecs([], mixedQwen2())), all8([0, 2]));
  });

  test('routers: the router of every MoE layer, per family naming', () => {
    assert.deepEqual([...resolveTrainSpecs(['routers'], config('mixtral')).tensors], ['model.layers.0.block_sparse_moe.gate.weight', 'model.layers.1.block_sparse_moe.gate.weight']);
    assert.deepEqual([...resolveTrainSpecs(['routers'], config('granitemoe')).tensors], [0, 1, 2].map((L) => `model.layers.${L}.block_sparse_moe.router.layer.weight`));
    const mixed = resolveTrainSpecs(['routers'], mixedQwen2());
    assert.deepEqual([...mixed.tensors], ['model.layers.0.mlp.gate.weight', 'model.layers.2.mlp.gate.weight']);
    assert.equal(mixed.experts.size, 0);
  });

  test('shared-experts: Qwen2-MoE shared expert and its sigmoid gate', () => {
    const s = resolveTrainSpecs(['shared-experts'], config('qwen2_moe'));
    const p = (L: number): string[] => ['gate_proj', 'up_proj', 'down_proj'].map((n) => `model.layers.${L}.mlp.shared_expert.${n}.weight`).concat(`model.layers.${L}.mlp.shared_expert_gate.weight`);
    assert.deepEqual([...s.tensors].sort(), [0, 1, 2].flatMap(p).sort());
    assert.equal(s.experts.size, 0);
  });

  test('all: every tensor of the model, routed experts by id', () => {
    for (const name of ['mixtral', 'qwen2_moe', 'qwen3_moe', 'olmoe', 'granitemoe', 'llama', 'qwen3']) {
      const c = config(name);
      const s = resolveTrainSpecs(['all'], c);
      // The file of `all` holds exactly the model's tensors.
      assert.deepEqual(gradientFileTensors(c, s), expectedTensors(c), name);
      for (const t of s.tensors) assert.doesNotMatch(t, /experts\.\d+\.|input_linear|output_linear/, `${name}: routed-expert tensor ${t} among whole tensors`);
      const moe = c.layers.flatMap((l, i) => (l.kind === 'moe' ? [i] : []));
      assert.deepEqual([...s.experts.keys()], moe, name);
    }
    assert.ok(resolveTrainSpecs(['all'], config('llama')).tensors.has('lm_head.weight'));
    assert.ok(!resolveTrainSpecs(['all'], config('qwen3')).tensors.has('lm_head.weight'), 'tied: no lm_head tensor');
  });

  test('experts=L:E and the union of repeated specs', () => {
    const s = resolveTrainSpecs(['experts=1:7,0:2', 'routers', 'experts=0:2'], config('olmoe'));
    assert.deepEqual(experts(s), ['0:2', '1:7']);
    assert.deepEqual([...s.tensors], ['model.layers.0.mlp.gate.weight', 'model.layers.1.mlp.gate.weight']);
    const u = resolveTrainSpecs(['experts=0:1', 'experts'], config('olmoe'));
    assert.deepEqual(experts(u), all8([0, 1]));
  });

  test('the file tensors of a subset: separate experts by id, fused tensors whole', () => {
    const mix = gradientFileTensors(config('mixtral'), resolveTrainSpecs(['experts=1:3'], config('mixtral')));
    assert.deepEqual(mix.map((t) => t.name).sort(), ['w1', 'w2', 'w3'].map((w) => `model.layers.1.block_sparse_moe.experts.3.${w}.weight`));
    const g = config('granitemoe');
    const gran = gradientFileTensors(g, resolveTrainSpecs(['experts=2:0'], g));
    assert.deepEqual(gran.map((t) => [t.name, t.shape]), [
      ['model.layers.2.block_sparse_moe.input_linear.weight', [6, 2 * (g.layers[2] as { intermediateSize: number }).intermediateSize, g.hiddenSize]],
      ['model.layers.2.block_sparse_moe.output_linear.weight', [6, g.hiddenSize, (g.layers[2] as { intermediateSize: number }).intermediateSize]],
    ]);
  });

  test('a layer that does not exist, a dense layer, an expert that does not exist', () => {
    assert.match(errorOf(() => resolveTrainSpecs(['experts=2:0'], config('mixtral'))), /--train experts=2:0: layer 2 does not exist \(the model has 2 decoder layers, 0\.\.1; MoE layers: 0, 1\)/);
    assert.match(errorOf(() => resolveTrainSpecs(['experts=0:0,1:1'], mixedQwen2())), /--train experts=0:0,1:1: layer 1 is a dense layer and has no routed experts \(MoE layers: 0, 2\)/);
    assert.match(errorOf(() => resolveTrainSpecs(['experts=0:0'], config('llama'))), /layer 0 is a dense layer and has no routed experts \(it has no MoE layers\)/);
    assert.match(errorOf(() => resolveTrainSpecs(['experts=1:6'], config('granitemoe'))), /expert 6 does not exist in layer 1 \(it has 6 routed experts, 0\.\.5\)/);
  });

  test('experts and routers of a dense model, shared experts of a model without: errors, not empty files', () => {
    assert.match(errorOf(() => resolveTrainSpecs([], config('llama'))), /--train experts \(the default\): this model \(LlamaForCausalLM\) has no MoE layers.*use --train all/);
    assert.match(errorOf(() => resolveTrainSpecs(['routers'], config('qwen3'))), /--train routers: this model \(Qwen3ForCausalLM\) has no MoE layers/);
    assert.match(errorOf(() => resolveTrainSpecs(['all', 'shared-experts'], config('mixtral'))), /--train shared-experts: this model \(MixtralForCausalLM\) has no shared experts/);
    assert.equal(resolveTrainSpecs(['all'], config('llama')).experts.size, 0);
  });

  test('a malformed spec is refused when resolving too', () => {
    assert.match(errorOf(() => resolveTrainSpecs(['experts', 'routerz'], config('mixtral'))), /"routerz": unknown/);
  });
});
