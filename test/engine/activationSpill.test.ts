// Activations spilled to disk by layer-major batches (src/engine/layerwise/activationSpill.ts): the store
// round-trips arrays bit for bit, refuses past its cap naming the folder and the numbers, and leaves nothing
// behind (dispose, cancellation, errors, process exit); a streaming engine whose memory allowance holds
// (almost) nothing spills, and its forward results, profiles and evaluations are bitwise those of an
// engine that holds everything in memory.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readCalibrationSet } from '../../src/engine/calibration/calibrationSet';
import { evaluateModels } from '../../src/engine/evaluation/evaluateModels';
import { profileExperts } from '../../src/engine/experts/profileExperts';
import { ActivationSpill, HeldArrays, spillTotals } from '../../src/engine/layerwise/activationSpill';
import { heldBytes } from '../../src/engine/layerwise/layerMajorBatches';
import { type LayerWeights, LayerwiseModel } from '../../src/engine/layerwise/layerwiseModel';
import { MoeEngine } from '../../src/engine/moeEngine';
import type { ForwardResult } from '../../src/protocol/engineProtocol';
import { MoeError } from '../../src/protocol/moeError';
import { fixture, repoRoot } from '../support/paths';
import { writeCheckpointForConfig } from '../support/randomCheckpoint';

const SEQS = [
  [5, 9, 200, 31, 7, 7, 64],
  [1, 2],
  Array.from({ length: 40 }, (_, i) => (i * 53 + 11) % 256),
  [100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110],
  Array.from({ length: 23 }, (_, i) => (i * 31 + 3) % 256),
];
const TEXT = 'Experts route tokens. def f(x):\n    return x * 2  # code\nLes experts aiment le café. 12345 + 678 = 13023.\n';
const STREAMING = { weightMode: 'streaming' as const, f32Layers: new Set<number>() };

const bytesOf = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Every array of two forward results, byte for byte. */
function assertSameBits(got: ForwardResult, want: ForwardResult, what: string): void {
  const { runMs: _g, ...g } = got;
  const { runMs: _w, ...w } = want;
  const walk = (x: unknown, y: unknown, at: string): void => {
    if (ArrayBuffer.isView(x)) {
      assert.ok(ArrayBuffer.isView(y), `${what}: ${at} is not an array`);
      assert.equal(x.constructor, y.constructor, `${what}: ${at} types`);
      assert.ok(bytesOf(x).equals(bytesOf(y)), `${what}: ${at} differs`);
    } else if (x && typeof x === 'object') {
      assert.deepEqual(Object.keys(x).sort(), Object.keys(y as object).sort(), `${what}: keys of ${at}`);
      for (const k of Object.keys(x)) walk((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], `${at}.${k}`);
    } else if (typeof x === 'number' && Number.isNaN(x)) assert.ok(Number.isNaN(y as number), `${what}: ${at}`);
    else assert.equal(x, y, `${what}: ${at}`);
  };
  walk(g, w, 'result');
}

