// `moe-workbench gradients` as a user runs it (the built dist/cli.js in a child process) on the 7 fixture
// families: the file holds exactly the trainable Hub tensors (expected sets derived here from the checkpoints'
// own tensor names, not from the engine's spec code), the scalars, Granite's fused tensors with frozen
// experts zero, the values agree with central differences of an independent float64 forward
// (referenceForward.ts) tensor by tensor, and every bad input is refused with its value named and no file.
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { writeRandomCheckpoint } from '../../src/devtools/randomCheckpoint';
import { loadModelConfig } from '../../src/engine/model/parseConfig';
import { isStagingName, STAGING_MARKER } from '../../src/engine/surgery/staleStaging';
import { openSafetensors, type SafetensorsFile } from '../../src/engine/model/safetensors';
import { cli } from '../support/runCli';
import { cliBundle, fixture, fixtureNames } from '../support/paths';
import { centralDifference, checkpointWeights, float64Losses } from '../support/float32CentralDifference';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-cli-gradients-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => fs.mkdtempSync(path.join(tmp, `r${n++}-`));

interface Prompt {
  input_ids: number[];
  loss: number;
  aux_loss?: number;
  topk_idx: Record<string, number[][]>;
}
const prompt0 = (name: string): Prompt => (JSON.parse(fs.readFileSync(path.join(fixture(name), 'expected.json'), 'utf8')) as { prompts: Prompt[] }).prompts[0]!;
const MOE = ['mixtral', 'qwen2_moe', 'qwen3_moe', 'olmoe', 'granitemoe'] as const;

/** The checkpoint's own tensors: name → shape. */
function checkpointShapes(name: string): Map<string, readonly number[]> {
  const dir = fixture(name);
  const out = new Map<string, readonly number[]>();
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.safetensors') && x !== 'expected.safetensors')) {
    const st = openSafetensors(path.join(dir, f));
    for (const [k, t] of st.tensors) out.set(k, t.shape);
    st.close();
  }
  return out;
}

const isRoutedExpert = (t: string): boolean => /\.experts\.\d+\./.test(t) || /\.(input_linear|output_linear)\.weight$/.test(t);
const isRouter = (t: string): boolean => /\.(mlp\.gate|block_sparse_moe\.gate|block_sparse_moe\.router\.layer)\.weight$/.test(t);
const isShared = (t: string): boolean => /\.mlp\.shared_expert(_gate)?\./.test(t);
const ofExpert = (L: number, E: number) => (t: string) => t.startsWith(`model.layers.${L}.`) && (t.includes(`.experts.${E}.`) || /\.(input_linear|output_linear)\.weight$/.test(t));

/** Runs gradients; on success opens the file (closed by the caller through `using`-like try/finally). */
async function gradients(name: string, extra: string[], ids = prompt0(name).input_ids): Promise<{ out: string; stdout: string; file: SafetensorsFile }> {
  const out = path.join(freshDir(), 'g.safetensors');
  const r = await cli('gradients', '--model', fixture(name), '--ids', ids.join(','), ...extra, '--out', out);
  assert.equal(r.code, 0, `${name} ${extra.join(' ')}: ${r.stderr}`);
  return { out, stdout: r.stdout, file: openSafetensors(out) };
}

function assertTensorSet(name: string, f: SafetensorsFile, want: (t: string) => boolean, label: string): void {
  const shapes = checkpointShapes(name);
  const expected = [...shapes.keys()].filter(want).sort();
  assert.ok(expected.length > 0, `${name} ${label}: the expected set is empty`);
  assert.deepEqual([...f.tensors.keys()].filter((k) => k !== 'loss' && k !== 'aux_loss').sort(), expected, `${name} ${label}`);
  for (const t of expected) {
    assert.equal(f.tensors.get(t)!.dtype, 'F32', t);
    assert.deepEqual(f.tensors.get(t)!.shape, shapes.get(t), t);
  }
  for (const s of ['loss', 'aux_loss']) {
    assert.equal(f.tensors.get(s)?.dtype, 'F32', `${name} ${label}: scalar ${s}`);
    assert.deepEqual(f.tensors.get(s)!.shape, []);
  }
}

