// Layer-major work over many sequences (MoeEngine.forwardBatch: every sequence passes layer L before
// L + 1) gives exactly what one forward per sequence gives, and so do the profiling and evaluation that
// use it when weights are not resident: bitwise, since each sequence runs the same sessions on the same
// float32 weights; only the order of the runs changes.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readCalibrationSet } from '../../src/engine/calibration/calibrationSet';
import { evaluateModels } from '../../src/engine/evaluation/evaluateModels';
import { profileExperts } from '../../src/engine/experts/profileExperts';
import { MoeEngine } from '../../src/engine/moeEngine';
import type { Capture } from '../../src/protocol/engineProtocol';
import { fixture } from '../support/paths';
import { writeCheckpointForConfig } from '../support/randomCheckpoint';
import { assertSameForward } from './layerwiseCompare';

const SEQS = [
  [5, 9, 200, 31, 7, 7, 64],
  [1, 2],
  Array.from({ length: 40 }, (_, i) => (i * 53 + 11) % 256),
  [100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110],
];
const TEXT = 'Experts route tokens. def f(x):\n    return x * 2  # code\nLes experts aiment le café. 12345 + 678 = 13023.\n';

describe('layer-major batches', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-lw-batch-'));
    fs.writeFileSync(path.join(dir, 'a.txt'), TEXT.repeat(3));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const name of ['qwen2_moe', 'granitemoe', 'llama']) {
    it(`${name}: forwardBatch = forward per sequence, streaming and cached`, async () => {
      const seq = await MoeEngine.load(fixture(name));
      const captures: Capture[] = [
        { routing: true, hidden: true, logits: true },
        { routing: true, hidden: false, logits: false, expertNorms: seq.config.layers.some((l) => l.kind === 'moe') },
      ];
      for (const opts of [{ weightMode: 'streaming' as const, f32Layers: new Set<number>() }, { weightMode: 'cached' as const, f32Layers: new Set([0]) }]) {
        const batch = await MoeEngine.load(fixture(name), opts);
        assert.ok(batch.prefersLayerMajor);
        for (const capture of captures) {
          const got = await batch.forwardBatch(SEQS, capture);
          assert.equal(got.length, SEQS.length);
          for (const [i, ids] of SEQS.entries()) assertSameForward(got[i]!, await seq.forward(ids, capture), `${opts.weightMode}, sequence ${i}`, 0);
        }
        await batch.dispose();
      }
      await seq.dispose();
    });
  }

  it('a layer-major batch is cancelled between layers', async () => {
    const e = await MoeEngine.load(fixture('olmoe'), { weightMode: 'streaming', f32Layers: new Set<number>() });
    try {
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(e.forwardBatch(SEQS, { routing: true, hidden: false, logits: false }, { signal: ac.signal }), (err: { code?: string }) => err.code === 'E_CANCELLED');
      // The engine is usable afterwards.
      assert.equal((await e.forwardBatch(SEQS.slice(0, 2), { routing: true, hidden: false, logits: false })).length, 2);
    } finally {
      await e.dispose();
    }
  });

  it('profiling a streaming engine (layer-major) = profiling a resident one (sequence by sequence)', async () => {
    const resident = await MoeEngine.load(fixture('qwen3_moe'));
    const streaming = await MoeEngine.load(fixture('qwen3_moe'), { weightMode: 'streaming', f32Layers: new Set<number>() });
    const data = readCalibrationSet([dir]);
    const a = await profileExperts(resident, data, { chunkTokens: 16 });
    const b = await profileExperts(streaming, data, { chunkTokens: 16 });
    assert.ok(a.data.chunks > 4, `${a.data.chunks} chunks`);
    assert.deepEqual(b.layers, a.layers);
    assert.deepEqual(b.sample, a.sample);
    await resident.dispose();
    await streaming.dispose();
  });

  it('evaluating streaming models (layer-major) = evaluating resident ones (sequence by sequence)', async () => {
    // A candidate with other weights of the same shape, so perplexities, agreement and KL are not trivial.
    const other = path.join(dir, 'other');
    await writeCheckpointForConfig(other, JSON.parse(fs.readFileSync(path.join(fixture('mixtral'), 'config.json'), 'utf8')) as Record<string, unknown>, 3, 'BF16');
    const engines = await Promise.all([
      MoeEngine.load(fixture('mixtral')),
      MoeEngine.load(other),
      MoeEngine.load(fixture('mixtral'), { weightMode: 'streaming', f32Layers: new Set<number>() }),
      MoeEngine.load(other, { weightMode: 'cached', f32Layers: new Set() }),
    ]);
    const chunks = SEQS.filter((s) => s.length >= 2);
    const { runMs: _a, ...a } = await evaluateModels(engines[0]!, engines[1]!, chunks);
    const { runMs: _b, ...b } = await evaluateModels(engines[2]!, engines[3]!, chunks);
    assert.ok(a.meanKl > 0 && a.top1Agreement < 1, `a real difference: KL ${a.meanKl}, agreement ${a.top1Agreement}`);
    assert.deepEqual(b, a);
    for (const e of engines) await e.dispose();
  });
});
