// npm run demo:pilot — how the demo model's size was chosen (issue #12): short runs of each candidate shape
// with the demo recipe (same tokenizer, data, settings and held-out samples, fewer steps), compared by held-out
// loss at equal steps and by training speed. Writes media/demo-model/pilot.json, which `npm run demo:report`
// turns into TRAINING.md's "Choosing the size". A candidate whose log is already in .cache/demo-pilot/ is not
// run again (delete the log to rerun it); a log that ends early (a run stopped by hand) counts up to its last step.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeRandomCheckpoint } from '../src/devtools/randomCheckpoint';
import { DEMO_SHAPE, DEMO_TRAINING, demoFinetuneArgs } from './demo/demoRecipe';

const root = path.resolve(__dirname, '..');
const modelDir = path.join(root, 'media', 'demo-model');
const work = path.join(root, '.cache', 'demo-pilot');
const trainFile = path.join(root, '.cache', 'demo-corpus', 'train.jsonl');
export const PILOT_FILE = path.join(modelDir, 'pilot.json');
const PILOT_STEPS = Number(process.env.DEMO_PILOT_STEPS ?? 150);

export interface PilotCandidate {
  readonly name: string;
  readonly what: string;
  readonly numLayers: number;
  readonly numExperts: number;
  readonly intermediateSize: number;
  readonly topK: number;
}

/** A = the shipped shape; B about the same parameters and active size (its router is larger), fine-grained; C deeper with narrower experts. */
export const PILOT_CANDIDATES: readonly PilotCandidate[] = [
  { name: 'A', what: 'shipped: 4 layers, 16 experts × 128, top-2', numLayers: 4, numExperts: 16, intermediateSize: 128, topK: 2 },
  { name: 'B', what: 'fine-grained: 4 layers, 32 experts × 64, top-4', numLayers: 4, numExperts: 32, intermediateSize: 64, topK: 4 },
  { name: 'C', what: 'deeper: 6 layers, 16 experts × 96, top-2', numLayers: 6, numExperts: 16, intermediateSize: 96, topK: 2 },
];

export interface PilotResult extends PilotCandidate {
  readonly parameters: number;
  /** Parameters a token passes through (its top-k experts, not all of them). */
  readonly activeParameters: number;
  readonly steps: number;
  readonly tokensPerSecond: number;
  /** [step, held-out loss in nats/token on media/demo-model/heldout/]. */
  readonly evals: readonly (readonly [number, number])[];
}

export interface PilotRecord {
  readonly plannedSteps: number;
  readonly batchTokens: number;
  readonly candidates: readonly PilotResult[];
}

/** Parameter counts of a Mixtral of the demo's hidden size, heads and vocabulary with this candidate's MoE. */
export function pilotParameters(c: PilotCandidate): { parameters: number; activeParameters: number } {
  const s = DEMO_SHAPE;
  const h = s.hiddenSize;
  const kv = (h / s.numHeads) * s.numKvHeads;
  const attention = 2 * h * h + 2 * h * kv;
  const perLayer = (experts: number): number => attention + 2 * h + c.numExperts * h + experts * 3 * h * c.intermediateSize;
  const outer = 2 * s.vocabSize * h + h;
  return { parameters: outer + c.numLayers * perLayer(c.numExperts), activeParameters: outer + c.numLayers * perLayer(c.topK) };
}

/** Reads one candidate's `finetune --json` log: its steps, held-out evaluations and last tokens/s. */
export function readPilotLog(c: PilotCandidate, log: string): PilotResult {
  let steps = 0;
  let tokensPerSecond = 0;
  const evals: [number, number][] = [];
  for (const line of log.split('\n')) {
    let r: { step?: number; evalLoss?: number; tokensPerSecond?: number; summary?: { tokensPerSecond?: number } };
    try {
      r = JSON.parse(line) as typeof r;
    } catch {
      continue; // a plain line ("stopped by …")
    }
    if (r.step !== undefined) {
      steps = r.step;
      if (r.tokensPerSecond !== undefined) tokensPerSecond = r.tokensPerSecond;
      if (r.evalLoss !== undefined) evals.push([r.step, r.evalLoss]);
    } else if (r.summary?.tokensPerSecond !== undefined) tokensPerSecond = r.summary.tokensPerSecond;
  }
  return { ...c, ...pilotParameters(c), steps, tokensPerSecond, evals };
}