describe('moe-workbench gradients: the file', () => {
  for (const name of MOE) {
    it(`${name}: the default (experts), routers ∪ experts=L:E, and all, each exactly its tensors`, async () => {
      const cfg = loadModelConfig(fixture(name));
      const def = await gradients(name, []);
      try {
        assertTensorSet(name, def.file, isRoutedExpert, 'default');
        assert.match(def.stdout, /^loss\s+\d+\.\d+$/m);
        assert.match(def.stdout, new RegExp(`^tensors\\s+${def.file.tensors.size - 2} gradients`, 'm'));
        assert.ok(def.stdout.includes(def.out));
        // Without --aux-loss-coef the loss is the LM loss, the reference's.
        assert.ok(Math.abs(def.file.readF32('loss')[0]! - prompt0(name).loss) < 1e-4);
        assert.ok(Math.abs(def.file.readF32('aux_loss')[0]! - prompt0(name).aux_loss!) < 1e-4, 'aux_loss is HF load_balancing_loss_func');
        const { lmLoss, ...about } = JSON.parse(def.file.metadata['moe_workbench']!) as { lmLoss: number };
        assert.deepEqual(about, { model: fixture(name), train: ['experts'], auxLossCoef: 0, tokens: prompt0(name).input_ids.length });
        assert.ok(Math.abs(lmLoss - prompt0(name).loss) < 1e-4);
      } finally {
        def.file.close();
      }
      const last = cfg.numLayers - 1;
      const sub = await gradients(name, ['--train', 'routers', '--train', `experts=0:1,${last}:3,0:1`]);
      try {
        assertTensorSet(name, sub.file, (t) => isRouter(t) || ofExpert(0, 1)(t) || ofExpert(last, 3)(t), 'routers + experts=…');
      } finally {
        sub.file.close();
      }
      const all = await gradients(name, ['--train', 'all']);
      try {
        assertTensorSet(name, all.file, () => true, 'all');
      } finally {
        all.file.close();
      }
    });
  }

  it('qwen2_moe shared-experts: the shared experts and their sigmoid gates', async () => {
    const r = await gradients('qwen2_moe', ['--train', 'shared-experts']);
    try {
      assertTensorSet('qwen2_moe', r.file, isShared, 'shared-experts');
      assert.equal(r.file.tensors.size - 2, 3 * 4);
    } finally {
      r.file.close();
    }
  });

  for (const name of ['llama', 'qwen3']) {
    it(`${name} (dense) --train all: every tensor, aux_loss 0`, async () => {
      const r = await gradients(name, ['--train', 'all', '--aux-loss-coef', '0.5']);
      try {
        assertTensorSet(name, r.file, () => true, 'all');
        assert.equal(r.file.readF32('aux_loss')[0], 0);
        assert.ok(Math.abs(r.file.readF32('loss')[0]! - prompt0(name).loss) < 1e-3);
      } finally {
        r.file.close();
      }
    });
  }

  it('--text and --file give what --ids of the same tokens gives (byte-level fixture tokenizer)', async () => {
    const text = 'Experts, routed.';
    const ids = [...Buffer.from(text, 'utf8')];
    const file = path.join(freshDir(), 'p.txt');
    fs.writeFileSync(file, text);
    const byIds = await gradients('olmoe', ['--train', 'routers'], ids);
    const outs = [];
    for (const input of [['--text', text], ['--file', file]]) {
      const out = path.join(freshDir(), 'g.safetensors');
      const r = await cli('gradients', '--model', fixture('olmoe'), ...input, '--train', 'routers', '--out', out);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^tokens\\s+${ids.length}$`, 'm'));
      outs.push(openSafetensors(out));
    }
    try {
      for (const f of outs) for (const t of byIds.file.tensors.keys()) assert.deepEqual(f.readF32(t), byIds.file.readF32(t), t);
    } finally {
      byIds.file.close();
      for (const f of outs) f.close();
    }
  });

  it('granitemoe: fused input_linear/output_linear whole, zero for frozen experts, the trainable ones as under --train all', async () => {
    // Two experts that tokens of the prompt are routed to in layer 1, so their gradients are not zero.
    const routed = [...new Set(prompt0('granitemoe').topk_idx['1']!.flat())].sort((a, b) => a - b).slice(0, 2);
    const sub = await gradients('granitemoe', ['--train', `experts=${routed.map((e) => `1:${e}`).join(',')}`]);
    const all = await gradients('granitemoe', ['--train', 'all']);
    try {
      assertTensorSet('granitemoe', sub.file, (t) => /^model\.layers\.1\..*(input|output)_linear/.test(t), 'experts=1:…');
      for (const t of sub.file.tensors.keys()) {
        if (t === 'loss' || t === 'aux_loss') continue;
        const got = sub.file.readF32(t);
        const ref = all.file.readF32(t);
        const per = got.length / 6;
        for (let e = 0; e < 6; e++) {
          const slice = got.subarray(e * per, (e + 1) * per);
          if (!routed.includes(e)) {
            assert.ok(slice.every((x) => x === 0), `${t}: frozen expert ${e} has non-zero rows`);
            continue;
          }
          const want = ref.subarray(e * per, (e + 1) * per);
          const scale = Math.max(...want.map(Math.abs));
          assert.ok(scale > 0, `${t}: expert ${e} is routed, its gradient cannot be all zero`);
          for (let i = 0; i < per; i++) assert.ok(Math.abs(slice[i]! - want[i]!) <= 1e-4 * scale, `${t} expert ${e} [${i}]: ${slice[i]} vs ${want[i]} under --train all`);
        }
      }
    } finally {
      sub.file.close();
      all.file.close();
    }
  });
});

describe('moe-workbench gradients: the values agree with float64 central differences', () => {
  for (const name of fixtureNames) {
    it(`${name}: every tensor of --train all, along a random direction`, async () => {
      const cfg = loadModelConfig(fixture(name));
      const ids = prompt0(name).input_ids;
      const coef = cfg.layers.some((l) => l.kind === 'moe') ? 0.05 : 0;
      const r = await gradients(name, ['--train', 'all', '--aux-loss-coef', String(coef)]);
      try {
        const weights = checkpointWeights(fixture(name));
        const ref = float64Losses(cfg, weights, ids, coef);
        assert.ok(Math.abs(r.file.readF32('loss')[0]! - ref.loss) < 2e-4, `loss ${r.file.readF32('loss')[0]} vs float64 ${ref.loss}`);
        assert.ok(Math.abs(r.file.readF32('aux_loss')[0]! - ref.auxLoss) < 2e-4, `aux_loss ${r.file.readF32('aux_loss')[0]} vs float64 ${ref.auxLoss}`);
        let seed = 1;
        for (const t of [...r.file.tensors.keys()].filter((k) => k !== 'loss' && k !== 'aux_loss')) {
          const d = centralDifference(cfg, weights, ids, coef, t, r.file.readF32(t), seed++);
          assert.ok(Math.abs(d.engine - d.reference) <= 1e-4 * d.scale + 1e-12, `${name} ${t}: engine ${d.engine} vs float64 ${d.reference} (scale ${d.scale})`);
        }
      } finally {
        r.file.close();
      }
    });
  }
});

describe('moe-workbench gradients: bad input', () => {
  /** Runs the CLI with --out in a fresh folder; the folder must stay as it was. */
  async function refused(name: string, args: string[], code: number, message: RegExp, out = 'g.safetensors'): Promise<void> {
    const dir = freshDir();
    fs.writeFileSync(path.join(dir, 'keep.safetensors'), 'old');
    const r = await cli('gradients', '--model', fixture(name), ...args, '--out', path.join(dir, out));
    assert.equal(r.code, code, `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.deepEqual(fs.readdirSync(dir), ['keep.safetensors'], `${args.join(' ')}: something was written`);
    assert.equal(fs.readFileSync(path.join(dir, 'keep.safetensors'), 'utf8'), 'old');
  }

  it('--train naming a layer or an expert that does not exist, or a dense layer', async () => {
    await refused('mixtral', ['--ids', '1,2,3', '--train', 'experts=0:1,2:0'], 1, /error: --train experts=0:1,2:0: layer 2 does not exist \(the model has 2 decoder layers, 0\.\.1; MoE layers: 0, 1\)/);
    await refused('granitemoe', ['--ids', '1,2,3', '--train', 'experts=1:6'], 1, /error: --train experts=1:6: expert 6 does not exist in layer 1 \(it has 6 routed experts, 0\.\.5\)/);
    await refused('llama', ['--ids', '1,2,3', '--train', 'experts=0:0'], 1, /error: --train experts=0:0: layer 0 is a dense layer and has no routed experts \(it has no MoE layers\)/);
  });

  it('experts or routers of a dense model, shared experts of a model without any', async () => {
    await refused('llama', ['--ids', '1,2,3'], 1, /--train experts \(the default\): this model \(LlamaForCausalLM\) has no MoE layers.*use --train all/);
    await refused('qwen3', ['--ids', '1,2,3', '--train', 'all', '--train', 'routers'], 1, /--train routers: this model \(Qwen3ForCausalLM\) has no MoE layers/);
    await refused('olmoe', ['--ids', '1,2,3', '--train', 'shared-experts'], 1, /--train shared-experts: this model \(OlmoeForCausalLM\) has no shared experts/);
  });

  it('--ids outside the vocabulary, malformed, or fewer than 2 tokens', async () => {
    await refused('mixtral', ['--ids', '1,2,384'], 1, /error: token id 384 \(position 2\) is outside the vocabulary of 384 tokens \(ids 0\.\.383\)/);
    await refused('mixtral', ['--ids', '1,x'], 2, /--ids must be comma-separated non-negative integers, got "1,x"/);
    await refused('mixtral', ['--ids', '7'], 1, /error: the prompt has 1 token; a next-token loss needs at least 2/);
    await refused('olmoe', ['--text', 'a'], 1, /the prompt has 1 token; a next-token loss needs at least 2/);
    await refused('olmoe', ['--text', 'ab', '--ids', '1,2'], 2, /give exactly one of --text, --file, --ids/);
  });

  it('malformed --train and --aux-loss-coef: usage errors before the model loads', async () => {
    await refused('mixtral', ['--ids', '1,2', '--train', 'expert'], 2, /--train "expert": unknown; the forms are all, experts, experts=L:E/);
    await refused('mixtral', ['--ids', '1,2', '--train', 'experts=0:1,1'], 2, /--train "experts=0:1,1": "1" is not L:E/);
    await refused('mixtral', ['--ids', '1,2', '--train', 'experts='], 2, /--train "experts=": an empty item/);
    for (const x of ['abc', '-1', 'inf', '1e999', '0x10', '']) {
      await refused('mixtral', ['--ids', '1,2', `--aux-loss-coef=${x}`], 2, new RegExp(`--aux-loss-coef "${x}": not a finite non-negative number`));
    }
  });

  it('--out: not .safetensors, a folder, a folder that does not exist, a path through a file, missing', async () => {
    await refused('mixtral', ['--ids', '1,2'], 2, /--out .*g\.bin: the gradients file must end in \.safetensors/, 'g.bin');
    await refused('mixtral', ['--ids', '1,2'], 1, /error: cannot write .*nope\/g\.safetensors: the folder .*nope does not exist/, 'nope/g.safetensors');
    await refused('mixtral', ['--ids', '1,2'], 1, /error: cannot write .*keep\.safetensors\/g\.safetensors: the folder .*keep\.safetensors cannot be written to/, 'keep.safetensors/g.safetensors');
    const dir = freshDir();
    fs.mkdirSync(path.join(dir, 'd.safetensors'));
    const r = await cli('gradients', '--model', fixture('mixtral'), '--ids', '1,2', '--out', path.join(dir, 'd.safetensors'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /d\.safetensors is a folder; --out names the \.safetensors file to write/);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'd.safetensors')), []);
    const none = await cli('gradients', '--model', fixture('mixtral'), '--ids', '1,2');
    assert.equal(none.code, 2);
    assert.match(none.stderr, /--out FILE\.safetensors is required/);
  });
});

