// Issue #8 §4.7: a failed load must not cost the model that was working; and the engine bounds what it tokenises.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type { RequestContext } from '../../src/engine/engineService';
import { MAX_TOKENIZE_CHARS, MoeEngineService } from '../../src/engine/moeEngineService';
import { MoeError } from '../../src/protocol/moeError';
import { fixture } from '../support/paths';
import { copyFixture, editJson, removeTempModels } from '../support/tempModel';

const ctx = (): RequestContext => ({ signal: new AbortController().signal, progress: () => undefined, pause: async () => undefined });

describe('switching models in the engine', () => {
  const service = new MoeEngineService();
  after(async () => {
    await service.dispose();
    removeTempModels();
  });

  it('keeps the loaded model when the new folder is refused before any weight is read', async () => {
    await service.handle('load', { modelDir: fixture('mixtral') }, ctx());
    const bad = copyFixture('olmoe');
    editJson(path.join(bad, 'config.json'), (c) => void (c.num_hidden_layers = 'four'));
    await assert.rejects(service.handle('load', { modelDir: bad }, ctx()), (e: unknown) => e instanceof MoeError && /num_hidden_layers/.test(e.message));
    assert.equal((await service.handle('inspect', {}, ctx())).modelType, 'mixtral');
    await assert.rejects(service.handle('load', { modelDir: path.join(bad, 'missing') }, ctx()), (e: unknown) => e instanceof MoeError && e.code === 'E_MODEL_DIR');
    const { tokens } = await service.handle('forward', { input: { text: 'still here' }, capture: { routing: true, hidden: false, logits: false } }, ctx());
    assert.ok(tokens.length > 0);
  });

  it('loads the previous model again when the new one fails while loading, and says so', async () => {
    await service.handle('load', { modelDir: fixture('qwen3_moe') }, ctx());
    const noTokenizer = copyFixture('mixtral');
    fs.rmSync(path.join(noTokenizer, 'tokenizer.json'));
    await assert.rejects(service.handle('load', { modelDir: noTokenizer }, ctx()), (e: unknown) => e instanceof MoeError && /tokenizer/.test(e.message) && e.message.includes(`${fixture('qwen3_moe')} is loaded again`));
    const info = await service.handle('inspect', {}, ctx());
    assert.equal(info.modelType, 'qwen3_moe');
  });

  it('refuses to tokenise a text past its character bound, naming both numbers, and keeps serving', async () => {
    const huge = 'x'.repeat(MAX_TOKENIZE_CHARS + 1);
    await assert.rejects(service.handle('tokenize', { text: huge }, ctx()), (e: unknown) => e instanceof MoeError && e.code === 'E_INPUT' && e.message.includes('4,000,001 characters') && e.message.includes('at most 4,000,000'));
    assert.ok((await service.handle('tokenize', { text: 'fine' }, ctx())).length > 0);
  });
});
