// The shipped demo model (media/demo-model, trained by `npm run demo:train`, issue #12): it loads through the
// normal loader as a trained BF16 Mixtral, its held-out samples give the losses its training record states,
// its tokenizer round-trips every sample with spans that tile the text, and `npm run demo`'s summary is the
// one the routing traces give.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MoeEngine } from '../../src/engine/moeEngine';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { describeCheckpoint } from '../../src/engine/modelInfo';

const root = path.resolve(__dirname, '..', '..');
const dir = path.join(root, 'media', 'demo-model');
const record = JSON.parse(fs.readFileSync(path.join(dir, 'training.json'), 'utf8')) as { samples: Record<string, { tokens: number; loss: number }>; domains: { domain: string }[] };
const samples = fs.readdirSync(path.join(dir, 'heldout')).filter((f) => f.endsWith('.txt')).sort();
const prompts = fs.readdirSync(path.join(root, 'media', 'samples')).filter((f) => f.endsWith('.prompt')).sort();

describe('the shipped demo model', () => {
  let engine: MoeEngine;
  before(async () => {
    engine = await MoeEngine.load(dir);
  });
  after(async () => engine?.dispose());

  it('is a trained BF16 Mixtral with 16 experts top-2, loaded by the normal loader', () => {
    const c = openCheckpoint(dir);
    try {
      const info = describeCheckpoint(c);
      assert.equal(info.untrained, undefined, 'no untrained marker');
      assert.equal(c.config.modelType, 'mixtral');
      assert.equal(c.config.dtype, 'bfloat16');
    } finally {
      c.close();
    }
    assert.equal(engine.config.numLayers, 4);
    const moe = engine.config.layers[0]!;
    assert.ok(moe.kind === 'moe' && moe.routing.numExperts === 16 && moe.routing.topK === 2);
    assert.ok(fs.statSync(path.join(dir, 'model.safetensors')).size < 25e6, 'at most ~25 MB of weights');
  });

  it('has a committed held-out sample of every domain, each giving the loss training.json records', async () => {
    assert.deepEqual(samples.map((f) => f.replace(/\.txt$/, '')).sort(), record.domains.map((d) => d.domain).sort());
    assert.ok(samples.length >= 5);
    for (const f of samples) {
      const domain = f.replace(/\.txt$/, '');
      const text = fs.readFileSync(path.join(dir, 'heldout', f), 'utf8');
      const ids = engine.tokenizer.encode(text).map((t) => t.id);
      const r = await engine.forward(ids, { routing: false, hidden: false, logits: false });
      assert.equal(ids.length, record.samples[domain]!.tokens, domain);
      assert.ok(Math.abs(r.loss - record.samples[domain]!.loss) < 1e-4, `${domain}: loss ${r.loss} vs recorded ${record.samples[domain]!.loss}`);
    }
  });

  it('tokenizer: decode(encode(text)) = text for every sample and prompt, spans covering the text in order', () => {
    const texts = [...samples.map((f) => path.join(dir, 'heldout', f)), ...prompts.map((f) => path.join(root, 'media', 'samples', f))].map((f) => [f, fs.readFileSync(f, 'utf8')] as const);
    for (const [file, text] of texts) {
      const spans = engine.tokenizer.encode(text);
      assert.equal(engine.tokenizer.decode(spans.map((s) => s.id)), text, file);
      assert.equal(spans[0]!.start, 0, file);
      assert.equal(spans.at(-1)!.end, text.length, file);
      for (let i = 1; i < spans.length; i++) {
        const [p, s] = [spans[i - 1]!, spans[i]!];
        // In order and without gaps; the pieces of a multi-byte character carry that character's span, so a
        // token holding " ¿"'s first byte spans the space and "¿", and the next (its second byte) "¿" again.
        assert.ok(s.start >= p.start && s.end >= p.end && s.start <= p.end && s.end > s.start, `${file}: token ${i} [${s.start}, ${s.end}) after [${p.start}, ${p.end})`);
      }
    }
  });
});

describe('npm run demo', () => {
  it('ends with a summary computed from the routing traces of the sample prompts', () => {
    const out = execFileSync(process.execPath, [path.join(root, 'scripts', 'demo.mjs')], { cwd: root, maxBuffer: 64 << 20 }).toString('utf8');
    const table = out.slice(out.lastIndexOf('=== Which experts'));
    for (const f of prompts) {
      const name = f.replace(/\.prompt$/, '');
      const trace = JSON.parse(execFileSync(process.execPath, [path.join(root, 'dist', 'cli.js'), 'annotate', '--model', dir, '--file', path.join(root, 'media', 'samples', f), '--json'], { maxBuffer: 256 << 20 }).toString('utf8')) as { tokens: unknown[]; layers: { experts: number[][] }[] };
      const row = table.split('\n').find((l) => l.startsWith(name.padEnd(11)));
      assert.ok(row, `a summary row for ${name}`);
      const cells = trace.layers.map((l) => {
        const counts = new Map<number, number>();
        for (const chosen of l.experts) counts.set(chosen[0]!, (counts.get(chosen[0]!) ?? 0) + 1);
        const [e, n] = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]!;
        return `${e} ${Math.round((100 * n) / l.experts.length)}%`;
      });
      for (const c of cells) assert.ok(row!.includes(` ${c}`), `${name}: ${c} in "${row}"`);
      assert.ok(row!.includes(String(trace.tokens.length)));
    }
  });
});
