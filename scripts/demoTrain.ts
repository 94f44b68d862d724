// npm run demo:train — trains the demo model from scratch with the product's own trainer (issue #12):
// a byte-level BPE tokenizer learnt on the corpus of `npm run demo:corpus`, a randomly initialised Mixtral-layout
// MoE (HF's init: normal(0, 0.02), norms 1), then `moe-workbench finetune --train all` with the load-balancing
// loss. Seeded: the same corpus gives the same model. The run's state is saved under .cache/demo-train/, so an
// interrupted run (Ctrl-C once stops after the step in progress) resumes where it stopped when started again.
// Then writes media/demo-model/ (BF16 weights, tokenizer, config) and `npm run demo:report` measures it.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildByteLevelTokenizer } from '../src/devtools/byteLevelTokenizer';
import { writeRandomCheckpoint } from '../src/devtools/randomCheckpoint';
import { DEMO_SHAPE, DEMO_TOKENIZER, DEMO_TRAINING, demoFinetuneArgs } from './demo/demoRecipe';

const root = path.resolve(__dirname, '..');
const corpus = path.join(root, '.cache', 'demo-corpus');
const work = path.join(root, '.cache', 'demo-train');
const modelDir = path.join(root, 'media', 'demo-model');
const SHIPPED = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'moe_workbench.json'];

/** The tokenizer: byte-level BPE learnt on the training split (all domains, in the corpus's shuffled order). */
export function trainDemoTokenizer(trainJsonl: string): object {
  const text = fs
    .readFileSync(trainJsonl, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { text: string }).text)
    .join('');
  return buildByteLevelTokenizer(text, DEMO_TOKENIZER.vocabSize - 256 - DEMO_TOKENIZER.specialTokens.length, { specialTokens: DEMO_TOKENIZER.specialTokens });
}

/** The shipped record names the initialisation and the corpus by repository-relative paths, not this machine's. */
export function repoRelativeRecord(file: string): void {
  const rel = (p: unknown): unknown => (typeof p === 'string' && path.isAbsolute(p) ? path.relative(root, p) : p);
  const r = JSON.parse(fs.readFileSync(file, 'utf8')) as { source?: { dir?: string }; training?: { base?: { dir?: string }; data?: { files?: string[] } } };
  if (r.source) r.source.dir = rel(r.source.dir) as string;
  if (r.training?.base) r.training.base.dir = rel(r.training.base.dir) as string;
  if (r.training?.data?.files) r.training.data.files = r.training.data.files.map((f) => rel(f) as string);
  fs.writeFileSync(file, JSON.stringify(r, null, 2) + '\n');
}

async function main(): Promise<void> {
  const trainFile = path.join(corpus, 'train.jsonl');
  if (!fs.existsSync(trainFile)) throw new Error(`${trainFile} is missing: run npm run demo:corpus first`);
  if (!fs.existsSync(path.join(root, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run npm run build first');
  const steps = Number(process.env.DEMO_STEPS ?? DEMO_TRAINING.steps);
  fs.mkdirSync(work, { recursive: true });
  const init = path.join(work, 'init');
  if (!fs.existsSync(path.join(init, 'config.json'))) {
    const t0 = Date.now();
    const tokenizerJson = trainDemoTokenizer(trainFile);
    console.log(`tokenizer: ${DEMO_TOKENIZER.vocabSize} tokens learnt in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    fs.rmSync(`${init}.partial`, { recursive: true, force: true });
    await writeRandomCheckpoint(`${init}.partial`, { ...DEMO_SHAPE, tokenizerCorpus: '', merges: 0, tokenizerJson });
    fs.renameSync(`${init}.partial`, init);
  }
  const out = path.join(work, 'trained');
  fs.rmSync(out, { recursive: true, force: true });
  const state = path.join(work, `state-${steps}.bin`);
  const args = [path.join(root, 'dist', 'cli.js'), ...demoFinetuneArgs({ model: init, data: trainFile, out, evalData: path.join(modelDir, 'heldout'), steps }), '--state', state];
  console.log(`training: ${steps} steps of ${DEMO_TRAINING.batchTokens} tokens (log: ${path.relative(root, path.join(work, 'train.log'))})`);
  // A resumed run continues the log of the run it resumes; a new one starts it afresh.
  const log = fs.createWriteStream(path.join(work, 'train.log'), { flags: fs.existsSync(state) ? 'a' : 'w' });
  let stoppedAt: number | undefined;
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let buffer = '';
    child.stdout.on('data', (chunk: Buffer) => {
      log.write(chunk);
      buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          const r = JSON.parse(line) as { step?: number; loss?: number; evalLoss?: number; tokensPerSecond?: number; summary?: { stoppedAt?: number } };
          if (r.summary?.stoppedAt !== undefined) stoppedAt = r.summary.stoppedAt;
          if (r.step !== undefined) process.stdout.write(`\rstep ${r.step}/${steps} loss ${r.loss?.toFixed(3)}${r.evalLoss === undefined ? '' : ` held-out ${r.evalLoss.toFixed(3)}`} ${r.tokensPerSecond?.toFixed(0)} tok/s   ${r.evalLoss === undefined ? '' : '\n'}`);
        } catch {
          /* the summary or a plain line */
        }
      }
    });
    // Ctrl-C reaches the CLI too (same process group): its first Stop writes the model trained so far.
    process.on('SIGINT', () => undefined);
    child.on('close', (c) => resolve(c ?? 1));
  });
  log.end();
  if (code !== 0) throw new Error(`finetune exited with ${code}; see ${path.join(work, 'train.log')}`);
  if (stoppedAt !== undefined) {
    console.log(`\nstopped after step ${stoppedAt}: media/demo-model is unchanged; npm run demo:train again resumes the run from .cache/demo-train/`);
    return;
  }
  fs.rmSync(state, { force: true }); // finished: the next demo:train starts afresh
  fs.mkdirSync(modelDir, { recursive: true });
  for (const f of SHIPPED) if (fs.existsSync(path.join(out, f))) fs.copyFileSync(path.join(out, f), path.join(modelDir, f));
  repoRelativeRecord(path.join(modelDir, 'moe_workbench.json'));
  fs.rmSync(path.join(modelDir, 'moe_workbench_demo.json'), { force: true });
  console.log(`\nwrote ${path.relative(root, modelDir)}/ — now npm run demo:report`);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
