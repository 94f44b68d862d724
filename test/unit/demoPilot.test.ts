// The demo's size pilot (scripts/demoPilot.ts, issue #12): its parameter counts are the loader's for the
// candidate that was shipped, its log reader keeps the evaluations and a stopped run's last step, and TRAINING.md's
// table says which candidate leads at the steps all of them reached.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { describeCheckpoint } from '../../src/engine/modelInfo';
import { PILOT_CANDIDATES, type PilotRecord, pilotParameters, readPilotLog } from '../../scripts/demoPilot';
import { pilotTable } from '../../scripts/demo/pilotTable';

const demo = path.resolve(__dirname, '..', '..', 'media', 'demo-model');

describe('demo size pilot', () => {
  it('counts the shipped candidate as the loader counts the shipped model', () => {
    const c = openCheckpoint(demo);
    try {
      const info = describeCheckpoint(c);
      const shipped = PILOT_CANDIDATES.find((k) => k.numExperts === info.numExperts && k.numLayers === info.numLayers && k.topK === c.config.layers.find((l) => l.kind === 'moe')!.routing.topK)!;
      assert.ok(shipped, 'the shipped shape is a candidate');
      assert.deepEqual(pilotParameters(shipped), { parameters: info.totalParams, activeParameters: info.activeParams });
    } finally {
      c.close();
    }
  });

  it('reads a finetune --json log, a stopped one up to its last step', () => {
    const log = [
      JSON.stringify({ step: 1, loss: 8, tokensPerSecond: 100 }),
      JSON.stringify({ step: 2, loss: 7, evalLoss: 7.5, tokensPerSecond: 110 }),
      JSON.stringify({ step: 3, loss: 6.5, tokensPerSecond: 120 }),
      JSON.stringify({ summary: { steps: 3, stoppedAt: 3, tokensPerSecond: 118 } }),
    ].join('\n');
    const r = readPilotLog(PILOT_CANDIDATES[1]!, log);
    assert.equal(r.steps, 3);
    assert.equal(r.tokensPerSecond, 118, "the summary's figure");
    assert.deepEqual(r.evals, [[2, 7.5]]);
    assert.equal(r.name, PILOT_CANDIDATES[1]!.name);
  });

  it("the table names the leader at the last common step and at the last step", () => {
    const cand = (name: string, steps: number, evals: [number, number][]): PilotRecord['candidates'][number] => ({ ...PILOT_CANDIDATES[0]!, name, what: name, parameters: 1, activeParameters: 1, steps, tokensPerSecond: 1, evals });
    const p: PilotRecord = { plannedSteps: 20, batchTokens: 8, candidates: [cand('A', 20, [[10, 5], [20, 4.5]]), cand('B', 20, [[10, 4.9], [20, 4.6]]), cand('C', 12, [[10, 5.5]])] };
    const md = pilotTable(p).join('\n');
    assert.match(md, /at step 10 A 5\.000, B 4\.900, C 5\.500: B leads; at step 20 A 4\.500, B 4\.600: A leads\./);
    assert.match(md, /— \(stopped at 12\)/);
  });

  it('the committed pilot.json: counts as computed, and the shipped candidate A leads where TRAINING.md says', () => {
    const p = JSON.parse(fs.readFileSync(path.join(demo, 'pilot.json'), 'utf8')) as PilotRecord;
    for (const c of p.candidates) assert.deepEqual({ parameters: c.parameters, activeParameters: c.activeParameters }, pilotParameters(c), c.name);
    assert.match(pilotTable(p).join('\n'), /^Held-out loss at step \d+ [^;]*: A leads; at step \d+ [^;]*: A leads\.$/m);
  });
});
