// The before/after evaluation on the fixtures: a model against itself, against a copy whose router rows of
// one layer are rotated (figures checked against a float64 computation done here from `forward`), the
// expert map, cancellation and refusals.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { evaluateModels } from '../../src/engine/evaluation/evaluateModels';
import { openSafetensors } from '../../src/engine/model/safetensors';
import { writeSafetensors, type TensorToWrite } from '../../src/engine/model/safetensorsWriter';
import { MoeEngine } from '../../src/engine/moeEngine';
import type { Progress } from '../../src/protocol/engineProtocol';
import { MoeError, type MoeErrorCode } from '../../src/protocol/moeError';
import { fixture } from '../support/paths';
import { copyFixture, removeTempModels } from '../support/tempModel';

const TEXT = [
  'The quick brown fox jumps over the lazy dog. ',
  'def add(a, b):\n    return a + b\n',
  '1, 2, 3, 5, 8, 13, 21, 34, 55, 89; ',
  'Pack my box with five dozen liquor jugs!',
];
const DOCUMENT = 'Experts route tokens: 42 apples, (x + y) * z, "quoted" text and CAPITALS.';
const E = 8;
/** Candidate router row e = baseline row (e + 1) % E in layer 0, so its expert e = old expert (e + 1) % E. */
const ROTATION = Array.from({ length: E }, (_, e) => (e + 1) % E);

function ids(engine: MoeEngine, text: string): number[] {
  return engine.tokenizer.encode(text).map((t) => t.id);
}

/** A copy of qwen3_moe with layer 0's router rows rotated (a changed model: tokens reach other experts). */
async function rotatedRouterCopy(): Promise<string> {
  const dir = copyFixture('qwen3_moe');
  const file = path.join(dir, 'model.safetensors');
  const st = openSafetensors(file);
  const tensors: TensorToWrite[] = [];
  for (const t of st.tensors.values()) {
    if (t.name === 'model.layers.0.mlp.gate.weight') {
      const w = st.readF32(t.name);
      const H = t.shape[1]!;
      const out = new Float32Array(w.length);
      ROTATION.forEach((old, e) => out.set(w.subarray(old * H, (old + 1) * H), e * H));
      tensors.push({ name: t.name, dtype: 'BF16', shape: t.shape, data: out });
    } else {
      tensors.push({ name: t.name, dtype: t.dtype as TensorToWrite['dtype'], shape: t.shape, data: st.readRaw(t.name) });
    }
  }
  st.close();
  await writeSafetensors(file, tensors, { format: 'pt' });
  return dir;
}

/** log-softmax of one row in float64, written independently of nextTokenStats. */
function logSoftmax(row: Float32Array): number[] {
  let m = -Infinity;
  for (const v of row) m = Math.max(m, v);
  let s = 0;
  for (const v of row) s += Math.exp(v - m);
  const lse = m + Math.log(s);
  return Array.from(row, (v) => v - lse);
}

function argmax(row: Float32Array): number {
  return row.indexOf(Math.max(...row));
}

/** The evaluation's figures recomputed from both models' forward passes. */
async function expected(a: MoeEngine, b: MoeEngine, chunks: number[][]) {
  let nllA = 0;
  let nllB = 0;
  let n = 0;
  let agree = 0;
  let kl = 0;
  for (const c of chunks) {
    const ra = await a.forward(c, { routing: false, hidden: false, logits: true });
    const rb = await b.forward(c, { routing: false, hidden: false, logits: true });
    const V = ra.logits!.cols;
    nllA += ra.loss * (c.length - 1);
    nllB += rb.loss * (c.length - 1);
    for (let i = 0; i < c.length - 1; i++) {
      const pa = ra.logits!.data.subarray(i * V, (i + 1) * V);
      const pb = rb.logits!.data.subarray(i * V, (i + 1) * V);
      if (argmax(pa) === argmax(pb)) agree++;
      const la = logSoftmax(pa);
      const lb = logSoftmax(pb);
      kl += la.reduce((s, l, j) => s + Math.exp(l) * (l - lb[j]!), 0);
    }
    n += c.length - 1;
  }
  return { pplA: Math.exp(nllA / n), pplB: Math.exp(nllB / n), agreement: agree / n, meanKl: kl / n };
}

