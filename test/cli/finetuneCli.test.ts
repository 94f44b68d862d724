// `moe-workbench finetune` as a user runs it (dist/cli.js in a child process): ESFT selection by default,
// chat prompts masked, held-out loss that falls, a checkpoint whose frozen tensors are byte-identical and
// whose adapter gives it back, byte-identical results for the same seed, --json lines, and bad input
// refused with its value named and nothing written.
// Run: npm run build && node --import tsx --test test/cli/finetuneCli.test.ts
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { openSafetensors } from '../../src/engine/model/safetensors';
import { fixture } from '../support/paths';
import { cli } from '../support/runCli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-cli-finetune-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const data = path.join(tmp, 'data');
fs.mkdirSync(data);
fs.writeFileSync(path.join(data, 'prose.txt'), 'The quick brown fox jumps over the lazy dog. '.repeat(30));
fs.writeFileSync(path.join(data, 'chat.jsonl'), Array.from({ length: 12 }, (_, i) => JSON.stringify({ messages: [{ role: 'user', content: `say hi ${i}` }, { role: 'assistant', content: `hi there number ${i}, friend` }] })).join('\n') + '\n');
const base = ['--model', fixture('olmoe'), '--data', data, '--steps', '6', '--seq-len', '48', '--lr', '1e-2'];

function tensors(file: string): Map<string, Buffer> {
  const f = openSafetensors(file);
  try {
    return new Map([...f.tensors.keys()].map((k) => [k, Buffer.from(f.readRaw(k))]));
  } finally {
    f.close();
  }
}

