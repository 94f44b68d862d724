// The expert operations from the command line (issue #4): profile, prune, merge and eval through the built
// dist/cli.js and the real engine worker, with the spellings scripts rely on, and their refusals.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { EvalReport, ExpertProfile, OperationRecord, OperationReport } from '../../src/protocol/expertOps';
import { runCli, type CliResult } from '../support/runCli';
import { copyFixture, removeTempModels } from '../support/tempModel';

const cli = (...args: string[]): Promise<CliResult> => runCli(args, { XDG_CACHE_HOME: cacheDir });

let tmp: string;
let cacheDir: string;
let model: string;
let data: string;
let held: string;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-cli-ops-'));
  cacheDir = path.join(tmp, 'cache');
  model = copyFixture('qwen3_moe');
  data = path.join(tmp, 'data');
  held = path.join(tmp, 'held');
  fs.mkdirSync(data);
  fs.mkdirSync(held);
  fs.writeFileSync(path.join(data, 'notes.md'), '# Routing\nTokens go to experts. Some experts are rarely used.\n'.repeat(4));
  fs.writeFileSync(path.join(data, 'chat.jsonl'), [{ text: 'def add(a, b):\n    return a + b\n' }, { messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello there' }] }].map((r) => JSON.stringify(r)).join('\n'));
  fs.writeFileSync(path.join(held, 'held.txt'), 'A held-out paragraph, never profiled: 1, 2, 3.\n');
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  removeTempModels();
});

const exists = (p: string): boolean => fs.existsSync(p);
const leftovers = (dir: string): string[] => fs.readdirSync(dir).filter((f) => f.includes('.partial-'));

describe('moe-workbench profile / prune / merge / eval', () => {
  it('profile stores a profile next to the model and prints the statistics', async () => {
    const r = await cli('profile', '--model', model, '--data', data, '--chunk', '32');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /profile\s+.*moe-workbench-profiles\/profile-[0-9a-f]{12}-c32\.json/);
    assert.match(r.stdout, /layer 0 {2}\(8 experts, top-2, \d+ tokens\)/);
    assert.match(r.stdout, /expert\s+count\s+freq\s+gate\(mean\)\s+softmax\(mean\)\s+REAP\s+EAN/);
    const j = await cli('profile', '--model', model, '--data', data, '--chunk', '32', '--json');
    const p = JSON.parse(j.stdout) as ExpertProfile & { file: string };
    assert.equal(p.format, 'moe-workbench.profile');
    assert.equal(p.layers.length, 2);
    assert.equal(p.data.files.length, 2);
    assert.ok(exists(p.file));
  });

  it('prune with the issue spelling writes a checkpoint, a record and a report; eval compares it with its source', async () => {
    const out = path.join(tmp, 'pruned');
    const r = await cli('prune', '--model', model, '--data', path.join(data, 'notes.md'), path.join(data, 'chat.jsonl'), '--method', 'reap', '--keep', '6', '--protect', '0:1,1:2', '--out', out, '--eval-data', held, '--chunk', '32');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /prune: REAP, keep 6 per layer/);
    assert.match(r.stdout, /perplexity\s+\d+\.\d+\s+\d+\.\d+/);
    assert.match(r.stdout, /experts per layer\s+8\s+6/);
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as { num_experts: number; num_experts_per_tok: number };
    assert.equal(config.num_experts, 6);
    assert.equal(config.num_experts_per_tok, 2);
    const record = JSON.parse(fs.readFileSync(path.join(out, 'moe_workbench.json'), 'utf8')) as OperationRecord;
    assert.equal(record.plan.operation, 'prune');
    assert.ok(record.experts[0]!.kept.includes(1) && record.experts[1]!.kept.includes(2), 'protected experts kept');
    assert.equal(record.experts[0]!.removed.length, 2);
    for (const f of ['report.html', 'report.json', 'tokenizer.json', 'model.safetensors']) assert.ok(exists(path.join(out, f)), f);
    assert.match(fs.readFileSync(path.join(out, 'report.html'), 'utf8'), /Content-Security-Policy/);

    const e = await cli('eval', '--model', out, '--data', held, '--json', '--chunk', '32');
    assert.equal(e.code, 0, e.stderr);
    const rep = JSON.parse(e.stdout) as EvalReport;
    assert.equal(fs.realpathSync(rep.baseline.dir), fs.realpathSync(model));
    assert.equal(rep.candidate.numExperts, 6);
    assert.ok(rep.top1Agreement > 0 && rep.top1Agreement <= 1 && rep.meanKl >= 0);
    const saved = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as OperationReport;
    assert.equal(saved.evaluation!.candidate.perplexity, rep.candidate.perplexity, 'the same evaluation gives the same figures');
    const t = await cli('eval', '--model', out, '--baseline', model, '--data', held);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /top-1 agreement\s+\d+\.\d+%/);
  });

  it('merge --keep N writes an MC-SMoE merged checkpoint; --dry-run writes nothing', async () => {
    const dry = await cli('merge', '--model', model, '--data', data, '--keep', '4', '--dry-run', '--chunk', '32');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /layer 0: (\[[\d+]+\] ?){4}/);
    const out = path.join(tmp, 'merged');
    const r = await cli('merge', '--model', model, '--data', data, '--keep', '4', '--out', out, '--no-eval', '--json', '--chunk', '32');
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as OperationReport;
    assert.equal(rep.record.plan.operation, 'merge');
    assert.equal(rep.evaluation, undefined);
    assert.equal((JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as { num_experts: number }).num_experts, 4);
    assert.ok(rep.record.experts.every((l) => (l.merged ?? []).flat().length + l.kept.length - (l.merged ?? []).length === 8), 'every old expert is in a group');
  });

  it('prune --ratio --global refuses to write uneven layers, with the reason', async () => {
    const out = path.join(tmp, 'global');
    const dry = await cli('prune', '--model', model, '--data', data, '--method', 'frequency', '--ratio', '0.5', '--global', '--min-per-layer', '2', '--chunk', '32', '--dry-run', '--json');
    assert.equal(dry.code, 0, dry.stderr);
    const plan = (JSON.parse(dry.stdout) as { plan: { layers: { experts: unknown[] }[] } }).plan;
    const counts = plan.layers.map((l) => l.experts.length);
    assert.equal(counts.reduce((a, b) => a + b, 0), 8, 'half of the 16 experts go');
    if (new Set(counts).size > 1) {
      const r = await cli('prune', '--model', model, '--data', data, '--method', 'frequency', '--ratio', '0.5', '--global', '--min-per-layer', '2', '--out', out, '--chunk', '32');
      assert.equal(r.code, 1);
      assert.match(r.stderr, /one num_experts for all layers/);
      assert.ok(!exists(out));
    }
  });

  it('refuses bad input clearly and writes nothing', async () => {
    const out = path.join(tmp, 'refused');
    const below = await cli('prune', '--model', model, '--data', data, '--method', 'reap', '--keep', '1', '--out', out, '--chunk', '32');
    assert.equal(below.code, 1);
    assert.match(below.stderr, /would leave 1 experts in layer 0, fewer than the 2 each token is routed to/);
    assert.ok(!exists(out));

    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    fs.writeFileSync(path.join(empty, 'blank.txt'), '   \n');
    const e = await cli('prune', '--model', model, '--data', empty, '--method', 'reap', '--keep', '6', '--out', out);
    assert.equal(e.code, 1);
    assert.match(e.stderr, /calibration set is empty/);
    assert.ok(!exists(out));

    // A profile of another model.
    const other = copyFixture('olmoe');
    const pf = path.join(tmp, 'olmoe.profile.json');
    assert.equal((await cli('profile', '--model', other, '--data', data, '--out', pf, '--chunk', '32')).code, 0);
    const wrong = await cli('prune', '--model', model, '--profile', pf, '--method', 'reap', '--keep', '6', '--out', out);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, new RegExp(`${pf.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} was computed on ${path.basename(other)}`));
    assert.ok(!exists(out));

    // An output folder that cannot be created (its parent is a file).
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, 'x');
    const unwritable = await cli('prune', '--model', model, '--data', data, '--method', 'ean', '--keep', '6', '--out', path.join(file, 'out'), '--chunk', '32');
    assert.equal(unwritable.code, 1);
    assert.match(unwritable.stderr, /a-file/);
    assert.deepEqual(leftovers(tmp), []);

    // Writing into the source model folder is refused.
    const inside = await cli('prune', '--model', model, '--data', data, '--method', 'gate', '--keep', '6', '--out', path.join(model, 'pruned'), '--chunk', '32');
    assert.equal(inside.code, 1);
    assert.ok(!exists(path.join(model, 'pruned')));

    const usage = await cli('prune', '--model', model, '--data', data, '--method', 'magic', '--keep', '6', '--out', out);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--method must be one of reap, frequency, gate, ean, importance/);
    const both = await cli('prune', '--model', model, '--data', data, '--method', 'reap', '--keep', '6', '--ratio', '0.5', '--out', out);
    assert.equal(both.code, 2);
    const protect = await cli('prune', '--model', model, '--data', data, '--method', 'reap', '--keep', '6', '--protect', '0-1', '--out', out);
    assert.equal(protect.code, 2);
    assert.match(protect.stderr, /LAYER:EXPERT/);
  });
});