describe('activation spill store', () => {
  let parent: string;
  before(() => {
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-spill-test-'));
  });
  after(() => fs.rmSync(parent, { recursive: true, force: true }));
  const leftovers = (): string[] => fs.readdirSync(parent);

  it('round-trips float32 and int64 arrays bit for bit, reusing freed slots', () => {
    const s = new ActivationSpill({ parent });
    assert.equal(s.folder, undefined, 'no folder before the first write');
    assert.deepEqual(leftovers(), []);
    const f = new Float32Array([0, -0, 1.5, -Infinity, Infinity, NaN, 1e-45, 3.4028234663852886e38, -7.25]);
    new DataView(f.buffer).setUint32(5 * 4, 0x7fc01234, true); // a NaN with a payload
    const i = new BigInt64Array([0n, -1n, 9223372036854775807n, -9223372036854775808n, 42n]);
    const view = new Float32Array(new Float32Array([9, 8, 7, 6, 5]).buffer, 4, 3); // a view at an offset
    const rf = s.write(f);
    const ri = s.write(i);
    const rv = s.write(view);
    assert.ok(s.folder && fs.existsSync(s.folder) && path.dirname(s.folder) === parent, `folder ${s.folder} in ${parent}`);
    const f2 = s.read(rf);
    const i2 = s.read(ri);
    const v2 = s.read(rv);
    assert.ok(f2 instanceof Float32Array && bytesOf(f2).equals(bytesOf(f)));
    assert.ok(f2.buffer !== f.buffer, 'a fresh array');
    assert.ok(i2 instanceof BigInt64Array && bytesOf(i2).equals(bytesOf(i)));
    assert.deepEqual(Array.from(v2 as Float32Array), [8, 7, 6]);
    const fileBytes = s.stats.fileBytes;
    assert.equal(fileBytes, f.byteLength + i.byteLength + view.byteLength);
    s.release(rf);
    const g = Float32Array.from({ length: f.length }, (_, k) => k * 0.1);
    const rg = s.write(g);
    assert.equal(rg.offset, rf.offset, 'the freed slot of the same size is reused');
    assert.equal(s.stats.fileBytes, fileBytes, 'the file did not grow');
    assert.ok(bytesOf(s.read(rg)).equals(bytesOf(g)));
    assert.ok(bytesOf(s.read(ri)).equals(bytesOf(i)), 'other slots untouched');
    assert.equal(s.stats.writes, 4);
    assert.equal(s.stats.reads, 5);
    const dir = s.folder;
    s.dispose();
    assert.equal(fs.existsSync(dir), false);
    assert.deepEqual(leftovers(), []);
  });

  it('refuses past its cap, naming the folder and the numbers', () => {
    const s = new ActivationSpill({ parent, capBytes: 1000 });
    s.write(new Float32Array(200));
    const dir = s.folder!;
    assert.throws(() => s.write(new Float32Array(100)), (e: unknown) => {
      assert.ok(e instanceof MoeError);
      assert.equal(e.code, 'E_IO');
      assert.equal(e.file, dir);
      assert.ok(e.message.includes(dir), e.message);
      assert.match(e.message, /holding 800 B and needing 400 B more exceeds its cap of 1000 B/);
      assert.match(e.message, /MOE_WORKBENCH_SPILL_DIR/);
      return true;
    });
    s.dispose();
    assert.deepEqual(leftovers(), []);
  });

  it('keeps arrays in memory up to its allowance, the rest on disk (HeldArrays)', () => {
    const h = new HeldArrays(100, { parent });
    const arrays = [0, 1, 2].map((k) => Float32Array.from({ length: 20 }, (_, j) => k * 100 + j)); // 80 bytes each
    arrays.forEach((a, k) => h.put(k, a));
    assert.equal(h.spill.stats.writes, 2, 'the first fits, the others spill');
    for (const k of [2, 0, 1]) assert.ok(bytesOf(h.take(k)).equals(bytesOf(arrays[k]!)));
    h.dispose();
    assert.deepEqual(leftovers(), []);
  });

  it('a store left open is removed when the process exits', () => {
    const mod = path.join(repoRoot, 'src', 'engine', 'layerwise', 'activationSpill.ts');
    const code = `const { ActivationSpill } = require(${JSON.stringify(mod)}); const s = new ActivationSpill({ parent: ${JSON.stringify(parent)} }); s.write(new Float32Array(1000)); console.log(s.folder);`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], { encoding: 'utf8', cwd: repoRoot });
    assert.equal(r.status, 0, r.stderr);
    const dir = r.stdout.trim();
    assert.ok(dir.startsWith(parent), `child's folder: ${dir}`);
    assert.equal(fs.existsSync(dir), false, `${dir} removed at exit`);
    assert.deepEqual(leftovers(), []);
  });
});