/** Per MoE layer, the share of document tokens whose expert set differs, candidate ids mapped by `map`. */
async function expectedRoutingChange(a: MoeEngine, b: MoeEngine, doc: number[], map: Map<number, number[]>): Promise<Map<number, number>> {
  const ra = await a.forward(doc, { routing: true, hidden: false, logits: false });
  const rb = await b.forward(doc, { routing: true, hidden: false, logits: false });
  const share = new Map<number, number>();
  ra.routing.forEach((la, i) => {
    const lb = rb.routing[i]!;
    const m = map.get(la.layer);
    let changed = 0;
    for (let t = 0; t < doc.length; t++) {
      const sa = new Set(la.experts.data.subarray(t * la.experts.cols, (t + 1) * la.experts.cols));
      const sb = new Set(Array.from(lb.experts.data.subarray(t * lb.experts.cols, (t + 1) * lb.experts.cols), (e) => (m ? m[e]! : e)));
      if (sa.size !== sb.size || [...sa].some((e) => !sb.has(e))) changed++;
    }
    share.set(la.layer, changed / doc.length);
  });
  return share;
}

function close(actual: number, want: number, rel: number, what: string): void {
  assert.ok(Math.abs(actual - want) <= rel * Math.max(1, Math.abs(want)), `${what}: ${actual} vs ${want}`);
}

