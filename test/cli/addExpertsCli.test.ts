// `moe-workbench add-experts` (issue #11 §4): the command's runner called with the flags as parseArgs gives
// them (cli.ts registers it). Prints the sources per layer, the function-preservation rule and the measured
// difference, --json prints one object, malformed or inapplicable flags are usage errors before anything is
// read, and a refused model writes nothing.
// Run: node --import tsx --test test/cli/addExpertsCli.test.ts
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { addExpertsCommand, type AddExpertsFlags, addExpertsRequest } from '../../src/cli/addExpertsCommand';
import { UsageError } from '../../src/cli/expertCommands';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { MoeError } from '../../src/protocol/moeError';
import { fixture } from '../support/paths';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-add-experts-cli-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const data = path.join(root, 'data.txt');
fs.writeFileSync(data, 'Calibration text for ranking experts by the tokens routed to them, long enough to matter. '.repeat(4));
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

async function run(flags: AddExpertsFlags): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await addExpertsCommand(flags, { write: (l) => lines.push(l) });
  return { code, lines };
}

describe('add-experts CLI', () => {
  it('hot (the default) with --data: the sources per layer, the rule, the measured difference, what was written', async () => {
    const out = path.join(root, 'hot');
    const { code, lines } = await run({ model: fixture('mixtral'), out, count: '1', data: [data] });
    assert.equal(code, 0);
    const text = lines.join('\n');
    assert.match(text, /^added {7}1 expert to each of 2 MoE layers of mixtral: 8 → 9 experts \(new ids 8\.\.8\), top-2$/m);
    assert.match(text, /^sources {5}hot \(each layer's most-used experts on \d+ --data tokens\): layer 0 8←\d; layer 1 8←\d$/m);
    assert.match(text, /^method {6}copy \(byte copies of their sources\)$/m);
    assert.match(text, /^router {6}copy \(each new row its source's row\), seed 0$/m);
    assert.match(text, /^parameters {2}\S+ → \S+ total, \S+ active per token$/m);
    assert.match(text, /^function {4}renormalised top-2: a copy ties with its source/m);
    assert.match(text, /^difference {2}max \|logit − source logit\| \S+, mean \S+, top-1 agreement [\d.]+% over 4 sequences \(128 tokens\)$/m);
    assert.match(text, new RegExp(`^wrote {7}${esc(out)} \\(\\d+ files, [\\d,]+ bytes\\)$`, 'm'));
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as { format: string; layers: unknown };
    const record = JSON.parse(fs.readFileSync(path.join(out, 'moe_workbench.json'), 'utf8')) as { layers: unknown };
    assert.equal(report.format, 'moe-workbench.add-experts-report');
    assert.deepEqual(report.layers, record.layers, 'the sources per new expert');
    assert.match(fs.readFileSync(path.join(out, 'report.html'), 'utf8'), /<h1>Add experts report<\/h1>/);
    const c = openCheckpoint(out);
    try {
      assert.equal(c.config.layers[0]!.kind === 'moe' && c.config.layers[0]!.routing.numExperts, 9);
    } finally {
      c.close();
    }
  });

  it('--json, a list ending in hot, drop with --ratio, --seed, --no-eval', async () => {
    const out = path.join(root, 'json');
    const { lines } = await run({ model: fixture('olmoe'), out, count: '2', from: '0:3,0:3,hot', method: 'drop', ratio: '0.25', seed: '5', data: [data], 'no-eval': true, json: true });
    assert.equal(lines.length, 1);
    const j = JSON.parse(lines[0]!) as { dir: string; parameters: { before: number; after: number }; record: { method: string; seed: number; settings: Record<string, unknown>; layers: { layer: number; added: { expert: number; from: number; rule: string }[] }[]; evaluation?: unknown } };
    assert.equal(j.dir, out);
    assert.equal(j.record.method, 'drop');
    assert.equal(j.record.seed, 5);
    assert.equal(j.record.settings['from'], 'list+hot');
    assert.equal(j.record.settings['ratio'], 0.25);
    assert.deepEqual(j.record.layers[0]!.added, [{ expert: 8, from: 3, rule: 'list' }, { expert: 9, from: 3, rule: 'list' }]);
    assert.deepEqual(j.record.layers[1]!.added.map((a) => a.rule), ['hot', 'hot']);
    assert.equal(j.record.evaluation, undefined);
    assert.ok(j.parameters.after > j.parameters.before);
  });

  it('cold: the sources line says how they are drawn, and the router defaults to random', async () => {
    const { lines } = await run({ model: fixture('granitemoe'), out: path.join(root, 'cold'), count: '1', from: 'cold', 'no-eval': true });
    const text = lines.join('\n');
    assert.match(text, /^sources {5}cold \(each matrix drawn from N\(mean, std²\) of that matrix over the layer's experts\)$/m);
    assert.match(text, /^router {6}random \(zero-mean uniform, std 0\.02\), seed 0$/m);
    assert.match(text, /^difference {2}not measured \(--no-eval\)$/m);
    const d = await run({ model: fixture('qwen3_moe'), out: path.join(root, 'domain'), count: '1', from: '0:2,1:2', router: 'domain', data: [data], 'no-eval': true });
    assert.match(d.lines.join('\n'), /^router {6}domain \(the mean of the router inputs of \d+ --data tokens, at the layer's mean row norm\), seed 0$/m);
    assert.match(d.lines.join('\n'), /^function {4}copied experts with domain router rows change the function wherever a new expert is chosen$/m);
  });

  it('usage errors name the flag, before anything is read or written', () => {
    const base = { model: fixture('olmoe'), out: path.join(root, 'never'), count: '1', from: '0:1,1:1' };
    const cases: [AddExpertsFlags, RegExp][] = [
      [{ ...base, model: undefined }, /--model DIR is required/],
      [{ ...base, out: undefined }, /--out DIR is required/],
      [{ ...base, count: undefined }, /--count N is required \(experts to add to every MoE layer\)/],
      [{ ...base, count: '0' }, /--count "0": an integer from 1 up/],
      [{ ...base, from: '0-1' }, /--from "0-1": "0-1" is not L:E; the forms are hot, cold, or L:E,L:E,\.\.\./],
      [{ ...base, from: 'hot,hot' }, /"hot" is not L:E/],
      [{ ...base, method: 'split' }, /--method "split": one of copy, noise, drop/],
      [{ ...base, ratio: '0.5' }, /--ratio applies to --method noise and drop, not copy/],
      [{ ...base, method: 'noise', ratio: '2' }, /--ratio "2": a fraction of neurons in \(0, 1\]/],
      [{ ...base, router: 'kmeans' }, /--router "kmeans": one of copy, random, domain/],
      [{ ...base, from: undefined }, /--from hot \(the default\) needs --data PATH/],
      [{ ...base, from: '0:1,hot' }, /--from 0:1,hot needs --data PATH/],
      [{ ...base, from: 'cold', method: 'noise' }, /--method noise edits a copy of a source expert; --from cold draws new experts from scratch/],
      [{ ...base, from: 'cold', router: 'copy' }, /--router copy needs source experts; --from cold has none/],
      [{ ...base, router: 'domain' }, /--router domain needs --data PATH/],
      [{ ...base, data: [data] }, /--data is used by --from hot and --router domain only/],
      [{ ...base, seed: '1.5' }, /--seed "1.5": an integer from 0 to 4294967295/],
    ];
    for (const [flags, re] of cases) assert.throws(() => addExpertsRequest(flags), (e: unknown) => e instanceof UsageError && re.test(e.message), `${JSON.stringify(flags)} → ${re}`);
    assert.equal(fs.existsSync(base.out), false);
    assert.deepEqual(addExpertsRequest({ ...base, from: '1:2, 0:3' }).options.from, { list: [{ layer: 1, expert: 2 }, { layer: 0, expert: 3 }] });
  });

  it('a refused model or list: MoeError naming it, nothing written', async () => {
    const out = path.join(root, 'refused');
    await assert.rejects(run({ model: fixture('llama'), out, count: '1', from: 'cold' }), (e: unknown) => e instanceof MoeError && /model_type "llama" is a dense model/.test(e.message));
    await assert.rejects(run({ model: fixture('olmoe'), out, count: '1', from: '0:1' }), (e: unknown) => e instanceof MoeError && /the list gives no sources for MoE layer 1: a Hugging Face config holds one expert count for all MoE layers/.test(e.message));
    await assert.rejects(run({ model: fixture('olmoe'), out, count: '2', from: '0:1,1:1' }), /the list gives layer 0 1 source expert, but 2 experts are added to every MoE layer/);
    assert.equal(fs.existsSync(out), false);
    assert.deepEqual(fs.readdirSync(root).filter((f) => f.includes('partial')), []);
  });
});