describe('finetune CLI', () => {
  test('default ESFT-Token selection trains only the selected experts; frozen tensors byte-identical; held-out loss falls; same seed = same bytes', async () => {
    const out = path.join(tmp, 'a');
    const r = await cli('finetune', ...base, '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /trained +[\d,]+ of [\d,]+ parameters/);
    const held = /held-out +([\d.]+) -> ([\d.]+)/.exec(r.stdout);
    assert.ok(held && Number(held[2]) < Number(held[1]), r.stdout);
    const record = JSON.parse(fs.readFileSync(path.join(out, 'moe_workbench.json'), 'utf8')) as { operation: string; tensors: string[]; training: { selection: { method: string; threshold: number; experts: [number, number[]][] }; history: unknown[]; data: { chatRecords: number } } };
    assert.equal(record.operation, 'finetune');
    assert.equal(record.training.selection.method, 'esft-token');
    assert.equal(record.training.selection.threshold, 0.2);
    assert.equal(record.training.history.length, 6);
    assert.equal(record.training.data.chatRecords, 12);
    const selected = new Set(record.training.selection.experts.flatMap(([L, es]) => es.map((e) => `${L}.${e}`)));
    const src = tensors(path.join(fixture('olmoe'), 'model.safetensors'));
    const got = tensors(path.join(out, 'model.safetensors'));
    assert.deepEqual([...got.keys()].sort(), [...src.keys()].sort());
    for (const [k, b] of src) {
      const m = /^model\.layers\.(\d+)\.mlp\.experts\.(\d+)\./.exec(k);
      const trained = m !== null && selected.has(`${m[1]}.${m[2]}`);
      assert.equal(record.tensors.includes(k), trained, k);
      if (!trained) assert.ok(got.get(k)!.equals(b), `${k} is byte-identical`);
    }
    assert.ok(record.tensors.some((k) => !got.get(k)!.equals(src.get(k)!)), 'the selected experts changed');
    // The report: the figures as JSON, the page self-contained and script-free.
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as { history: unknown[]; routingDrift: { layer: number; jaccard: number; tokens: number }[]; expertChanges: { layer: number; expert: number; relative: number }[]; heldOutLoss: { before: number; after: number } };
    assert.equal(report.history.length, 6);
    assert.deepEqual(report.routingDrift.map((d) => d.layer), [0, 1]);
    for (const d of report.routingDrift) assert.ok(d.jaccard >= 0 && d.jaccard <= 1 && d.tokens > 0, JSON.stringify(d));
    assert.deepEqual(report.expertChanges.map((c) => `${c.layer}.${c.expert}`).sort(), [...selected].sort());
    assert.ok(report.expertChanges.every((c) => c.relative > 0));
    assert.ok(Math.abs(report.heldOutLoss.after - Number(held![2])) < 1e-4, 'the report and the summary agree');
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    assert.match(html, /Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;nonce-/);
    assert.doesNotMatch(html, /<script/i);
    assert.match(html, /<polyline class="train"/);
    // The adapter gives the checkpoint back.
    const applied = path.join(tmp, 'a-applied');
    const ap = await cli('apply-adapter', '--model', fixture('olmoe'), '--adapter', path.join(out, 'adapter'), '--out', applied);
    assert.equal(ap.code, 0, ap.stderr);
    for (const [k, b] of tensors(path.join(applied, 'model.safetensors'))) assert.ok(b.equals(got.get(k)!), k);
    // Deterministic.
    const again = path.join(tmp, 'b');
    assert.equal((await cli('finetune', ...base, '--out', again)).code, 0);
    assert.ok(fs.readFileSync(path.join(again, 'model.safetensors')).equals(fs.readFileSync(path.join(out, 'model.safetensors'))), 'same seed and data -> byte-identical weights');
  });

  test('--json prints one object per step, then the summary; --adapter-only writes only the adapter, with the run report', async () => {
    const out = path.join(tmp, 'json');
    const r = await cli('finetune', '--model', fixture('mixtral'), '--ids', '5,6,7,8,9,10,11,12', '--train', 'experts=0:1', '--train', 'routers', '--steps', '3', '--json', '--adapter-only', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines.slice(0, 3).map((l) => l['step']), [1, 2, 3]);
    for (const l of lines.slice(0, 3)) for (const k of ['loss', 'tokensPerSecond']) assert.equal(typeof l[k], 'number', k);
    const summary = lines[3]!['summary'] as { adapterDir: string; trainedTensors: string[] };
    assert.equal(summary.adapterDir, out);
    assert.deepEqual(fs.readdirSync(out).sort(), ['adapter.safetensors', 'moe_workbench_adapter.json', 'report.html', 'report.json']);
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as { format: string; output: { checkpointDir?: string; adapterDir: string }; history: unknown[] };
    assert.equal(report.format, 'moe-workbench.finetune-report');
    assert.deepEqual(report.output, { adapterDir: out }, 'no checkpoint folder is named');
    assert.equal(report.history.length, 3);
    assert.match(fs.readFileSync(path.join(out, 'report.html'), 'utf8'), /<html/i);
    assert.ok(summary.trainedTensors.includes('model.layers.0.block_sparse_moe.gate.weight'));
  });

  test('bad input is refused, naming the value; nothing written', async () => {
    const out = path.join(tmp, 'bad');
    const cases: [string[], number, RegExp][] = [
      [['--optimizer', 'adam'], 2, /--optimizer "adam": one of adamw, sgd/],
      [['--threshold', '2'], 2, /--threshold "2": a number in \(0, 1\]/],
      [['--steps', '0'], 2, /--steps "0": an integer >= 1/],
      [['--seq-len', '999999'], 1, /--seq-len 999999 must be an integer from 2 to \d+/],
      [['--train', 'experts=0:99'], 1, /expert 99/],
      [['--warmup', '6'], 1, /--warmup must be an integer from 0 to steps - 1 = 5 \(got 6\)/],
    ];
    for (const [extra, code, msg] of cases) {
      const r = await cli('finetune', ...base, '--out', out, ...extra);
      assert.equal(r.code, code, `${extra.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg);
      assert.equal(fs.existsSync(out), false, extra.join(' '));
    }
    const inside = await cli('finetune', ...base, '--out', path.join(fixture('olmoe'), 'sub'));
    assert.equal(inside.code, 1);
    assert.match(inside.stderr, /inside the source model/);
    const noAssistant = path.join(tmp, 'noassist.jsonl');
    fs.writeFileSync(noAssistant, JSON.stringify({ messages: [{ role: 'user', content: 'hello?' }] }) + '\n');
    const na = await cli('finetune', '--model', fixture('olmoe'), '--data', noAssistant, '--out', out);
    assert.equal(na.code, 1);
    assert.match(na.stderr, /noassist\.jsonl:1: a chat record with no assistant turn/);
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'keep.txt'), 'x');
    const exists = await cli('finetune', ...base, '--out', out);
    assert.equal(exists.code, 1);
    assert.match(exists.stderr, /already exists/);
    assert.deepEqual(fs.readdirSync(out), ['keep.txt']);
  });
});
