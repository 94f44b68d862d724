// MoeEngine.load plans memory from the headers before any weight is read (issue #8: a sparse file with an
// honest 24 GiB header was allocated until the process died; issue #9: the plan picks resident, cached or
// streaming within the budget, or refuses with the numbers). The free memory is injected with
// MOE_WORKBENCH_AVAILABLE_MEMORY (the default budget is 90% of it less 256 MiB), or a budget is given.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { AVAILABLE_MEMORY_ENV, availableMemory } from '../../src/engine/model/availableMemory';
import { parseModelConfig } from '../../src/engine/model/parseConfig';
import { expectedTensors } from '../../src/engine/model/tensorSpec';
import { MoeEngine } from '../../src/engine/moeEngine';
import { MoeError } from '../../src/protocol/moeError';
import { fixture } from '../support/paths';
import { copyFixture, removeTempModels } from '../support/tempModel';

/** A Mixtral-shaped checkpoint whose header honestly declares every tensor, in a sparse file (no disk used). */
function sparseCheckpoint(): { dir: string; declaredBytes: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-sparse-'));
  const raw = {
    model_type: 'mixtral',
    architectures: ['MixtralForCausalLM'],
    hidden_act: 'silu',
    hidden_size: 4096,
    intermediate_size: 14336,
    num_attention_heads: 32,
    num_key_value_heads: 8,
    num_hidden_layers: 4,
    num_local_experts: 8,
    num_experts_per_tok: 2,
    vocab_size: 32000,
    max_position_embeddings: 32768,
    rms_norm_eps: 1e-5,
    rope_theta: 1e6,
    torch_dtype: 'float32',
  };
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const t of expectedTensors(parseModelConfig(raw, path.join(dir, 'config.json')))) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * 4;
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let text = JSON.stringify(header);
  text = text.padEnd(Math.ceil(text.length / 8) * 8, ' ');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(text.length));
  const file = path.join(dir, 'model.safetensors');
  fs.writeFileSync(file, Buffer.concat([len, Buffer.from(text)]));
  fs.truncateSync(file, 8 + text.length + offset);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(raw));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(fixture('mixtral'), f), path.join(dir, f));
  return { dir, declaredBytes: offset };
}