/** Runs one candidate into `logFile`; true when it was stopped by hand (Ctrl-C once) before its last step. */
async function runCandidate(c: PilotCandidate, logFile: string): Promise<boolean> {
  const init = path.join(work, c.name);
  fs.rmSync(init, { recursive: true, force: true });
  const tokenizerJson = JSON.parse(fs.readFileSync(path.join(modelDir, 'tokenizer.json'), 'utf8')) as object;
  await writeRandomCheckpoint(init, { ...DEMO_SHAPE, numLayers: c.numLayers, numExperts: c.numExperts, intermediateSize: c.intermediateSize, topK: c.topK, tokenizerCorpus: '', merges: 0, tokenizerJson });
  const out = path.join(work, `out${c.name}`);
  fs.rmSync(out, { recursive: true, force: true });
  const args = [path.join(root, 'dist', 'cli.js'), ...demoFinetuneArgs({ model: init, data: trainFile, out, evalData: path.join(modelDir, 'heldout'), steps: PILOT_STEPS })];
  const partial = `${logFile}.partial`;
  const log = fs.createWriteStream(partial);
  // Ctrl-C reaches the CLI too (same process group): its first Stop ends the run after the step in progress.
  const ignore = (): void => undefined;
  process.on('SIGINT', ignore);
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.pipe(log, { end: false });
    child.on('close', (k) => resolve(k ?? 1));
  });
  process.off('SIGINT', ignore);
  await new Promise((r) => log.end(r));
  fs.rmSync(out, { recursive: true, force: true });
  // A stopped run (Ctrl-C once) still counts up to its last step; a failed one leaves no log.
  if (code !== 0) {
    fs.rmSync(partial, { force: true });
    throw new Error(`candidate ${c.name}: finetune exited with ${code}`);
  }
  fs.renameSync(partial, logFile);
  return /"stoppedAt":\d+/.test(fs.readFileSync(logFile, 'utf8'));
}

async function main(): Promise<void> {
  if (!fs.existsSync(trainFile)) throw new Error(`${trainFile} is missing: run npm run demo:corpus first`);
  if (!fs.existsSync(path.join(root, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run npm run build first');
  fs.mkdirSync(work, { recursive: true });
  const results: PilotResult[] = [];
  for (const c of PILOT_CANDIDATES) {
    const logFile = path.join(work, `${c.name}.log`);
    if (fs.existsSync(logFile)) console.log(`${c.name} (${c.what}): reusing ${path.relative(root, logFile)} (delete it to run again)`);
    else {
      console.log(`${c.name} (${c.what}): ${PILOT_STEPS} steps…`);
      if (await runCandidate(c, logFile)) {
        console.log(`${c.name} stopped by hand: its log counts up to its last step; npm run demo:pilot again runs the candidates not yet run`);
        return;
      }
    }
    const r = readPilotLog(c, fs.readFileSync(logFile, 'utf8'));
    console.log(`  ${r.steps} steps, ${r.tokensPerSecond.toFixed(0)} tokens/s, last held-out ${r.evals.at(-1)?.[1].toFixed(3) ?? 'n/a'}`);
    results.push(r);
  }
  const record: PilotRecord = { plannedSteps: PILOT_STEPS, batchTokens: DEMO_TRAINING.batchTokens, candidates: results };
  fs.writeFileSync(PILOT_FILE, JSON.stringify(record, null, 2) + '\n');
  console.log(`wrote ${path.relative(root, PILOT_FILE)} — npm run demo:report puts it in TRAINING.md`);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
