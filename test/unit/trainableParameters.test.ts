// Trainable parameter counts of --train sets against sizes computed from each fixture's config by hand.
// Run: node --import tsx --test test/unit/trainableParameters.test.ts
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { loadModelConfig } from '../../src/engine/model/parseConfig';
import { trainableParameterCount } from '../../src/engine/training/trainableParameters';
import { resolveTrainSpecs } from '../../src/engine/training/trainSpec';
import { fixture, moeFixtureNames } from '../support/paths';

/** Parameters stored in a checkpoint folder, read straight from its safetensors headers (not the engine's reader). */
function readSafetensorsHeaderSizes(dir: string): number {
  let n = 0;
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.safetensors') && !x.startsWith('expected'))) {
    const buf = fs.readFileSync(path.join(dir, f));
    const len = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + len).toString('utf8')) as Record<string, { shape?: number[] }>;
    for (const [k, v] of Object.entries(header)) if (k !== '__metadata__') n += v.shape!.reduce((a, b) => a * b, 1);
  }
  return n;
}

describe('trainableParameterCount', () => {
  for (const name of moeFixtureNames) {
    test(`${name}: all = the checkpoint's parameter count; one expert = 3·H·I; experts = Σ over MoE layers`, () => {
      const c = loadModelConfig(fixture(name));
      const stored = readSafetensorsHeaderSizes(fixture(name));
      const all = trainableParameterCount(c, resolveTrainSpecs(['all'], c));
      assert.equal(all.total, stored);
      assert.equal(all.trainable, stored);
      assert.equal(all.share, 1);
      const L = c.layers.findIndex((l) => l.kind === 'moe');
      const spec = c.layers[L]!;
      assert.equal(spec.kind, 'moe');
      const one = trainableParameterCount(c, resolveTrainSpecs([`experts=${L}:0`], c));
      assert.equal(one.trainable, 3 * c.hiddenSize * spec.intermediateSize);
      assert.equal(one.share, one.trainable / stored);
      const experts = trainableParameterCount(c, resolveTrainSpecs(['experts'], c));
      const want = c.layers.reduce((n, l) => n + (l.kind === 'moe' ? l.routing.numExperts * 3 * c.hiddenSize * l.intermediateSize : 0), 0);
      assert.equal(experts.trainable, want);
      const union = trainableParameterCount(c, resolveTrainSpecs(['experts', `experts=${L}:0`, 'routers'], c));
      const routers = c.layers.reduce((n, l) => n + (l.kind === 'moe' ? l.routing.numExperts * c.hiddenSize : 0), 0);
      assert.equal(union.trainable, want + routers, 'a union counts each parameter once');
    });
  }
});