async function expectError(p: Promise<unknown>, code: MoeErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof MoeError, `not a MoeError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

describe('evaluateModels', () => {
  let base: MoeEngine;
  let same: MoeEngine;
  let rotated: MoeEngine;
  let chunks: number[][];
  let doc: number[];

  before(async () => {
    base = await MoeEngine.load(fixture('qwen3_moe'));
    same = await MoeEngine.load(fixture('qwen3_moe'));
    rotated = await MoeEngine.load(await rotatedRouterCopy());
    chunks = TEXT.map((t) => ids(base, t));
    doc = ids(base, DOCUMENT);
  });
  after(async () => {
    await Promise.all([base, same, rotated].map((e) => e?.dispose()));
    removeTempModels();
  });

  it('a model against itself: full agreement, no KL, equal perplexity exp(mean loss), no routing change', async () => {
    const progress: Progress[] = [];
    const r = await evaluateModels(base, same, [...chunks, [7]], { document: DOCUMENT, onProgress: (p) => progress.push(p) });
    const want = await expected(base, base, chunks);
    assert.equal(r.chunks, chunks.length, 'the one-token chunk predicts nothing and is skipped');
    assert.equal(r.tokens, chunks.reduce((n, c) => n + c.length, 0));
    assert.equal(r.top1Agreement, 1);
    assert.ok(r.meanKl >= 0 && r.meanKl < 1e-6, `meanKl ${r.meanKl}`);
    assert.equal(r.baseline.perplexity, r.candidate.perplexity);
    close(r.baseline.perplexity, want.pplA, 1e-12, 'perplexity');
    assert.ok(r.baseline.perplexity > 1 && r.baseline.perplexity < base.config.vocabSize * 10);
    const info = base.info;
    assert.deepEqual({ ...r.baseline, perplexity: 0 }, { dir: info.path, name: info.name, perplexity: 0, bytesOnDisk: info.bytesOnDisk, totalParams: info.totalParams, activeParams: info.activeParams, numExperts: info.numExperts });

    const d = r.document!;
    assert.equal(d.tokens, doc.length);
    assert.equal(d.changedPredictions, 0);
    assert.deepEqual(d.routingChanged, base.info.moeLayers.map((layer) => ({ layer, share: 0 })));
    assert.equal(d.perToken.length, doc.length, 'every document token, the last one included');
    const spans = base.tokenizer.encode(DOCUMENT);
    d.perToken.forEach((t, i) => {
      assert.equal(t.index, i);
      assert.equal(t.text, spans[i]!.text || base.tokenizer.tokenText(spans[i]!.id));
      assert.equal(t.before, t.after);
      assert.ok(t.kl < 1e-6);
    });
    assert.ok(r.runMs > 0);

    const total = r.tokens + doc.length;
    assert.ok(progress.length >= chunks.length + 2);
    assert.ok(progress.every((p) => p.stage === 'evaluate' && p.total === total && typeof p.message === 'string'));
    assert.deepEqual(progress.map((p) => p.done), [0, ...chunks.map((_, i) => chunks.slice(0, i + 1).reduce((n, c) => n + c.length, 0)), total]);
    assert.match(progress[1]!.message!, /tokens, about \d+ (s|min)/);
  });

  it('a changed router: KL, agreement, perplexity and routing change equal a float64 recomputation', async () => {
    const r = await evaluateModels(base, rotated, chunks, { document: DOCUMENT });
    const want = await expected(base, rotated, chunks);
    assert.ok(r.meanKl > 1e-3, `meanKl ${r.meanKl}`);
    close(r.meanKl, want.meanKl, 1e-9, 'meanKl');
    assert.equal(r.top1Agreement, want.agreement);
    assert.ok(r.top1Agreement < 1, 'some top-1 predictions change');
    close(r.baseline.perplexity, want.pplA, 1e-12, 'baseline perplexity');
    close(r.candidate.perplexity, want.pplB, 1e-12, 'candidate perplexity');
    assert.notEqual(r.baseline.perplexity, r.candidate.perplexity);
    assert.equal(r.candidate.dir, rotated.info.path);

    const d = r.document!;
    const shares = await expectedRoutingChange(base, rotated, doc, new Map());
    assert.deepEqual(d.routingChanged, [...shares].map(([layer, share]) => ({ layer, share })));
    assert.ok(d.routingChanged.every((l) => l.share > 0), JSON.stringify(d.routingChanged));
    const ra = await base.forward(doc, { routing: false, hidden: false, logits: true });
    const rb = await rotated.forward(doc, { routing: false, hidden: false, logits: true });
    const V = base.config.vocabSize;
    let changed = 0;
    doc.forEach((_, t) => {
      const a = argmax(ra.logits!.data.subarray(t * V, (t + 1) * V));
      const b = argmax(rb.logits!.data.subarray(t * V, (t + 1) * V));
      if (a !== b) changed++;
      assert.equal(d.perToken[t]!.before, base.tokenizer.tokenText(a));
      assert.equal(d.perToken[t]!.after, rotated.tokenizer.tokenText(b));
    });
    assert.equal(d.changedPredictions, changed);
    assert.ok(d.perToken.some((t) => t.kl > 0));
  });

  it('honours the expert map: layer 0 routing maps back to the same experts, and a map on an identical model reports changes', async () => {
    const map = new Map([[0, ROTATION]]);
    const r = await evaluateModels(base, rotated, chunks, { document: DOCUMENT, expertMap: map });
    const want = await expectedRoutingChange(base, rotated, doc, map);
    assert.equal(want.get(0), 0, 'layer 0 sees the same input, so in old ids its routing is unchanged');
    assert.deepEqual(r.document!.routingChanged, [...want].map(([layer, share]) => ({ layer, share })));
    assert.ok(r.document!.routingChanged[1]!.share > 0);

    const s = await evaluateModels(base, same, chunks, { document: DOCUMENT, expertMap: map });
    const wantSame = await expectedRoutingChange(base, same, doc, map);
    assert.ok(wantSame.get(0)! > 0);
    assert.deepEqual(s.document!.routingChanged, [{ layer: 0, share: wantSame.get(0)! }, { layer: 1, share: 0 }]);

    await expectError(evaluateModels(base, same, chunks, { document: DOCUMENT, expertMap: new Map([[1, [0, 1, 2]]]) }), 'E_INPUT', /expertMap for layer 1/);
  });

  it('caps perToken at maxDocumentTokens; an empty document is left out', async () => {
    const r = await evaluateModels(base, rotated, chunks.slice(0, 1), { document: DOCUMENT, maxDocumentTokens: 5 });
    assert.equal(r.document!.tokens, doc.length);
    assert.deepEqual(r.document!.perToken.map((t) => t.index), [0, 1, 2, 3, 4]);
    const e = await evaluateModels(base, rotated, chunks.slice(0, 1), { document: '' });
    assert.equal(e.document, undefined);
  });

  it('cancels: an aborted signal before the start, or an abort after the first chunk', async () => {
    await expectError(evaluateModels(base, same, chunks, { signal: AbortSignal.abort() }), 'E_CANCELLED', /cancelled/);
    const ac = new AbortController();
    const seen: number[] = [];
    const run = evaluateModels(base, same, chunks, {
      signal: ac.signal,
      onProgress: (p) => {
        seen.push(p.done);
        if (p.done > 0) ac.abort();
      },
    });
    await expectError(run, 'E_CANCELLED');
    assert.deepEqual(seen, [0, chunks[0]!.length]);
  });

  it('refuses no data, and models with different vocabularies (naming both folders)', async () => {
    await expectError(evaluateModels(base, same, []), 'E_INPUT', /no evaluation data/);
    await expectError(evaluateModels(base, same, [[1], []]), 'E_INPUT', /fewer than 2 tokens/);
    const mixtral = await MoeEngine.load(fixture('mixtral'));
    const llama = await MoeEngine.load(fixture('llama'));
    try {
      assert.notEqual(mixtral.config.vocabSize, llama.config.vocabSize);
      await assert.rejects(evaluateModels(mixtral, llama, chunks), (e: unknown) => {
        assert.ok(e instanceof MoeError && e.code === 'E_INPUT', String(e));
        assert.ok(e.message.includes(mixtral.info.path) && e.message.includes(llama.info.path), e.message);
        return true;
      });
    } finally {
      await mixtral.dispose();
      await llama.dispose();
    }
  });
});