describe('layer-major batches beyond the memory allowance', () => {
  let parent: string;
  let data: string;
  before(() => {
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-spill-engine-'));
    data = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-spill-data-'));
    fs.writeFileSync(path.join(data, 'a.txt'), TEXT.repeat(3));
    process.env['MOE_WORKBENCH_SPILL_DIR'] = parent;
  });
  after(() => {
    delete process.env['MOE_WORKBENCH_SPILL_DIR'];
    fs.rmSync(parent, { recursive: true, force: true });
    fs.rmSync(data, { recursive: true, force: true });
  });
  const leftovers = (): string[] => fs.readdirSync(parent);

  for (const name of ['qwen2_moe', 'olmoe']) {
    it(`${name}: forwardMany with allowances from nothing to everything = forward per sequence, bitwise`, async () => {
      const e = await MoeEngine.load(fixture(name), STREAMING);
      try {
        for (const capture of [{ routing: true, hidden: true, logits: true }, { routing: true, hidden: false, logits: false, expertNorms: true }]) {
          const outputs = { routing: true, hidden: capture.hidden, logits: capture.logits, expertNorms: !!capture.expertNorms, routerMask: false };
          const want = [];
          for (const ids of SEQS) want.push(await e.forward(ids, capture));
          const oneSeq = heldBytes(e.config, 40, outputs);
          for (const memoryBytes of [0, oneSeq, Infinity]) {
            const before = spillTotals.writes;
            const got: ForwardResult[] = [];
            const order: number[] = [];
            await e.forwardEach(SEQS, capture, (i, r) => {
              order.push(i);
              got[i] = r;
            }, { activationBytes: memoryBytes });
            assert.deepEqual(order, [0, 1, 2, 3, 4], 'results in order');
            const spilled = spillTotals.writes - before;
            if (memoryBytes === Infinity) assert.equal(spilled, 0, 'nothing spilled when everything fits');
            else assert.ok(spilled > 0, `allowance ${memoryBytes}: something was spilled`);
            for (const [i] of SEQS.entries()) assertSameBits(got[i]!, want[i]!, `${name}, allowance ${memoryBytes}, sequence ${i}`);
            assert.deepEqual(leftovers(), [], 'nothing left in the spill folder');
          }
        }
      } finally {
        await e.dispose();
      }
    });
  }

  it('cancelled mid-batch, or failing in a result callback: the spill folder is removed', async () => {
    const e = await MoeEngine.load(fixture('olmoe'), STREAMING);
    const lw = new LayerwiseModel(e.config, undefined);
    try {
      const outputs = { routing: true, hidden: false, logits: false, expertNorms: true, routerMask: false };
      const ids32 = SEQS.map((s) => Int32Array.from(s));
      const ac = new AbortController();
      let sawFolder = false;
      // The engine's own weights; cancelled when layer 1 is asked for, after layer 0 spilled.
      const w: LayerWeights = {
        acquire: (unit, next) => {
          if (unit === 1) {
            sawFolder = leftovers().length === 1;
            ac.abort();
          }
          return e.weights.acquire(unit, next);
        },
        release: () => e.weights.release(),
        embeddingRows: (ids) => e.weights.embeddingRows(ids),
      };
      await assert.rejects(lw.forwardMany(ids32, w, outputs, { memoryBytes: 0, signal: ac.signal, onResult: () => undefined }), (err: { code?: string }) => err.code === 'E_CANCELLED');
      assert.ok(sawFolder, 'the batch had spilled before it was cancelled');
      assert.deepEqual(leftovers(), []);
      let results = 0;
      await assert.rejects(lw.forwardMany(ids32, e.weights, outputs, {
        memoryBytes: 0,
        onResult: () => {
          if (++results === 2) throw new Error('consumer failed');
        },
      }), /consumer failed/);
      assert.deepEqual(leftovers(), []);
      // The engine is usable afterwards.
      assert.equal((await e.forwardBatch(SEQS, { routing: true, hidden: false, logits: false }, { activationBytes: 0 })).length, SEQS.length);
      assert.deepEqual(leftovers(), []);
    } finally {
      await lw.dispose();
      await e.dispose();
    }
  });

  it('profiling and evaluating streaming engines with no memory allowance = resident engines, bitwise', async () => {
    // memoryBudget 1: the forced mode's plan leaves no spare bytes, so every sequence but a batch's first spills.
    const tiny = { ...STREAMING, memoryBudget: 1 };
    const resident = await MoeEngine.load(fixture('qwen3_moe'));
    const spilling = await MoeEngine.load(fixture('qwen3_moe'), tiny);
    assert.equal(spilling.layerMajorBatchBytes, 0);
    const set = readCalibrationSet([data]);
    let before = spillTotals.writes;
    const a = await profileExperts(resident, set, { chunkTokens: 16 });
    assert.equal(spillTotals.writes, before, 'the resident engine never spills');
    const b = await profileExperts(spilling, set, { chunkTokens: 16 });
    assert.ok(a.data.chunks > 4, `${a.data.chunks} chunks`);
    assert.ok(spillTotals.writes > before, 'profiling spilled');
    assert.deepEqual(b.layers, a.layers);
    assert.deepEqual(b.sample, a.sample);
    await resident.dispose();
    await spilling.dispose();
    assert.deepEqual(leftovers(), []);

    const other = path.join(data, 'other');
    await writeCheckpointForConfig(other, JSON.parse(fs.readFileSync(path.join(fixture('mixtral'), 'config.json'), 'utf8')) as Record<string, unknown>, 3, 'BF16');
    const engines = await Promise.all([MoeEngine.load(fixture('mixtral')), MoeEngine.load(other), MoeEngine.load(fixture('mixtral'), tiny), MoeEngine.load(other, tiny)]);
    const chunks = SEQS.filter((s) => s.length >= 2);
    const { runMs: _a, ...ea } = await evaluateModels(engines[0]!, engines[1]!, chunks);
    before = spillTotals.writes;
    const { runMs: _b, ...eb } = await evaluateModels(engines[2]!, engines[3]!, chunks);
    assert.ok(spillTotals.writes > before, 'evaluation spilled');
    assert.ok(ea.meanKl > 0 && ea.top1Agreement < 1, `a real difference: KL ${ea.meanKl}, agreement ${ea.top1Agreement}`);
    assert.deepEqual(eb, ea);
    for (const e of engines) await e.dispose();
    assert.deepEqual(leftovers(), []);
  });
});
