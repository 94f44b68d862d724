// Memory plans for the published shapes (OLMoE-1B-7B, Qwen1.5-MoE-A2.7B, Mixtral-8x7B, stored BF16) at the
// budgets of ordinary machines: which mode, how many float32 layers, and the refusals with their numbers.
// The working set counts what today's engine keeps (see workingSet.ts): two session variants' arenas (the
// expert-norms variant reads each expert's weights in place, so it holds no copy of them).
// Parameter counts are recomputed here from the published dimensions, independently of tensorSpec.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PUBLISHED_CONFIGS, type PublishedModel } from '../../src/devtools/publishedShapes';
import { CACHED_MIN_TOKENS, holding, MODE_TOKENS, planMemory, type MemoryPlan } from '../../src/engine/memory/memoryPlan';
import { shapeMemoryUnits } from '../../src/engine/memory/memoryUnits';
import type { ModelConfig } from '../../src/engine/model/modelConfig';
import { parseModelConfig } from '../../src/engine/model/parseConfig';
import { MoeError } from '../../src/protocol/moeError';

const GiB = 2 ** 30;
/** A machine with more free memory than any budget here: the budget alone decides. */
const PLENTY = { bytes: 2 ** 50, source: 'test' };

function shape(name: PublishedModel): { c: ModelConfig; units: ReturnType<typeof shapeMemoryUnits> } {
  const c = parseModelConfig({ ...PUBLISHED_CONFIGS[name] }, `${name}/config.json`);
  return { c, units: shapeMemoryUnits(c, 'BF16') };
}

function plan(name: PublishedModel, gib: number): MemoryPlan {
  const { c, units } = shape(name);
  return planMemory(c, units, { budgetBytes: gib * GiB, available: PLENTY, modelDir: name });
}

function refusal(name: PublishedModel, gib: number): MoeError {
  try {
    plan(name, gib);
  } catch (e) {
    assert.ok(e instanceof MoeError, String(e));
    assert.equal(e.code, 'E_UNSUPPORTED');
    return e;
  }
  assert.fail(`${name} at ${gib} GiB was not refused`);
}

const sumBytes = (units: ReturnType<typeof shapeMemoryUnits>, k: 'storedBytes' | 'f32Bytes'): number => units.reduce((a, u) => a + u[k], 0);

