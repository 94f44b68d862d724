// `prune --dry-run` on a model whose weights hold NaN (issue #8): the profile is written (NaN statistics as
// null), read back by `--profile`, and planning refuses it with the layer and expert instead of printing a
// plan that prunes by position. Through the built dist/cli.js and the real engine process.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, type CliResult } from '../support/runCli';
import { copyFixture, removeTempModels } from '../support/tempModel';

let tmp: string;

const cli = (...args: string[]): Promise<CliResult> => runCli(args, { XDG_CACHE_HOME: path.join(tmp, 'cache') });

/** A copy of qwen3_moe with every weight of every expert of decoder layer 1 set to NaN (bf16 0x7fc0). */
function nanModel(): string {
  const model = copyFixture('qwen3_moe');
  const file = path.join(model, 'model.safetensors');
  const bytes = fs.readFileSync(file);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  for (const [name, t] of Object.entries(header)) {
    if (!name.startsWith('model.layers.1.mlp.experts.')) continue;
    for (let o = 8 + n + t.data_offsets[0]; o < 8 + n + t.data_offsets[1]; o += 2) bytes.writeUInt16LE(0x7fc0, o);
  }
  fs.writeFileSync(file, bytes);
  return model;
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-nan-cli-'));
  fs.writeFileSync(path.join(tmp, 'data.txt'), 'Experts route tokens. def f(x):\n    return x * 2  # code\nLes experts aiment le café.\n');
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  removeTempModels();
});

describe('NaN statistics from the command line', () => {
  it('profile writes them, prune --dry-run --profile refuses them naming layer 1 and the expert', async () => {
    const model = nanModel();
    const profile = path.join(tmp, 'nan-profile.json');
    const p = await cli('profile', '--model', model, '--data', path.join(tmp, 'data.txt'), '--chunk', '16', '--out', profile);
    assert.equal(p.code, 0, p.stderr);
    const stored = JSON.parse(fs.readFileSync(profile, 'utf8'));
    assert.ok((stored.layers[1].reapSum as unknown[]).includes(null), 'NaN REAP sums are stored as null');

    const dry = await cli('prune', '--model', model, '--profile', profile, '--method', 'reap', '--keep', '4', '--dry-run');
    assert.notEqual(dry.code, 0, dry.stdout);
    assert.match(dry.stderr, /layer 1, expert \d+: the REAP score is NaN, not a finite number/);
    assert.doesNotMatch(dry.stdout, /layer 1: /, 'no plan printed');

    // Frequency does not use the output norms: the same profile still plans.
    const freq = await cli('prune', '--model', model, '--profile', profile, '--method', 'frequency', '--keep', '4', '--dry-run');
    assert.equal(freq.code, 0, freq.stderr);
  });
});
