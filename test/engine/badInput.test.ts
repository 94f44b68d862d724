// Bad input gets a clear error that names the file and the problem (issue #2, section 8).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { MoeEngine } from '../../src/engine/moeEngine';
import { MoeError, type MoeErrorCode } from '../../src/protocol/moeError';
import { copyFixture, editJson, removeTempModels } from '../support/tempModel';

async function expectLoadError(dir: string, code: MoeErrorCode, file: string, message: RegExp): Promise<void> {
  await assert.rejects(MoeEngine.load(dir), (e: unknown) => {
    assert.ok(e instanceof MoeError, `not a MoeError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.file, file);
    assert.match(e.message, message);
    assert.ok(e.message.includes(path.basename(file)), `message names the file: ${e.message}`);
    return true;
  });
}

/** The header length and JSON of a safetensors file. */
function header(file: string): { n: number; json: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> } {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  return { n, json: JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) };
}

/** Rewrites the header of a safetensors file (data offsets are relative to the data section, so they keep). */
function patchHeader(file: string, edit: (h: ReturnType<typeof header>['json']) => void): void {
  const buf = fs.readFileSync(file);
  const { n, json } = header(file);
  edit(json);
  let text = JSON.stringify(json);
  text = text.padEnd(Math.ceil(text.length / 8) * 8, ' ');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(text.length), 0);
  fs.writeFileSync(file, Buffer.concat([len, Buffer.from(text, 'utf8'), buf.subarray(8 + n)]));
}

describe('bad input: clear errors naming the file', () => {
  after(removeTempModels);

  it('missing model folder', async () => {
    await expectLoadError('/nonexistent/model-dir', 'E_MODEL_DIR', '/nonexistent/model-dir', /model folder not found/);
  });

  it('missing config.json', async () => {
    const dir = copyFixture('olmoe');
    fs.rmSync(path.join(dir, 'config.json'));
    await expectLoadError(dir, 'E_CONFIG', path.join(dir, 'config.json'), /config\.json not found/);
  });

  it('config.json that is not JSON', async () => {
    const dir = copyFixture('olmoe');
    fs.writeFileSync(path.join(dir, 'config.json'), '{"model_type": "olmoe",');
    await expectLoadError(dir, 'E_CONFIG', path.join(dir, 'config.json'), /not valid JSON/);
  });

  it('unknown model_type', async () => {
    const dir = copyFixture('olmoe');
    editJson(path.join(dir, 'config.json'), (c) => (c['model_type'] = 'deepseek_v9'));
    await expectLoadError(dir, 'E_UNSUPPORTED', path.join(dir, 'config.json'), /model_type "deepseek_v9" is not supported\. Supported: mixtral, qwen2_moe/);
  });

  it('a config key that would change the numbers is refused (rope_scaling yarn)', async () => {
    const dir = copyFixture('qwen3_moe');
    editJson(path.join(dir, 'config.json'), (c) => (c['rope_scaling'] = { rope_type: 'yarn', factor: 4 }));
    await expectLoadError(dir, 'E_UNSUPPORTED', path.join(dir, 'config.json'), /rope_scaling type "yarn" is not supported/);
  });

  it('Qwen sliding window on is refused', async () => {
    const dir = copyFixture('qwen2_moe');
    editJson(path.join(dir, 'config.json'), (c) => (c['use_sliding_window'] = true));
    await expectLoadError(dir, 'E_UNSUPPORTED', path.join(dir, 'config.json'), /use_sliding_window/);
  });

  it('truncated safetensors', async () => {
    const dir = copyFixture('olmoe');
    const f = path.join(dir, 'model.safetensors');
    fs.truncateSync(f, fs.statSync(f).size - 1000);
    await expectLoadError(dir, 'E_SAFETENSORS', f, /truncated/);
  });

  it('header longer than the file', async () => {
    const dir = copyFixture('olmoe');
    const f = path.join(dir, 'model.safetensors');
    const buf = fs.readFileSync(f);
    buf.writeBigUInt64LE(BigInt(buf.length + 10), 0);
    fs.writeFileSync(f, buf);
    await expectLoadError(dir, 'E_SAFETENSORS', f, /header length \d+ exceeds the file size/);
  });

  it('overlapping offsets', async () => {
    const dir = copyFixture('olmoe');
    const f = path.join(dir, 'model.safetensors');
    patchHeader(f, (h) => {
      const names = Object.keys(h).filter((k) => k !== '__metadata__');
      const a = h[names[0]!]!;
      const b = h[names[1]!]!;
      const len = b.data_offsets[1] - b.data_offsets[0];
      b.data_offsets = [a.data_offsets[0], a.data_offsets[0] + len];
      if (a.data_offsets[1] - a.data_offsets[0] < len) a.data_offsets = [a.data_offsets[0], a.data_offsets[0] + len];
      b.dtype = a.dtype;
    });
    await assert.rejects(MoeEngine.load(dir), (e: MoeError) => e.code === 'E_SAFETENSORS' && e.file === f && /overlap/.test(e.message));
  });

  it('offsets out of range', async () => {
    const dir = copyFixture('mixtral');
    const f = path.join(dir, 'model-00002-of-00002.safetensors');
    const size = fs.statSync(f).size;
    patchHeader(f, (h) => {
      const name = Object.keys(h).find((k) => k !== '__metadata__')!;
      const t = h[name]!;
      const len = t.data_offsets[1] - t.data_offsets[0];
      t.data_offsets = [size * 4, size * 4 + len];
    });
    await expectLoadError(dir, 'E_SAFETENSORS', f, /truncated|out of range|beyond/);
  });

  it('dtype not supported', async () => {
    const dir = copyFixture('qwen3');
    const f = path.join(dir, 'model.safetensors');
    patchHeader(f, (h) => {
      const t = h['model.norm.weight']!;
      t.dtype = 'I32'; // same element size as F32: only the dtype is wrong
    });
    await expectLoadError(dir, 'E_SAFETENSORS', f, /"model\.norm\.weight" has dtype I32, which is not supported/);
  });

  it('tensor missing', async () => {
    const dir = copyFixture('qwen3');
    const f = path.join(dir, 'model.safetensors');
    patchHeader(f, (h) => {
      h['model.layers.1.mlp.uX_proj.weight'] = h['model.layers.1.mlp.up_proj.weight']!;
      delete h['model.layers.1.mlp.up_proj.weight'];
    });
    await expectLoadError(dir, 'E_WEIGHTS', dir, /tensor "model\.layers\.1\.mlp\.up_proj\.weight" \(shape \[\d+, \d+\]\) is missing/);
  });

  it('tensor of the wrong shape names the tensor and both shapes', async () => {
    const dir = copyFixture('qwen3');
    editJson(path.join(dir, 'config.json'), (c) => (c['intermediate_size'] = 96));
    await expectLoadError(dir, 'E_WEIGHTS', path.join(dir, 'model.safetensors'), /tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[\d+, \d+\] but config\.json implies \[96, \d+\]/);
  });

  it('shard index pointing at a missing file', async () => {
    const dir = copyFixture('mixtral');
    fs.rmSync(path.join(dir, 'model-00002-of-00002.safetensors'));
    await expectLoadError(dir, 'E_WEIGHTS', path.join(dir, 'model.safetensors.index.json'), /is in shard model-00002-of-00002\.safetensors, but .* does not exist/);
  });

  it('shard index with a path outside the folder is refused', async () => {
    const dir = copyFixture('mixtral');
    editJson(path.join(dir, 'model.safetensors.index.json'), (ix) => {
      const map = ix['weight_map'] as Record<string, string>;
      map['model.norm.weight'] = '../../etc/passwd';
    });
    await expectLoadError(dir, 'E_WEIGHTS', path.join(dir, 'model.safetensors.index.json'), /not a file name in the model folder/);
  });

  it('no weights at all', async () => {
    const dir = copyFixture('olmoe');
    fs.rmSync(path.join(dir, 'model.safetensors'));
    await expectLoadError(dir, 'E_WEIGHTS', path.join(dir, 'model.safetensors'), /no weights/);
  });

  it('tokenizer missing', async () => {
    const dir = copyFixture('olmoe');
    fs.rmSync(path.join(dir, 'tokenizer.json'));
    await expectLoadError(dir, 'E_TOKENIZER', path.join(dir, 'tokenizer.json'), /not found/);
  });

  it('tokenizer unreadable', async () => {
    const dir = copyFixture('olmoe');
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), '{"model": ');
    await expectLoadError(dir, 'E_TOKENIZER', path.join(dir, 'tokenizer.json'), /JSON/);
  });

  it('prompt longer than the context is refused, not chunked', async () => {
    const dir = copyFixture('olmoe');
    editJson(path.join(dir, 'config.json'), (c) => (c['max_position_embeddings'] = 16));
    const engine = await MoeEngine.load(dir);
    try {
      await assert.rejects(engine.forward(Array.from({ length: 17 }, (_, i) => i + 1), { routing: true, hidden: false, logits: false }), (e: MoeError) => {
        assert.equal(e.code, 'E_INPUT');
        assert.match(e.message, /17 tokens, more than the model's context of 16 \(max_position_embeddings in config\.json\)\. Prompts are not chunked/);
        return true;
      });
      const ok = await engine.forward(Array.from({ length: 16 }, (_, i) => i + 1), { routing: true, hidden: false, logits: false });
      assert.equal(ok.logprobs.length, 15);
    } finally {
      await engine.dispose();
    }
  });

  it('token ids outside the vocabulary and empty prompts', async () => {
    const engine = await MoeEngine.load(copyFixture('olmoe'));
    try {
      await assert.rejects(engine.forward([1, 99999], { routing: false, hidden: false, logits: false }), /token id 99999 at position 1 is outside the vocabulary/);
      await assert.rejects(engine.forward([], { routing: false, hidden: false, logits: false }), /empty/);
    } finally {
      await engine.dispose();
    }
  });
});
