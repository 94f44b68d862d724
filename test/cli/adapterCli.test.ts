// `moe-workbench apply-adapter`: the built CLI as a user runs it.
// Run: npm run build && node --import tsx --test test/cli/adapterCli.test.ts
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { writeExpertAdapter } from '../../src/engine/finetune/expertAdapter';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { fixture } from '../support/paths';
import { cli } from '../support/runCli';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-adapter-cli-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

describe('apply-adapter', () => {
  test('writes the full checkpoint; another base, a missing flag or an existing output are refused, nothing written', async () => {
    const name = 'model.layers.0.mlp.experts.3.up_proj.weight';
    const c = openCheckpoint(fixture('qwen3_moe'));
    const v = Float32Array.from(c.tensors.get(name)!.file.readF32(name), (x) => -x);
    c.close();
    const adapter = path.join(root, 'adapter');
    await writeExpertAdapter(fixture('qwen3_moe'), new Map([[name, () => v]]), adapter);
    const out = path.join(root, 'out');
    const ok = await cli('apply-adapter', '--model', fixture('qwen3_moe'), '--adapter', adapter, '--out', out);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`wrote ${out.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(\\d+ files, \\d+ bytes\\)`));
    const got = openCheckpoint(out);
    try {
      assert.deepEqual(Array.from(got.tensors.get(name)!.file.readF32(name)), Array.from(v));
    } finally {
      got.close();
    }
    const again = await cli('apply-adapter', '--model', fixture('qwen3_moe'), '--adapter', adapter, '--out', out);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /error: .*out/);
    const other = path.join(root, 'other');
    const wrong = await cli('apply-adapter', '--model', fixture('olmoe'), '--adapter', adapter, '--out', other);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /was made for qwen3_moe .*apply it to its own base model/);
    assert.equal(fs.existsSync(other), false);
    const usage = await cli('apply-adapter', '--model', fixture('olmoe'), '--out', other);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--adapter DIR is required/);
  });
});
