// Profiles on read (issue #8): the whole schema is checked, so a mutated copy of a real profile is refused
// with the file and the JSON path of the bad value (no later TypeError, no plan that prunes by index);
// a profile of a model with NaN weights is written with null statistics, read back as NaN, and refused
// only by planning, with the layer and expert named.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readCalibrationSet } from '../../src/engine/calibration/calibrationSet';
import { planMerge } from '../../src/engine/experts/planMerge';
import { planPrune } from '../../src/engine/experts/planPrune';
import { readProfile, writeProfile } from '../../src/engine/experts/profileFile';
import { profileExperts } from '../../src/engine/experts/profileExperts';
import { MoeEngine } from '../../src/engine/moeEngine';
import type { ExpertProfile } from '../../src/protocol/expertOps';
import { MoeError } from '../../src/protocol/moeError';
import { fixture } from '../support/paths';
import { copyFixture, removeTempModels } from '../support/tempModel';

const TEXT = 'Experts route tokens. def f(x):\n    return x * 2  # code\nLes experts aiment le café. 12345 + 678 = 13023.\n';

let dir: string;
let good: string;
let profile: ExpertProfile;

async function profileOf(modelDir: string): Promise<ExpertProfile> {
  const engine = await MoeEngine.load(modelDir);
  try {
    return await profileExperts(engine, readCalibrationSet([path.join(dir, 'a.txt')]), { chunkTokens: 16 });
  } finally {
    await engine.dispose();
  }
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-profile-schema-'));
  fs.writeFileSync(path.join(dir, 'a.txt'), TEXT);
  profile = await profileOf(fixture('qwen3_moe'));
  good = path.join(dir, 'good.json');
  await writeProfile(good, profile);
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  removeTempModels();
});

/** A copy of the good profile with one edit, and the error reading it gives. */
function refusal(edit: (v: any) => void): MoeError {
  const v = JSON.parse(fs.readFileSync(good, 'utf8'));
  edit(v);
  const file = path.join(dir, 'mutated.json');
  fs.writeFileSync(file, JSON.stringify(v));
  try {
    readProfile(file);
  } catch (e) {
    assert.ok(e instanceof MoeError, `a MoeError, not ${String(e)}`);
    assert.equal(e.code, 'E_INPUT');
    assert.equal(e.file, file);
    assert.ok(e.message.startsWith(`${file}: `), e.message);
    return e;
  }
  assert.fail('the mutated profile was accepted');
}

describe('profile schema on read', () => {
  it('a real profile reads back exactly', () => {
    assert.deepEqual(readProfile(good), JSON.parse(JSON.stringify(profile)));
  });

  it('refuses wrong types deep inside with the JSON path and the value', () => {
    const cases: [string, (v: any) => void, string][] = [
      ['tokens as a string', (v) => (v.layers[0].tokens = 'x'), 'layers[0].tokens: expected an integer >= 0, got "x"'],
      ['a statistic as a string', (v) => (v.layers[1].reapSum[5] = 'x'), 'layers[1].reapSum[5]: expected a finite number (or null for a statistic that was not a number), got "x"'],
      ['a count that is not an integer', (v) => (v.layers[0].count[2] = 1.5), 'layers[0].count[2]: expected an integer from 0 to'],
      ['a count above the tokens', (v) => (v.layers[0].count[2] = v.layers[0].tokens + 1), 'layers[0].count[2]: expected an integer from 0 to'],
      ['topK above the expert count', (v) => (v.layers[0].topK = 9), 'layers[0].topK: expected an integer from 1 to 8, got 9'],
      ['a statistic array too short', (v) => v.layers[1].maxNorm.pop(), 'layers[1].maxNorm: expected an array of 8 numbers or null, got an array of 7'],
      ['a Gram matrix of E, not E×E', (v) => (v.layers[0].logitGram = v.layers[0].logitGram.slice(0, 8)), 'layers[0].logitGram: expected an array of 64 numbers or null, got an array of 8'],
      ['a layer that is not an object', (v) => (v.layers[1] = 7), 'layers[1]: expected an object, got 7'],
      ['layers out of order', (v) => (v.layers[1].layer = v.layers[0].layer), 'layers[1].layer: expected a layer index above'],
      ['no layers', (v) => (v.layers = []), 'layers: expected at least one MoE layer'],
      ['a document source that is a number', (v) => (v.data.documents[0].source = 3), 'data.documents[0].source: expected a string, got 3'],
      ['truncated as a string', (v) => (v.data.truncated = 'no'), 'data.truncated: expected true or false, got "no"'],
      ['a missing model identity', (v) => delete v.model.sha256, 'model.sha256: expected a string, got nothing (the key is missing)'],
      ['sample offsets of another length', (v) => v.sample.offset.pop(), 'sample.offset: expected an array of'],
      ['a sample token of another document', (v) => (v.sample.doc[0] = 5), 'sample.doc[0]: expected an integer from 0 to 0, got 5'],
      ['sample experts of one layer missing', (v) => v.sample.experts.pop(), 'sample.experts: expected an array of 2 base64 strings (one per MoE layer), got an array of 1'],
      ['sample experts cut short', (v) => (v.sample.experts[0] = v.sample.experts[0].slice(0, 8)), 'tokens × top-2), got 6 bytes'],
      ['sample expert ids out of range', (v) => (v.sample.experts[1] = Buffer.from(new Uint16Array(v.sample.tokens.length * 2).fill(9).buffer).toString('base64')), 'sample.experts[1]: expected expert ids below 8 (layer 1\'s expert count), got id 9 for sampled token 0'],
      ['sample weights not base64', (v) => (v.sample.weights[0] = '!!!!'), 'sample.weights[0]: expected base64 data, got "!!!!"'],
      ['another version', (v) => (v.version = 2), 'version: expected 1'],
    ];
    for (const [what, edit, message] of cases) {
      const e = refusal(edit);
      assert.ok(e.message.includes(message), `${what}: ${e.message}`);
    }
  });
});

