// `moe-workbench upcycle` (issue #11 §4): the command's runner called with the flags as parseArgs gives them
// (cli.ts registers it). Prints what it wrote and the measured difference, --json prints one object,
// malformed or inapplicable flags are usage errors before anything is read, and a refused model writes nothing.
// Run: node --import tsx --test test/cli/upcycleCli.test.ts
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { UsageError } from '../../src/cli/expertCommands';
import { upcycleCommand, type UpcycleFlags, upcycleRequest } from '../../src/cli/upcycleCommand';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { MoeError } from '../../src/protocol/moeError';
import { fixture } from '../support/paths';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-upcycle-cli-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

async function run(flags: UpcycleFlags): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await upcycleCommand(flags, { write: (l) => lines.push(l) });
  return { code, lines };
}

describe('upcycle CLI', () => {
  it('copy: writes the checkpoint and states the measured difference to the dense model', async () => {
    const out = path.join(root, 'copy');
    const { code, lines } = await run({ model: fixture('qwen3'), out, experts: '8', 'top-k': '2' });
    assert.equal(code, 0);
    const text = lines.join('\n');
    assert.match(text, /^upcycled {4}qwen3 → qwen3_moe: 8 experts, top-2, MoE layers 0,1$/m);
    assert.match(text, /^method {6}copy \(every expert the dense MLP\); expert intermediate size 128$/m);
    assert.match(text, /^router {6}random \(zero-mean uniform, std 0\.02\), seed 0$/m);
    assert.match(text, /^parameters {2}\S+ → \S+ total, \S+ active per token$/m);
    const diff = /max \|logit − dense logit\| (\S+), .* top-1 agreement 100\.0% over 4 sequences \(128 tokens\); copies with renormalised top-k compute the dense function/.exec(text);
    assert.ok(diff, text);
    assert.ok(Number(diff[1]) <= 1e-5, `difference ${diff[1]}`);
    assert.match(text, new RegExp(`^wrote {7}${out.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(7 files, [\\d,]+ bytes\\)$`, 'm'));
    // The shared report beside the checkpoint, as the VS Code command writes it.
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as { format: string; evaluation: unknown; output: { dir: string } };
    const record = JSON.parse(fs.readFileSync(path.join(out, 'moe_workbench.json'), 'utf8')) as { evaluation: unknown };
    assert.equal(report.format, 'moe-workbench.upcycle-report');
    assert.equal(report.output.dir, out);
    assert.deepEqual(report.evaluation, record.evaluation);
    assert.match(fs.readFileSync(path.join(out, 'report.html'), 'utf8'), /<h1>Upcycling report<\/h1>/);
    const c = openCheckpoint(out);
    try {
      assert.equal(c.config.modelType, 'qwen3_moe');
    } finally {
      c.close();
    }
  });

  it('--json, drop with its flags, a layer subset and --no-eval', async () => {
    const out = path.join(root, 'drop');
    const { lines } = await run({ model: fixture('qwen3'), out, experts: '4', 'top-k': '1', method: 'drop', ratio: '0.25', 'drop-mode': 'reference-code', layers: '1', seed: '42', 'no-eval': true, json: true });
    assert.equal(lines.length, 1);
    const j = JSON.parse(lines[0]!) as { dir: string; parameters: { before: number; after: number; activePerToken: number }; record: { method: string; seed: number; settings: Record<string, unknown>; layers: { layer: number }[]; evaluation?: unknown } };
    assert.equal(j.dir, out);
    assert.equal(j.record.method, 'drop');
    assert.equal(j.record.seed, 42);
    assert.deepEqual(j.record.settings, { experts: 4, topK: 1, router: 'random', routerStd: 0.02, ratio: 0.25, dropMode: 'reference-code', expertIntermediateSize: 128 });
    assert.deepEqual(j.record.layers.map((l) => l.layer), [1]);
    assert.equal(j.record.evaluation, undefined);
    // Layer 1's MLP became 4 experts of the same size (+3 MLPs and a router); top-1 keeps one MLP active.
    assert.ok(j.parameters.after > j.parameters.before && j.parameters.activePerToken < j.parameters.after);
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(cfg['mlp_only_layers'], [0]);
  });

  it('--router kmeans --data: the router line says what was clustered', async () => {
    const data = path.join(root, 'data.txt');
    fs.writeFileSync(data, 'Some calibration text, long enough for a few clusters of byte tokens. '.repeat(4));
    const { lines } = await run({ model: fixture('llama'), out: path.join(root, 'kmeans'), experts: '4', 'top-k': '2', router: 'kmeans', data: [data], 'no-eval': true });
    assert.match(lines.join('\n'), /^router {6}kmeans \(spherical k-means centroids of the MLP inputs of 2\d\d --data tokens, at the random init's row norm\), seed 0$/m);
  });

  it('usage errors name the flag, before anything is read or written', () => {
    const base = { model: fixture('llama'), out: path.join(root, 'never'), experts: '4', 'top-k': '2' };
    const cases: [UpcycleFlags, RegExp][] = [
      [{ ...base, model: undefined }, /--model DIR is required/],
      [{ ...base, out: undefined }, /--out DIR is required/],
      [{ ...base, experts: undefined }, /--experts E is required/],
      [{ ...base, 'top-k': undefined }, /--top-k K is required/],
      [{ ...base, experts: 'four' }, /--experts "four": an integer from 1 up/],
      [{ ...base, 'top-k': '1.5' }, /--top-k "1.5": an integer/],
      [{ ...base, method: 'clone' }, /--method "clone": one of copy, noise, drop, split/],
      [{ ...base, ratio: '0.5' }, /--ratio applies to --method noise and drop, not copy/],
      [{ ...base, method: 'noise', ratio: '1.5' }, /--ratio "1.5": a fraction of neurons in \(0, 1\]/],
      [{ ...base, method: 'drop', 'noise-std': '0.1' }, /--noise-std applies to --method noise, not drop/],
      [{ ...base, method: 'noise', 'drop-mode': 'paper' }, /--drop-mode applies to --method drop, not noise/],
      [{ ...base, method: 'drop', 'drop-mode': 'code' }, /--drop-mode "code": one of paper, reference-code/],
      [{ ...base, router: 'kmeans' }, /--router kmeans needs --data/],
      [{ ...base, data: ['x.txt'] }, /--data is used by --router kmeans and --method split \(balanced k-means over neuron activations\) only/],
      [{ ...base, layers: '0,x' }, /--layers "0,x": all, or comma-separated decoder layer indices/],
      [{ ...base, seed: '-1' }, /--seed "-1": an integer from 0 to 4294967295/],
    ];
    for (const [flags, re] of cases) assert.throws(() => upcycleRequest(flags), (e: unknown) => e instanceof UsageError && re.test(e.message), `${JSON.stringify(flags)} → ${re}`);
    assert.equal(fs.existsSync(base.out), false);
    assert.deepEqual(upcycleRequest({ ...base, layers: 'all' }).options.layers, 'all');
  });

  it('a refused model or output: MoeError naming it, nothing written', async () => {
    const out = path.join(root, 'refused');
    await assert.rejects(run({ model: fixture('olmoe'), out, experts: '4', 'top-k': '2' }), (e: unknown) => e instanceof MoeError && /model_type "olmoe" is already a mixture of experts/.test(e.message));
    await assert.rejects(run({ model: fixture('llama'), out, experts: '4', 'top-k': '5' }), (e: unknown) => e instanceof MoeError && /top-k must be an integer from 1 to the number of experts \(4\), got 5/.test(e.message));
    await assert.rejects(run({ model: fixture('llama'), out, experts: '4', 'top-k': '2', layers: '1' }), /a layer subset cannot be upcycled to Mixtral/);
    assert.equal(fs.existsSync(out), false);
    assert.deepEqual(fs.readdirSync(root).filter((f) => f.includes('partial')), []);
  });
});