describe('memory plan at load, before any weight is read', () => {
  const saved = process.env[AVAILABLE_MEMORY_ENV];
  const made: string[] = [];
  afterEach(() => {
    if (saved === undefined) delete process.env[AVAILABLE_MEMORY_ENV];
    else process.env[AVAILABLE_MEMORY_ENV] = saved;
  });
  after(() => {
    removeTempModels();
    for (const d of made) fs.rmSync(d, { recursive: true, force: true });
  });

  it('a sparse file with an honest ~24 GiB header is refused with the budget, the layer size and what to change', async () => {
    const { dir, declaredBytes } = sparseCheckpoint();
    made.push(dir);
    assert.ok(declaredBytes > 22 * 2 ** 30, `the header declares ${(declaredBytes / 2 ** 30).toFixed(1)} GiB`);
    process.env[AVAILABLE_MEMORY_ENV] = '8GiB';
    const before = process.memoryUsage().arrayBuffers;
    await assert.rejects(MoeEngine.load(dir), (e: unknown) => {
      assert.ok(e instanceof MoeError, String(e));
      assert.equal(e.code, 'E_UNSUPPORTED');
      assert.equal(e.file, dir);
      assert.match(e.message, /this model cannot run within the 6\.9 GiB memory budget \(90% of the 8\.0 GiB free \(MOE_WORKBENCH_AVAILABLE_MEMORY\) less 256 MiB\): even streaming, which holds no weights in memory, needs about 1[12]\.\d GiB: two float32 buffers for its largest layer \(5\.4 GiB each\)/);
      assert.match(e.message, /Free memory \(the budget cannot exceed what is free\)/);
      return true;
    });
    // Nothing of the 24 GiB was read: the process holds about what it held before.
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 2 ** 20);
  });

  it('the same figures without the override come from the machine (MemAvailable / process limits)', () => {
    delete process.env[AVAILABLE_MEMORY_ENV];
    const a = availableMemory();
    assert.ok(a.bytes > 0 && Number.isFinite(a.bytes), `available ${a.bytes}`);
    if (process.platform === 'linux') assert.match(a.source, /MemAvailable|process limits/);
  });

  it('a small model is refused when the free memory leaves no budget, and loads resident when it fits', async () => {
    const dir = copyFixture('qwen2_moe');
    process.env[AVAILABLE_MEMORY_ENV] = '300 MiB';
    await assert.rejects(MoeEngine.load(dir), /cannot run within the 14 MiB memory budget \(90% of the 300 MiB free \(MOE_WORKBENCH_AVAILABLE_MEMORY\) less 256 MiB\)/);
    process.env[AVAILABLE_MEMORY_ENV] = '8GiB';
    const engine = await MoeEngine.load(dir);
    try {
      const m = engine.info.memory!;
      assert.equal(m.mode, 'resident');
      assert.match(m.reason, /^resident: .*\(budget: 90% of the 8\.0 GiB free \(MOE_WORKBENCH_AVAILABLE_MEMORY\) less 256 MiB\)$/);
      assert.equal(engine.weights.holding.f32Bytes, m.estimate.f32CacheBytes, 'the estimate counts exactly the float32 weights the engine holds');
    } finally {
      await engine.dispose();
    }
  });

  it('a --memory-budget too small for even one layer is refused naming it; one given is the budget', async () => {
    process.env[AVAILABLE_MEMORY_ENV] = '8GiB';
    await assert.rejects(MoeEngine.load(fixture('olmoe'), { memoryBudget: 2 ** 20 }), /this model cannot run within the 1 MiB memory budget: even streaming, .*Give a larger --memory-budget \(setting moeWorkbench\.memoryBudget\), at least 0\.5GiB\./);
    const engine = await MoeEngine.load(fixture('olmoe'), { memoryBudget: 2 ** 31 });
    try {
      assert.equal(engine.info.memory?.budgetBytes, 2 ** 31);
      assert.doesNotMatch(engine.info.memory!.reason, /budget:/);
    } finally {
      await engine.dispose();
    }
  });

  it('in every mode the plan counts the weights the engine holds (held as stored or float32, and buffers)', async () => {
    process.env[AVAILABLE_MEMORY_ENV] = '8GiB';
    for (const name of ['olmoe', 'qwen2_moe', 'granitemoe', 'mixtral']) {
      for (const weightMode of ['resident', 'cached', 'streaming'] as const) {
        const engine = await MoeEngine.load(fixture(name), { weightMode });
        try {
          // Twice: the second pass has the prefetch worker's buffers and read blocks in use too.
          for (let i = 0; i < 2; i++) await engine.forward([1, 2, 3, 4], { routing: true, hidden: false, logits: false });
          const m = engine.info.memory!;
          const h = engine.weights.holding;
          const at = `${name} ${weightMode}`;
          assert.equal(m.mode, weightMode, at);
          // An F32 file's tensors are float32 as stored: the engine and the plan may file them under either.
          assert.equal(h.storedBytes + h.f32Bytes, m.estimate.storedBytes + m.estimate.f32CacheBytes, `${at}: weights held`);
          assert.ok(h.bufferBytes <= m.estimate.layerBufferBytes, `${at}: buffers ${h.bufferBytes} within ${m.estimate.layerBufferBytes}`);
        } finally {
          await engine.dispose();
        }
      }
    }
  });

  it('a malformed override is refused by name', async () => {
    process.env[AVAILABLE_MEMORY_ENV] = 'lots';
    await assert.rejects(MoeEngine.load(copyFixture('olmoe')), /MOE_WORKBENCH_AVAILABLE_MEMORY="lots" is not a size/);
  });
});