describe('moe-workbench gradients: interrupted', () => {
  it('Ctrl-C while the file is being written: exits 130 and leaves nothing', { timeout: 300_000 }, async () => {
    // 8 experts x 2 layers x 3 x 256 x 4096 float32: --train all writes ~200 MB, long enough to be caught.
    const model = path.join(freshDir(), 'model');
    await writeRandomCheckpoint(model, { hiddenSize: 256, numLayers: 2, numHeads: 4, numKvHeads: 4, numExperts: 8, topK: 2, intermediateSize: 4096, vocabSize: 512, contextLength: 256, seed: 9, tokenizerCorpus: '', merges: 0, plantedRouting: false });
    const parent = freshDir();
    const child = spawn(process.execPath, [cliBundle, 'gradients', '--model', model, '--ids', '1,2,3,4,5,6,7,8', '--train', 'all', '--out', path.join(parent, 'g.safetensors')], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let done = false;
    void exited.then(() => (done = true));
    // As soon as the staging folder has its marker, hold the CLI's process group (SIGSTOP) so the write
    // cannot finish first, send the terminal's SIGINT to the group, and let it run again.
    for (;;) {
      const staging = fs.readdirSync(parent).find((f) => isStagingName(f) && fs.existsSync(path.join(parent, f, STAGING_MARKER)));
      if (staging) break;
      if (done) assert.fail(`the CLI exited before its staging folder appeared: ${stderr}`);
      await new Promise((r) => setTimeout(r, 1));
    }
    process.kill(-child.pid!, 'SIGSTOP');
    process.kill(-child.pid!, 'SIGINT');
    process.kill(-child.pid!, 'SIGCONT');
    assert.equal(await exited, 130, stderr);
    assert.deepEqual(fs.readdirSync(parent), [], 'no staging folder, no gradients file');
  });
});
