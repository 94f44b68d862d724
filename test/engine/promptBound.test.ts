// A prompt longer than a forward pass takes is refused before it is tokenised whole (issue #8: a 41 MB prompt
// was tokenised for 70 s and 6.1 GB before the context check). Through the real engine service.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { MoeEngine } from '../../src/engine/moeEngine';
import { MoeEngineService } from '../../src/engine/moeEngineService';
import { MoeError } from '../../src/protocol/moeError';
import { repoRoot } from '../support/paths';
import { copyFixture, editJson, removeTempModels } from '../support/tempModel';

const demoModel = path.join(repoRoot, 'media', 'demo-model');
const ctx = { signal: new AbortController().signal, progress: (): void => {}, pause: async (): Promise<void> => {} };

describe('prompt bound: refuse before tokenising a prompt that cannot fit', () => {
  after(removeTempModels);

  it('a 40 MB prompt sent to the engine service is refused with the numbers', async () => {
    const service = new MoeEngineService();
    try {
      await service.handle('load', { modelDir: demoModel }, ctx);
      const text = 'The router sends each token to two experts. '.repeat(1_000_000);
      await assert.rejects(service.handle('forward', { input: { text }, capture: { routing: true, hidden: false, logits: false } }, ctx), (e: unknown) => {
        assert.ok(e instanceof MoeError, String(e));
        assert.equal(e.code, 'E_INPUT');
        const context = (JSON.parse(fs.readFileSync(path.join(demoModel, 'config.json'), 'utf8')) as { max_position_embeddings: number }).max_position_embeddings;
        assert.match(e.message, new RegExp(`the prompt \\(${text.length} characters\\) is longer than the model's context of ${context} tokens \\(max_position_embeddings in config\\.json\\): its first ${context} tokens cover only \\d+ characters`));
        return true;
      });
      // The engine still answers an ordinary prompt afterwards.
      const ok = await service.handle('forward', { input: { text: 'a short prompt' }, capture: { routing: true, hidden: false, logits: false } }, ctx);
      assert.ok(ok.tokens.length > 0);
    } finally {
      await service.dispose();
    }
  });

  it('only a prefix of a long prompt is tokenised, and the bound is exact at the context length', async () => {
    const dir = copyFixture('mixtral');
    editJson(path.join(dir, 'config.json'), (c) => (c['max_position_embeddings'] = 64));
    const engine = await MoeEngine.load(dir);
    try {
      const long = 'x = 1; '.repeat(2_000_000);
      const before = engine.tokenizer.charactersTokenized;
      assert.throws(() => engine.encodePrompt(long), /longer than the model's context of 64 tokens/);
      assert.ok(engine.tokenizer.charactersTokenized - before < 100_000, `${engine.tokenizer.charactersTokenized - before} of ${long.length} characters tokenised`);
      // Every cut around the limit: accepted with exactly encode()'s tokens iff it has at most 64.
      const text = 'héllo wörld, the experts 🙂 agree. '.repeat(4);
      for (let n = 40; n <= text.length; n++) {
        const prompt = text.slice(0, n);
        const full = engine.tokenizer.encode(prompt);
        if (full.length <= 64) assert.deepEqual(engine.encodePrompt(prompt), full, `${n} characters`);
        else assert.throws(() => engine.encodePrompt(prompt), /longer than the model's context of 64 tokens/, `${n} characters`);
      }
    } finally {
      await engine.dispose();
    }
  });
});
