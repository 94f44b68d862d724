// The memory plan's inputs and rules on real checkpoints: unit sizes from the safetensors headers, the
// budget (given, lowered to the free memory, or derived from it), F32-stored weights, tied heads, a forced
// mode, and a refusal for a budget too small for even one layer.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBytes, parseMemoryBudget } from '../../src/engine/memory/memoryBudget';
import { memoryInfoOf } from '../../src/engine/memory/memoryInfo';
import { planCheckpointMemory, planMemory } from '../../src/engine/memory/memoryPlan';
import { checkpointMemoryUnits, shapeMemoryUnits } from '../../src/engine/memory/memoryUnits';
import { resolveBudget } from '../../src/engine/memory/resolveBudget';
import { estimateWorkingSet, RUNTIME_RESERVE_BYTES } from '../../src/engine/memory/workingSet';
import { AVAILABLE_MEMORY_ENV, availableMemory } from '../../src/engine/model/availableMemory';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { loadModelConfig } from '../../src/engine/model/parseConfig';
import { MoeError } from '../../src/protocol/moeError';
import { fixture } from '../support/paths';

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const free = (bytes: number) => ({ bytes, source: 'test' });

describe('memory plan inputs and rules', () => {
  it('unit sizes come from the headers: stored bytes are the weights in the files, float32 bytes 4 per element', () => {
    for (const name of ['olmoe', 'granitemoe', 'qwen2_moe']) {
      const ckpt = openCheckpoint(fixture(name));
      try {
        const units = checkpointMemoryUnits(ckpt);
        assert.deepEqual(units.map((u) => u.kind), ['embeddings', ...ckpt.config.layers.map(() => 'layer'), 'head']);
        let stored = 0;
        let elements = 0;
        for (const { entry } of ckpt.tensors.values()) {
          stored += entry.byteLength;
          elements += entry.shape.reduce((a, b) => a * b, 1);
        }
        assert.equal(units.reduce((a, u) => a + u.storedBytes, 0), stored, name);
        const tiedExtra = ckpt.config.tieWordEmbeddings ? ckpt.config.vocabSize * ckpt.config.hiddenSize * 4 : 0;
        assert.equal(units.reduce((a, u) => a + u.f32Bytes, 0), elements * 4 + tiedExtra, name);
        assert.equal(units.reduce((a, u) => a + u.sharedF32Bytes, 0), tiedExtra, name);
      } finally {
        ckpt.close();
      }
    }
  });

  it('a tied head stores only its norm but runs with a float32 copy of the embedding matrix', () => {
    const c = loadModelConfig(fixture('granitemoe'));
    assert.equal(c.tieWordEmbeddings, true);
    const head = shapeMemoryUnits(c, 'BF16').find((u) => u.kind === 'head')!;
    assert.equal(head.storedBytes, c.hiddenSize * 2);
    assert.equal(head.f32Bytes, (c.hiddenSize + c.vocabSize * c.hiddenSize) * 4);
    assert.equal(head.sharedF32Bytes, c.vocabSize * c.hiddenSize * 4, 'held once when resident');
    // Only routed experts are read in blocks: one expert's projection, [I, H] at 2 bytes.
    const layer = shapeMemoryUnits(c, 'BF16').find((u) => u.layer === 0)!;
    assert.equal(layer.readBlockBytes, c.layers[0]!.intermediateSize * c.hiddenSize * 2);
    assert.equal(head.readBlockBytes, 0);
  });

  it('the budget: as given, lowered to the free memory, or 90% of the free memory less 256 MiB', () => {
    const given = resolveBudget(8 * GiB, free(16 * GiB));
    assert.deepEqual([given.bytes, given.explicit, given.lowered], [8 * GiB, true, false]);
    const lowered = resolveBudget(32 * GiB, { bytes: 16 * GiB, source: 'MemAvailable in /proc/meminfo' });
    assert.deepEqual([lowered.bytes, lowered.lowered], [16 * GiB, true]);
    assert.equal(lowered.source, 'the 32.0 GiB memory budget given, lowered to the 16.0 GiB free (MemAvailable in /proc/meminfo)');
    const derived = resolveBudget(undefined, free(10 * GiB));
    assert.equal(derived.bytes, Math.floor(9 * GiB - 256 * MiB));
    assert.equal(derived.source, '90% of the 10.0 GiB free (test) less 256 MiB');
    assert.equal(resolveBudget(undefined, free(100 * MiB)).bytes, 0);
    // The machine's figure honours the override the tests and unusual setups use.
    assert.equal(availableMemory({ [AVAILABLE_MEMORY_ENV]: '12GiB' }).bytes, 12 * GiB);
  });

  it('a derived budget is named in the reason; a lowered one too', () => {
    const dir = fixture('olmoe');
    const ckpt = openCheckpoint(dir);
    try {
      const auto = planCheckpointMemory(ckpt, { available: free(10 * GiB) });
      assert.equal(auto.mode, 'resident');
      assert.match(auto.reason, /\(budget: 90% of the 10\.0 GiB free \(test\) less 256 MiB\)$/);
      const low = planCheckpointMemory(ckpt, { budgetBytes: 64 * GiB, available: free(10 * GiB) });
      assert.equal(low.budgetBytes, 10 * GiB);
      assert.match(low.reason, /\(the 64\.0 GiB memory budget given, lowered to the 10\.0 GiB free \(test\)\)$/);
    } finally {
      ckpt.close();
    }
  });

  it('F32-stored layers run from their stored copy in cached mode: no extra float32 bytes, no buffer', () => {
    const c = loadModelConfig(fixture('qwen2_moe'));
    const units = shapeMemoryUnits(c, 'F32');
    const stored = units.reduce((a, u) => a + u.storedBytes, 0);
    const p = planMemory(c, units, { mode: 'cached', budgetBytes: 4 * GiB, available: free(8 * GiB) });
    assert.equal(p.f32Layers.size, c.numLayers);
    assert.deepEqual([p.estimate.storedBytes, p.estimate.f32CacheBytes, p.estimate.layerBufferBytes], [stored, 0, 0]);
  });

  it('the working set grows with the sequence: attention quadratically, the rest linearly', () => {
    const c = loadModelConfig(fixture('olmoe'));
    const a = estimateWorkingSet(c, 512);
    const b = estimateWorkingSet(c, 1024);
    // Rounded up to whole bytes: within a byte of the exact ratios.
    assert.ok(Math.abs(b.attentionBytes - 4 * a.attentionBytes) <= 4, `${b.attentionBytes} vs ${a.attentionBytes}`);
    assert.ok(a.attentionBytes >= 4 * 2 * 2 * c.numHeads * 512 * 512, 'at least two [heads, T, T] float tensors per retained layer session');
    assert.ok(Math.abs(b.activationBytes - 2 * a.activationBytes) <= 2);
    assert.ok(a.runtimeBytes > RUNTIME_RESERVE_BYTES && b.runtimeBytes > a.runtimeBytes);
  });

  it('a tight budget shortens the longest sequence before it refuses; below one layer it refuses with the numbers', () => {
    const c = loadModelConfig(fixture('olmoe'));
    const units = shapeMemoryUnits(c, 'BF16');
    const roomy = planMemory(c, units, { budgetBytes: 8 * GiB, available: free(64 * GiB) });
    assert.equal(roomy.maxTokens, c.contextLength);
    const tight = planMemory(c, units, { budgetBytes: 400 * MiB, available: free(64 * GiB) });
    assert.ok(tight.maxTokens < 2048 && tight.maxTokens >= 128, `${tight.maxTokens} tokens`);
    assert.ok(tight.estimate.peakBytes <= 400 * MiB);
    assert.match(tight.reason, new RegExp(`sequences are limited to ${tight.maxTokens} tokens \\(${c.contextLength} without the budget; a --memory-budget of about \\d+\\.\\dGiB allows ${c.contextLength}\\)`));
    const budget = parseMemoryBudget('200MiB');
    assert.throws(
      () => planMemory(c, units, { budgetBytes: budget, available: free(64 * GiB), modelDir: '/models/tiny' }),
      (e: unknown) => {
        assert.ok(e instanceof MoeError);
        assert.equal(e.code, 'E_UNSUPPORTED');
        assert.equal(e.file, '/models/tiny');
        assert.match(e.message, /^\/models\/tiny: this model cannot run within the 200 MiB memory budget: even streaming, .* needs about \d+ MiB: two float32 buffers for its largest layer \(\d+ KiB each\) and \d+ MiB of working memory \(activations, ONNX Runtime's arenas\) for 128-token sequences\. Give a larger --memory-budget \(setting moeWorkbench\.memoryBudget\), at least 0\.5GiB\.$/);
        return true;
      },
    );
    // A derived budget too small says to free memory instead.
    assert.throws(() => planMemory(c, units, { available: free(300 * MiB) }), /within the 14 MiB memory budget \(90% of the 300 MiB free \(test\) less 256 MiB\): .*Free memory \(the budget cannot exceed what is free\)/);
  });

  it('a forced mode is planned even beyond the budget, and ModelInfo.memory carries the plan', () => {
    const c = loadModelConfig(fixture('mixtral'));
    const units = shapeMemoryUnits(c, 'BF16');
    const p = planMemory(c, units, { mode: 'streaming', budgetBytes: MiB, available: free(GiB) });
    assert.equal(p.mode, 'streaming');
    assert.equal(p.f32Layers.size, 0);
    assert.match(p.reason, /^streaming: forced, beyond the budget \(about \d+ MiB for 128-token sequences, budget 1 MiB\)$/);
    const info = memoryInfoOf(p, c.numLayers);
    assert.deepEqual({ ...info, estimate: undefined }, { mode: 'streaming', budgetBytes: MiB, f32Layers: 0, numLayers: c.numLayers, maxTokens: 128, estimate: undefined, reason: p.reason });
    assert.equal(info.estimate.peakBytes, p.estimate.peakBytes);
    // It survives the JSON of the engine protocol.
    assert.deepEqual(JSON.parse(JSON.stringify(info)), info);
  });

  it('formatBytes keeps one decimal in GiB below 100 GiB', () => {
    assert.equal(formatBytes(12.88 * GiB), '12.9 GiB');
    assert.equal(formatBytes(174.2 * GiB), '174 GiB');
    assert.equal(formatBytes(300 * MiB), '300 MiB');
  });
});