describe('NaN statistics', () => {
  /** The fixture with every weight of one expert set to NaN (bf16 0x7fc0). */
  function poisoned(layer: number, expert: number): string {
    const model = copyFixture('qwen3_moe');
    const file = path.join(model, 'model.safetensors');
    const bytes = fs.readFileSync(file);
    const n = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
    for (const proj of ['gate_proj', 'up_proj', 'down_proj']) {
      const t = header[`model.layers.${layer}.mlp.experts.${expert}.${proj}.weight`]!;
      assert.equal(t.dtype, 'BF16');
      for (let o = 8 + n + t.data_offsets[0]; o < 8 + n + t.data_offsets[1]; o += 2) bytes.writeUInt16LE(0x7fc0, o);
    }
    fs.writeFileSync(file, bytes);
    return model;
  }

  /** The most used expert of a layer in the good profile (so the NaN surely reaches the statistics). */
  const busiest = (layer: number): number => {
    const c = profile.layers[layer]!.count;
    return c.indexOf(Math.max(...c));
  };

  it('are written as null, read back as NaN, and refused by pruning with the layer and expert', async () => {
    const e = busiest(1);
    const nan = await profileOf(poisoned(1, e));
    assert.ok(Number.isNaN(nan.layers[1]!.reapSum[e]!), 'the poisoned expert has a NaN REAP sum');
    const file = path.join(dir, 'nan.json');
    await writeProfile(file, nan);
    const stored = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.equal(stored.layers[1].reapSum[e], null);
    const read = readProfile(file);
    assert.ok(Number.isNaN(read.layers[1]!.reapSum[e]!) && Number.isNaN(read.layers[1]!.eanSum[e]!));
    for (const method of ['reap', 'ean'] as const) {
      assert.throws(
        () => planPrune(read, { method, target: { kind: 'keep', keep: 4 }, protect: [] }),
        (err: MoeError) => err.code === 'E_INPUT' && err.message.includes(`layer 1, expert ${e}:`) && /not a finite number/.test(err.message),
        method,
      );
    }
    // Frequency does not use the norms: the same profile still plans.
    assert.equal(planPrune(read, { method: 'frequency', target: { kind: 'keep', keep: 4 }, protect: [] }).layers.length, 2);
  });

  it('a NaN before the last layer makes the next layer unmergeable, named', async () => {
    const nan = await profileOf(poisoned(0, busiest(0)));
    const file = path.join(dir, 'nan0.json');
    await writeProfile(file, nan);
    const read = readProfile(file);
    assert.ok(read.layers[1]!.logitGram.some(Number.isNaN), 'NaN hidden states reach the next router');
    assert.throws(
      () => planMerge(read, { keep: 4 }),
      (err: MoeError) => err.code === 'E_INPUT' && /^layer 1, expert \d+: the router-logit similarity/.test(err.message),
    );
  });

  it('a null statistic in a file is refused by planning, not silently read as 0', () => {
    const v = JSON.parse(fs.readFileSync(good, 'utf8'));
    v.layers[0].gateSum[3] = null;
    const file = path.join(dir, 'null.json');
    fs.writeFileSync(file, JSON.stringify(v));
    const read = readProfile(file);
    assert.throws(() => planPrune(read, { method: 'gate', target: { kind: 'ratio', ratio: 0.25 }, protect: [] }), (err: MoeError) => err.message.startsWith('layer 0, expert 3: the gate-weighted frequency score is NaN'));
    assert.throws(() => planPrune(read, { method: 'gate', target: { kind: 'global', ratio: 0.25, minPerLayer: 2 }, protect: [] }), /layer 0, expert 3/);
  });
});