describe('memory plans for published model shapes', () => {
  it('counts the published sizes: OLMoE 6.92B parameters (13.8 GB BF16), Qwen1.5-MoE 14.3B (28.6 GB)', () => {
    const H = 2048;
    // OLMoE: attention 4·H², full q/k norms 2·H, two layer norms, router 64·H, 64 experts of 3·1024·H.
    const olmoeLayer = 4 * H * H + 2 * H + 2 * H + 64 * H + 64 * 3 * 1024 * H;
    const olmoe = 2 * 50304 * H + H + 16 * olmoeLayer;
    // Qwen1.5-MoE: attention with q/k/v biases, norms, router 60·H, 60 experts of 3·1408·H, shared 3·5632·H and its gate.
    const qwenLayer = 4 * H * H + 3 * H + 2 * H + 60 * H + 60 * 3 * 1408 * H + 3 * 5632 * H + H;
    const qwen = 2 * 151936 * H + H + 24 * qwenLayer;
    for (const [name, params] of [['olmoe-1b-7b', olmoe], ['qwen1.5-moe-a2.7b', qwen]] as const) {
      const { units } = shape(name);
      assert.equal(sumBytes(units, 'storedBytes'), 2 * params, name);
      assert.equal(sumBytes(units, 'f32Bytes'), 4 * params, name);
    }
    assert.equal((2 * olmoe / 1e9).toFixed(1), '13.8');
    assert.equal((2 * qwen / 1e9).toFixed(1), '28.6');
    // One OLMoE layer as float32, the unit a streaming engine converts at a time.
    assert.equal(shape('olmoe-1b-7b').units.find((u) => u.layer === 3)!.f32Bytes, 4 * olmoeLayer);
  });

  it('OLMoE-1B-7B: refused at 3 GiB, streams at 4, 8 and 16 GiB, caches at 20.4 and 24, is resident at 32 and 64', () => {
    const e = refusal('olmoe-1b-7b', 3);
    assert.match(e.message, /within the 3\.0 GiB memory budget: even streaming, .* largest layer \(1\.6 GiB each\) .*at least 4GiB\./);
    const p4 = plan('olmoe-1b-7b', 4);
    assert.equal(p4.mode, 'streaming');
    assert.equal(p4.f32Layers.size, 0);
    assert.ok(p4.maxTokens < p4.capTokens, `4 GiB leaves room for ${p4.maxTokens} tokens only`);
    const p8 = plan('olmoe-1b-7b', 8);
    assert.equal(p8.mode, 'streaming');
    assert.equal(p8.f32Layers.size, 0);
    assert.ok(p8.maxTokens < p8.capTokens && p8.maxTokens >= 1024 && p8.maxTokens > p4.maxTokens, `8 GiB leaves room for ${p8.maxTokens} tokens`);
    assert.match(p8.reason, /^streaming: the 12\.9 GiB of BF16 weights do not fit in the 8\.0 GiB memory budget with 1024-token sequences \(held as stored they would need about \d+\.\d GiB\); each layer is read from disk when it runs; sequences are limited to \d+ tokens \(4096 without the budget; a --memory-budget of about \d+\.\dGiB allows 4096\)$/);
    const p16 = plan('olmoe-1b-7b', 16);
    assert.equal(p16.mode, 'streaming');
    // Float32 layers before sequences longer than MODE_TOKENS: as many as leave room for 2,048 tokens.
    assert.ok(p16.f32Layers.size > 0 && p16.maxTokens >= MODE_TOKENS && p16.maxTokens < 4096, `${p16.f32Layers.size} layers, ${p16.maxTokens} tokens`);
    const { c, units } = shape('olmoe-1b-7b');
    const more = holding('streaming', units, p16.f32Layers.size + 1);
    assert.ok(planMemory(c, units, { mode: 'streaming', f32Layers: more.f32Layers, budgetBytes: 16 * GiB, available: PLENTY }).maxTokens < MODE_TOKENS, 'one more float32 layer would not leave room for 2,048 tokens');
    const p24 = plan('olmoe-1b-7b', 24);
    assert.equal(p24.mode, 'cached');
    assert.equal(p24.estimate.storedBytes, sumBytes(shape('olmoe-1b-7b').units, 'storedBytes'), 'cached holds every stored weight');
    assert.match(p24.reason, /^cached: the 12\.9 GiB of BF16 weights are held as stored, but as float32 \(25\.8 GiB\) they exceed the 24\.0 GiB memory budget; \d+ of 16 layers keep a float32 copy/);
    for (const g of [32, 64]) {
      const p = plan('olmoe-1b-7b', g);
      assert.equal(p.mode, 'resident', `${g} GiB`);
      assert.equal(p.f32Layers.size, 16);
      assert.equal(p.estimate.layerBufferBytes, 0);
      assert.match(p.reason, new RegExp(`^resident: the 12\\.9 GiB of BF16 weights fit in the ${g}\\.0 GiB memory budget as float32 \\(25\\.8 GiB\\)`));
    }
    assert.equal(plan('olmoe-1b-7b', 64).maxTokens, 4096);
  });

  it('Qwen1.5-MoE-A2.7B: refused at 4 GiB with the numbers, streams at 8, 16 and 32 GiB', () => {
    const e = refusal('qwen1.5-moe-a2.7b', 4);
    assert.equal(e.file, 'qwen1.5-moe-a2.7b');
    assert.match(e.message, /cannot run within the 4\.0 GiB memory budget: even streaming, which holds no weights in memory, needs about [45]\.\d GiB: two float32 buffers for its largest layer \(2\.1 GiB each\)/);
    assert.match(e.message, /Give a larger --memory-budget \(setting moeWorkbench\.memoryBudget\), at least 5GiB\./);
    for (const g of [8, 16, 32]) {
      const p = plan('qwen1.5-moe-a2.7b', g);
      assert.equal(p.mode, 'streaming', `${g} GiB`);
      assert.match(p.reason, /^streaming: the 26\.7 GiB of BF16 weights do not fit/);
    }
    assert.equal(plan('qwen1.5-moe-a2.7b', 8).f32Layers.size, 0);
    assert.ok(plan('qwen1.5-moe-a2.7b', 32).f32Layers.size > plan('qwen1.5-moe-a2.7b', 16).f32Layers.size);
  });

  it('Mixtral-8x7B: one 5.4 GiB layer needs two buffers, so 4 and 8 GiB are refused; 12, 16 and 32 GiB stream', () => {
    for (const g of [4, 8]) {
      const e = refusal('mixtral-8x7b', g);
      assert.match(e.message, new RegExp(`within the ${g}\\.0 GiB memory budget: .*largest layer \\(5\\.4 GiB each\\).*at least 12GiB`));
    }
    for (const g of [12, 16, 32]) assert.equal(plan('mixtral-8x7b', g).mode, 'streaming', `${g} GiB`);
  });

  it('OLMoE-1B-7B at the 20.4 GiB a 24 GB machine leaves: cached with a shorter cap, not streaming 4,096 tokens', () => {
    const p = plan('olmoe-1b-7b', 20.4);
    assert.equal(p.mode, 'cached', p.reason);
    assert.equal(p.estimate.storedBytes, sumBytes(shape('olmoe-1b-7b').units, 'storedBytes'));
    assert.ok(p.maxTokens >= CACHED_MIN_TOKENS && p.maxTokens < MODE_TOKENS, `${p.maxTokens} tokens`);
    assert.equal(p.f32Layers.size, 0, 'no float32 layer while the cap is below 2,048 tokens');
    // Streaming would have run longer sequences: that is the trade the rule declines.
    const { c, units } = shape('olmoe-1b-7b');
    const streaming = planMemory(c, units, { mode: 'streaming', budgetBytes: 20.4 * GiB, available: PLENTY });
    assert.ok(streaming.maxTokens > p.maxTokens, `streaming: ${streaming.maxTokens} tokens`);
    assert.match(
      p.reason,
      new RegExp(`^cached: the 12\\.9 GiB of BF16 weights are held as stored, but as float32 \\(25\\.8 GiB\\) they exceed the 20\\.4 GiB memory budget; 0 of 16 layers keep a float32 copy, the others are converted when they run; sequences are limited to ${p.maxTokens} tokens \\(4096 without the budget; cached mode is kept rather than streaming, which reads every layer from disk on each pass, while sequences of 1024 tokens fit; a --memory-budget of about (\\d+\\.\\d)GiB allows 4096\\)$`),
    );
    // The budget named does run the whole context.
    const advised = Number(/about (\d+\.\d)GiB/.exec(p.reason)![1]);
    assert.equal(plan('olmoe-1b-7b', advised).maxTokens, 4096, `${advised} GiB`);
  });

  it('every plan stays within its budget, adds up, and keeps as many float32 layers as fit', () => {
    for (const name of Object.keys(PUBLISHED_CONFIGS) as PublishedModel[]) {
      let rank = -1;
      for (const g of [4, 8, 12, 16, 20, 24, 32, 48, 64, 128, 256]) {
        let p: MemoryPlan;
        try {
          p = plan(name, g);
        } catch {
          assert.equal(rank, -1, `${name}: refused at ${g} GiB after a plan at a smaller budget`);
          continue;
        }
        const e = p.estimate;
        assert.ok(e.peakBytes <= g * GiB, `${name} at ${g} GiB: peak ${e.peakBytes}`);
        assert.equal(e.peakBytes, e.storedBytes + e.f32CacheBytes + e.layerBufferBytes + e.activationBytes + e.attentionBytes + e.runtimeBytes);
        assert.equal(e.tokens, p.maxTokens);
        // A larger budget never picks a slower mode.
        const r = ['streaming', 'cached', 'resident'].indexOf(p.mode);
        assert.ok(r >= rank, `${name}: ${p.mode} at ${g} GiB after a faster mode`);
        rank = r;
        if (p.mode === 'resident') continue;
        // One more float32 layer would not fit: its bytes exceed what is left.
        const { units } = shape(name);
        const next = units.find((u) => u.kind === 'layer' && !p.f32Layers.has(u.layer!));
        if (next) assert.ok(e.peakBytes + next.f32Bytes > g * GiB, `${name} at ${g} GiB: room for another float32 layer`);
      }
    }
  });
});
