// The CLI as a user runs it: the built dist/cli.js, in a child process, through the engine worker.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { RoutingTrace } from '../../src/protocol/trace';
import { cli } from '../support/runCli';
import { fixture } from '../support/paths';


interface Expected {
  prompts: { input_ids: number[]; loss: number; topk_idx: Record<string, number[][]> }[];
}

describe('moe-workbench CLI', () => {
  it('inspect prints architecture, parameter counts, experts and size', async () => {
    const r = await cli('inspect', '--model', fixture('qwen2_moe'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /architecture\s+Qwen2MoeForCausalLM \(model_type qwen2_moe\)/);
    assert.match(r.stdout, /layers\s+3, MoE in 3: \[0, 1, 2\]/);
    assert.match(r.stdout, /experts\s+8 per MoE layer, top-2, expert intermediate 32, shared expert 96/);
    assert.match(r.stdout, /routing\s+softmax -> top-2 \(no renormalisation\)/);
    assert.match(r.stdout, /parameters\s+\S+ total, \S+ active per token/);
    const json = await cli('inspect', '--model', fixture('qwen2_moe'), '--json');
    const info = JSON.parse(json.stdout) as { totalParams: number; activeParams: number; numExperts: number; topK: number; moeLayers: number[] };
    // Active = total minus the (E - k) unused routed experts of each MoE layer: 3 layers * 6 * 3 * 32 * 64.
    assert.equal(info.totalParams - info.activeParams, 3 * 6 * 3 * 32 * 64);
    assert.equal(info.numExperts, 8);
  });

  it('annotate --ids --json gives the reference experts and loss, in the trace format', async () => {
    const expected = JSON.parse(fs.readFileSync(path.join(fixture('mixtral'), 'expected.json'), 'utf8')) as Expected;
    const p = expected.prompts[0]!;
    const r = await cli('annotate', '--model', fixture('mixtral'), '--ids', p.input_ids.join(','), '--json');
    assert.equal(r.code, 0, r.stderr);
    const trace = JSON.parse(r.stdout) as RoutingTrace;
    assert.equal(trace.model.architecture, 'mixtral');
    assert.deepEqual(trace.model.moeLayers, [0, 1]);
    assert.deepEqual(trace.tokens.map((t) => t.id), p.input_ids);
    assert.deepEqual(trace.layers.map((l) => l.layer), [0, 1]);
    for (const l of trace.layers) {
      assert.deepEqual(l.experts, p.topk_idx[String(l.layer)]);
      for (const w of l.weights) assert.ok(Math.abs(w[0]! + w[1]! - 1) < 1e-5, 'Mixtral renormalises');
      assert.equal(l.routerLogits[0]!.length, 8);
      assert.equal(l.entropy.length, p.input_ids.length);
    }
    assert.equal(trace.logprobs.length, p.input_ids.length - 1);
    assert.ok(Math.abs(trace.loss! - p.loss) < 1e-4);
    assert.equal(trace.logits, undefined);
  });

  it('annotate --text keeps exact character spans; --layer and --logits shape the trace', async () => {
    const text = 'héllo 世界 🙂';
    const r = await cli('annotate', '--model', fixture('olmoe'), '--text', text, '--layer', '1', '--logits', '--json');
    assert.equal(r.code, 0, r.stderr);
    const trace = JSON.parse(r.stdout) as RoutingTrace;
    assert.deepEqual(trace.layers.map((l) => l.layer), [1]);
    assert.equal(trace.tokens.length, Buffer.byteLength(text));
    for (const t of trace.tokens) assert.equal(text.slice(t.start, t.end), t.text);
    assert.deepEqual(trace.tokens.slice(0, 4).map((t) => [t.start, t.end]), [[0, 1], [1, 2], [1, 2], [2, 3]]);
    assert.equal(trace.logits!.length, trace.tokens.length);
    assert.equal(trace.logits![0]!.length, 304);
  });

  it('annotate prints a readable table', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-cli-'));
    const f = path.join(dir, 'p.prompt');
    fs.writeFileSync(f, 'Hi 42');
    const r = await cli('annotate', '--model', fixture('granitemoe'), '--file', f);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0]!, /granitemoe \(granitemoe\) · 3 MoE layers × 6 experts, top-2 · 5 tokens · loss \d+\.\d+ \(perplexity/);
    assert.match(lines[1]!, /token\s+id\s+logp\s+L0 experts:weight\s+H\s+L1/);
    assert.equal(lines.length, 2 + 5);
    assert.match(lines[2]!, /^0\s+"H"\s+72\s+\d:0\.\d\d \d:0\.\d\d\s+\d\.\d\d/);
    fs.rmSync(dir, { recursive: true });
  });

  it('errors: exit code 1 with a message naming the file; usage errors exit 2', async () => {
    const missing = await cli('annotate', '--model', '/nonexistent/m', '--text', 'x');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /error: model folder not found: \/nonexistent\/m/);
    const noFile = await cli('annotate', '--model', fixture('olmoe'), '--file', '/nonexistent/p.txt');
    assert.equal(noFile.code, 1);
    assert.match(noFile.stderr, /prompt file not found: \/nonexistent\/p\.txt/);
    const badLayer = await cli('annotate', '--model', fixture('qwen3_moe'), '--text', 'x', '--layer', '7');
    assert.equal(badLayer.code, 2);
    assert.match(badLayer.stderr, /--layer 7: not a MoE layer of this model \(MoE layers: 0, 1\)/);
    const two = await cli('annotate', '--model', fixture('olmoe'), '--text', 'x', '--ids', '1');
    assert.equal(two.code, 2);
    const unknown = await cli('frobnicate', '--model', fixture('olmoe'));
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
  });
});
