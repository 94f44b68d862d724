// npm run bench:finetune, also the last section of npm run bench (issue #10 §7). Two figures:
//  1. training tokens/s of full optimizer steps on the benchmark model, every routed expert trainable,
//     T = 512 tokens per step: the product's path (FinetuneRun → ExpertTrainer.trainStep: layer-by-layer
//     forward and backward, gradient accumulation, global-norm clipping, AdamW) next to PyTorch (HF's eager
//     MoE dispatch + autograd + clip_grad_norm_ + torch.optim.AdamW, scripts/bench/torchTrainStep.py) on the
//     same weights and token ids, runs interleaved; the loss, gradient norm and updated weights after the
//     first step are compared, so that both sides do the same computation. Then where our step's time goes.
//  2. the peak resident memory of an ESFT run (`moe-workbench finetune`, dist/cli.js, in a child process)
//     next to the size of the weights on disk and the share of the parameters that trains.
// Prints; asserts nothing.
//   node --import tsx scripts/benchFinetune.ts [--reps 3] [--no-torch] [--no-profile] [--no-steps] [--no-esft]
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { expertFc1SliceName, expertFc2SliceName } from '../src/engine/graph/trainableMoeBlock';
import { clipScale } from '../src/engine/finetune/gradientClip';
import { FinetuneRun, type RunSettings } from '../src/engine/finetune/finetuneRun';
import { ADAMW_DEFAULTS, Optimizer } from '../src/engine/finetune/optimizer';
import { routingOf } from '../src/engine/model/modelConfig';
import { MoeEngine } from '../src/engine/moeEngine';
import { defaultActivationBytes, trainableGraphWeights } from '../src/engine/training/computeGradients';
import { hfGradients } from '../src/engine/training/hfGradients';
import { layerwiseGradients } from '../src/engine/training/layerwiseGradients';
import { resolveTrainSpecs } from '../src/engine/training/trainSpec';
import { lowestTrainableLayer } from '../src/engine/training/trainableSet';
import { startTorch, type TorchServer } from './bench/torchServer';
import { benchModelDir } from './benchModel';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const T = 512;
const REPS = Math.max(3, Number(arg('--reps') ?? 3));
const LR = 1e-4;
const WEIGHT_DECAY = 0.1;
const CLIP = 1.0;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
const tokS = (ms: number): string => `${((T / ms) * 1000).toFixed(0)} tok/s`;
const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);

interface Compared {
  readonly tensors: number;
  readonly entries: number;
  /** max |W_ours − W_torch| after the step, in units of the learning rate */
  readonly maxDiffLr: number;
  /** entries whose updates differ by more than 1% of the learning rate */
  readonly over1pct: number;
}

/**
 * Our updated experts of the first and last layer against PyTorch's. The masters hold fc1 [2I, H] with gate
 * (w1) and up (w3) rows interleaved and fc2 = w2 [H, I]; torch's w1/w3/w2 are dumped to a file and read back.
 */
async function compareWeights(run: FinetuneRun, torch: TorchServer, layers: readonly number[], E: number, I: number, H: number): Promise<Compared> {
  const names: string[] = [];
  for (const L of layers) for (let e = 0; e < E; e++) for (const w of ['w1', 'w3', 'w2']) names.push(`model.layers.${L}.block_sparse_moe.experts.${e}.${w}.weight`);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'moe-bench-ft-')), 'torch.f32');
  try {
    await torch({ cmd: 'dump', names, file });
    const buf = fs.readFileSync(file);
    const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    let at = 0;
    let maxDiff = 0;
    let over = 0;
    const masters = run.current.masters;
    for (const L of layers) {
      for (let e = 0; e < E; e++) {
        const fc1 = masters.get(expertFc1SliceName(L, e))!.data;
        const fc2 = masters.get(expertFc2SliceName(L, e))!.data;
        const check = (ours: (k: number) => number, n: number): void => {
          for (let k = 0; k < n; k++) {
            const d = Math.abs(ours(k) - all[at + k]!);
            if (d > maxDiff) maxDiff = d;
            if (d > 0.01 * LR) over++;
          }
          at += n;
        };
        // w1 row i = fc1 row 2i, w3 row i = fc1 row 2i + 1.
        check((k) => fc1[2 * Math.floor(k / H) * H + (k % H)]!, I * H);
        check((k) => fc1[(2 * Math.floor(k / H) + 1) * H + (k % H)]!, I * H);
        check((k) => fc2[k]!, H * I);
      }
    }
    return { tensors: names.length, entries: at, maxDiffLr: maxDiff / LR, over1pct: over };
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
}

/** Where one of our steps spends its time, from the same pieces the trainer runs (timed one by one). */
async function profileStep(engine: MoeEngine, run: FinetuneRun, ids: number[], stepMs: number): Promise<string[]> {
  const c = engine.config;
  const trainable = resolveTrainSpecs(['experts'], c);
  const names = trainableGraphWeights(trainable);
  const marks: [string, number][] = [];
  const acc = new Map<string, Float32Array>();
  let accMs = 0;
  const t0 = performance.now();
  await layerwiseGradients(engine, {
    ids,
    lossMask: new Float32Array(T - 1).fill(1),
    auxCoef: 0,
    zCoef: 0,
    wrt: new Set(names),
    lowest: lowestTrainableLayer(trainable, c.numLayers),
    activationBytes: defaultActivationBytes(engine, T),
    overrides: run.current.masters,
    step: (what) => marks.push([what, performance.now()]),
    // The trainer's accumulation, timed apart from the VJPs: one sequence per step, its gradient is taken as is.
    done: async (grads) => {
      const a0 = performance.now();
      for (const [name, g] of grads) acc.set(name, g);
      accMs += performance.now() - a0;
    },
  });
  const lwMs = performance.now() - t0;
  let prev = t0;
  let fwd = 0;
  let bwd = 0;
  let head = 0;
  let recomputed = 0;
  for (const [what, at] of marks) {
    if (/^layer \d+ forward/.test(what)) fwd += at - prev;
    else if (/^layer \d+ backward/.test(what)) bwd += at - prev;
    else head += at - prev;
    if (what.includes('recomputed')) recomputed++;
    prev = at;
  }
  const grads = names.map((n) => acc.get(n) ?? new Float32Array(run.current.masters.get(n)!.data.length));
  const n0 = performance.now();
  const clip = clipScale(grads, CLIP); // the norm; the trainer applies the scale inside the AdamW pass
  const normMs = performance.now() - n0;
  // AdamW on copies of layer 0's experts (the second apply: the first allocates the moments), scaled to all layers.
  const layer0 = names.filter((n) => n.startsWith('model.layers.0.'));
  const copies = layer0.map((n) => ({ name: n, param: run.current.masters.get(n)!.data.slice(), grad: acc.get(n)!, weightDecay: WEIGHT_DECAY }));
  const opt = new Optimizer('adamw', ADAMW_DEFAULTS);
  opt.apply(copies, LR, clip.scale);
  const o0 = performance.now();
  opt.apply(copies, LR, clip.scale);
  const optMs = ((performance.now() - o0) * names.length) / layer0.length;
  const h0 = performance.now();
  hfGradients(c, trainable, (g) => run.current.masters.get(g)!.data);
  const hfMs = performance.now() - h0;
  const pct = (ms: number): string => `${ms.toFixed(0)} ms (${((100 * ms) / stepMs).toFixed(0)}%)`;
  const other = stepMs - lwMs - normMs - optMs;
  return [
    `  our step (${stepMs.toFixed(0)} ms median) split, from its pieces timed one by one in a further step:`,
    `    layerwiseGradients ${lwMs.toFixed(0)} ms: ${c.numLayers} layer forwards ${pct(fwd)}, head (loss + VJP) ${pct(head)}, ${c.numLayers} layer VJPs ${pct(bwd - accMs)}${recomputed ? ` (${recomputed} recomputed their forward)` : ''}, gradient accumulation in JS ${pct(accMs)}`,
    `    global-norm clipping ${pct(normMs)} (norm ${clip.norm.toFixed(3)}${clip.scale < 1 ? `, every entry scaled by ${clip.scale.toFixed(3)} inside the AdamW pass` : ', not clipped'}); AdamW update of ${names.length} tensors ${pct(optMs)} (timed on layer 0's, scaled by ${names.length / layer0.length}); ${other >= 0 ? `rest (checks, batch, bookkeeping) ${pct(other)}` : `(the pieces sum to ${(stepMs - other).toFixed(0)} ms, more than the median step: timing noise)`}`,
    `    not in the step: hfGradients (the masters to HF tensors, row copies) ${hfMs.toFixed(0)} ms, once when the run writes its output`,
  ];
}

/** Figure 1: our optimizer steps against PyTorch's on the same weights and ids, interleaved. */
async function trainingThroughput(withTorch: boolean, profile: boolean): Promise<void> {
  const torch = withTorch ? await startTorch(benchModelDir) : undefined;
  const engine = await MoeEngine.load(benchModelDir);
  const c = engine.config;
  const ids = Array.from({ length: T }, (_, i) => (i * 7919 + 13) % c.vocabSize);
  const trainable = resolveTrainSpecs(['experts'], c);
  const settings: RunSettings = {
    trainable,
    optimizer: 'adamw',
    adam: { beta1: 0.9, beta2: 0.95, eps: 1e-8 },
    weightDecay: WEIGHT_DECAY,
    gradClip: CLIP,
    auxLossCoef: 0,
    schedule: { kind: 'constant', lr: LR, warmup: 0, totalSteps: 2 + REPS },
    batchTokens: T,
    seed: 0,
    evalEvery: 0,
  };
  const run = await FinetuneRun.create(engine, settings, [{ ids }], []);
  const E = routingOf(c)?.numExperts ?? 0;
  const I = run.current.masters.get(expertFc2SliceName(0, 0))?.dims[1] ?? 0;
  const trainedParams = trainableGraphWeights(trainable).reduce((n, w) => n + run.current.masters.get(w)!.data.length, 0);
  console.log(`\nfine-tuning step, T = ${T} tokens, all ${trainedParams.toLocaleString('en-US')} routed-expert parameters trainable (${c.numLayers} layers x ${E} experts), AdamW lr ${LR} betas 0.9/0.95 eps 1e-8 weight decay ${WEIGHT_DECAY}, clip ${CLIP}`);
  console.log(`machine: load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} at start; both sides 2 threads; runs interleaved ours / PyTorch`);
  if (torch) await torch({ cmd: 'adamw', lr: LR, betas: [0.9, 0.95], eps: 1e-8, weight_decay: WEIGHT_DECAY, clip: CLIP });

  // Step 1 (warm-up: sessions, arenas, moments allocated) is also the check that both compute the same.
  const ours: number[] = [];
  /** Our process's CPU time per step (all its threads): less exposed to other load than the wall time. */
  const oursCpu: number[] = [];
  const theirs: Record<string, number>[] = [];
  const timeOurs = async (): Promise<Awaited<ReturnType<FinetuneRun['runStep']>>> => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await run.runStep();
    ours.push(performance.now() - t0);
    const cpu = process.cpuUsage(c0);
    oursCpu.push((cpu.user + cpu.system) / 1000);
    return r;
  };
  const s1 = await timeOurs();
  const t1 = torch ? await torch({ cmd: 'train', T }) : undefined;
  console.log(`step 1 (warm-up): ours ${ours[0]!.toFixed(0)} ms${t1 ? `, torch ${t1['ms']!.toFixed(0)} ms` : ''}`);
  if (t1) {
    console.log(`  loss before the update: ours ${s1.lmLoss.toFixed(6)} torch ${t1['loss']!.toFixed(6)} (rel. diff ${rel(s1.lmLoss, t1['loss']!).toExponential(1)}); global gradient norm ours ${s1.gradNorm.toExponential(4)} torch ${t1['grad_norm']!.toExponential(4)} (rel. diff ${rel(s1.gradNorm, t1['grad_norm']!).toExponential(1)})`);
    const cmp = await compareWeights(run, torch!, [0, c.numLayers - 1], E, I, c.hiddenSize);
    console.log(`  updated weights, layers 0 and ${c.numLayers - 1} (${cmp.tensors} tensors, ${cmp.entries.toLocaleString('en-US')} entries): max |ours - torch| = ${cmp.maxDiffLr.toExponential(2)} x lr; ${cmp.over1pct} entries (${((100 * cmp.over1pct) / cmp.entries).toExponential(1)}%) differ by more than 1% of lr (AdamW's first update is ~lr·sign(g): entries whose gradient is ~0 are where rounding shows)`);
  }
  ours.length = 0;
  oursCpu.length = 0;
  let step2Loss: [number, number] | undefined;
  for (let r = 0; r < REPS + 1; r++) {
    const s = await timeOurs();
    if (torch) theirs.push(await torch({ cmd: 'train', T }));
    if (r === 0 && torch) step2Loss = [s.lmLoss, theirs[0]!['loss']!];
    console.log(`step ${r + 2}${r === 0 ? ' (second warm-up)' : ''}: ours ${ours.at(-1)!.toFixed(0)} ms, loss ${s.lmLoss.toFixed(6)}${torch ? `; torch ${theirs.at(-1)!['ms']!.toFixed(0)} ms, loss ${theirs.at(-1)!['loss']!.toFixed(6)}` : ''}`);
  }
  if (step2Loss) console.log(`  loss after one update (step 2): rel. diff ${rel(step2Loss[0], step2Loss[1]).toExponential(1)}`);
  // Step 2 still grows arenas on both sides; the figures are the median of the steps after it.
  const om = median(ours.slice(1));
  const tm = (k: string): number => median(theirs.slice(1).map((x) => x[k]!));
  console.log(`\n  ours  ${om.toFixed(0)} ms/step = ${tokS(om)} (median of ${REPS} steps; CPU time of our process, all threads, ${median(oursCpu.slice(1)).toFixed(0)} ms/step; load average now ${os.loadavg()[0].toFixed(1)})`);
  if (torch) {
    console.log(`  torch ${tm('ms').toFixed(0)} ms/step = ${tokS(tm('ms'))} (forward ${tm('forward_ms').toFixed(0)} | backward ${tm('backward_ms').toFixed(0)} | clip ${tm('clip_ms').toFixed(0)} | AdamW ${tm('optimizer_ms').toFixed(0)} ms)`);
    console.log(`  ratio ${(tm('ms') / om).toFixed(2)}x (goal >= 1.5x); fastest steps, less exposed to other load: ours ${Math.min(...ours.slice(1)).toFixed(0)} ms, torch ${Math.min(...theirs.slice(1).map((x) => x['ms']!)).toFixed(0)} ms = ${(Math.min(...theirs.slice(1).map((x) => x['ms']!)) / Math.min(...ours.slice(1))).toFixed(2)}x`);
  } else {
    console.log('  torch - (skipped)');
  }
  torch?.close();
  if (profile) for (const line of await profileStep(engine, run, ids, om)) console.log(line);
  await engine.dispose();
}

interface Measured {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** /usr/bin/time -v's maximum RSS (kB: the largest process of the tree, here the engine), else the largest VmHWM polled */
  readonly peakKb: number;
  readonly how: string;
  /** Per phase, the largest resident set of the whole process tree seen by polling: anonymous and file-backed (kB). */
  readonly phases: Map<string, { anon: number; file: number; procs: number }>;
}

/**
 * Runs `node args` (under /usr/bin/time -v when present), polling the /proc status of its processes every
 * 100 ms for their anonymous and file-backed resident sets; `phaseOf(stdout lines so far)` names the phase.
 */
function runMeasured(args: string[], phaseOf: (lines: number) => string): Promise<Measured> {
  const timeBin = '/usr/bin/time';
  const useTime = fs.existsSync(timeBin);
  const child = useTime ? spawn(timeBin, ['-v', process.execPath, ...args]) : spawn(process.execPath, args);
  let stdout = '';
  let stderr = '';
  let hwm = 0;
  const phases = new Map<string, { anon: number; file: number; procs: number }>();
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  // The CLI forks its engine process: the tree under the spawned process is summed at each poll.
  const children = (pid: number): number[] => {
    try {
      return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  const tree = (pid: number): number[] => [pid, ...children(pid).flatMap(tree)];
  const poll = setInterval(() => {
    if (child.pid === undefined) return;
    let anon = 0;
    let file = 0;
    let procs = 0;
    for (const pid of useTime ? tree(child.pid).slice(1) : tree(child.pid)) {
      try {
        const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
        const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(st)?.[1] ?? 0);
        anon += kb('RssAnon');
        file += kb('RssFile');
        hwm = Math.max(hwm, kb('VmHWM'));
        procs++;
      } catch {
        // exited between the listing and the read
      }
    }
    if (procs === 0) return;
    const ph = phaseOf(stdout.split('\n').length - 1);
    const cur = phases.get(ph) ?? { anon: 0, file: 0, procs: 0 };
    if (anon + file > cur.anon + cur.file) phases.set(ph, { anon, file, procs });
  }, 100);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearInterval(poll);
      const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      resolve({ code: code ?? -1, stdout, stderr, peakKb: m ? Number(m[1]) : hwm, how: m ? '/usr/bin/time -v (maximum resident set size)' : 'VmHWM polled every 100 ms', phases });
    });
  });
}

/** A small generated text corpus: sentences from a fixed word list (a deterministic generator). */
function writeDataset(dir: string, bytes: number): void {
  const words = 'the expert router token layer gradient model weight loss data train step value sequence batch output input attention norm head matrix'.split(' ');
  let a = 12345;
  const next = (): number => (a = (Math.imul(a, 1103515245) + 12345) >>> 0) / 2 ** 32;
  let text = '';
  while (text.length < bytes) {
    const n = 5 + Math.floor(next() * 8);
    const s = Array.from({ length: n }, () => words[Math.floor(next() * words.length)]!).join(' ');
    text += s[0]!.toUpperCase() + s.slice(1) + '. ';
  }
  fs.writeFileSync(path.join(dir, 'corpus.txt'), text);
}

/** Figure 2: the peak resident memory of an ESFT run as a user runs it. */
async function esftMemory(): Promise<void> {
  const cli = path.join(__dirname, '..', 'dist', 'cli.js');
  console.log('\nESFT run: moe-workbench finetune (default ESFT-Token selection, p = 0.2), 4 steps of 512 tokens');
  if (!fs.existsSync(cli)) {
    console.log(`  skipped: ${cli} is missing (npm run build first)`);
    return;
  }
  const newestSrc = Math.max(...fs.readdirSync(path.join(__dirname, '..', 'src'), { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => fs.statSync(path.join(d.parentPath, d.name)).mtimeMs));
  if (fs.statSync(cli).mtimeMs < newestSrc) console.log('  note: dist/cli.js is older than the newest file in src/ (npm run build to measure the current sources)');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-bench-esft-'));
  try {
    const data = path.join(tmp, 'data');
    fs.mkdirSync(data);
    writeDataset(data, 12 * 1024);
    const steps = 4;
    const args = [cli, 'finetune', '--model', benchModelDir, '--data', data, '--out', path.join(tmp, 'out'), '--steps', String(steps), '--seq-len', '512', '--batch-tokens', '512', '--json'];
    const t0 = performance.now();
    // --json prints a line per step: before the first, the model loads, ESFT scores the data and step 1 runs.
    const r = await runMeasured(args, (lines) => (lines === 0 ? 'load, ESFT scoring, step 1' : lines < steps ? `steps 2-${steps}` : 'held-out comparison, checkpoint write'));
    const wall = (performance.now() - t0) / 1000;
    if (r.code !== 0) {
      console.log(`  the run failed (exit ${r.code}):\n${r.stderr.split('\n').filter((l) => !/^\s+\S.*: /.test(l) || /error/i.test(l)).slice(0, 20).join('\n')}`);
      return;
    }
    const summary = (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { summary: { trainableParameters: number; totalParameters: number; experts: [number, number[]][]; tokensPerSecond: number; steps: number; evalBefore?: number; evalAfter?: number } }).summary;
    const onDisk = fs.readdirSync(benchModelDir).filter((f) => f.endsWith('.safetensors')).reduce((n, f) => n + fs.statSync(path.join(benchModelDir, f)).size, 0);
    const dtype = (JSON.parse(fs.readFileSync(path.join(benchModelDir, 'config.json'), 'utf8')) as { torch_dtype?: string }).torch_dtype ?? '?';
    const peak = r.peakKb * 1024;
    const experts = summary.experts.reduce((n, [, es]) => n + es.length, 0);
    const share = (100 * summary.trainableParameters) / summary.totalParameters;
    const state = summary.trainableParameters * 16;
    console.log(`  peak RSS ${gib(peak)} for ${gib(onDisk)} of ${dtype} weights on disk = ${(peak / onDisk).toFixed(2)}x (ESFT-Token p=0.2: ${experts} experts in ${summary.experts.length} layers, ${summary.trainableParameters.toLocaleString('en-US')} of ${summary.totalParameters.toLocaleString('en-US')} parameters = ${share.toFixed(1)}% trainable; their float32 master, gradient and two AdamW moments = ${gib(state)})`);
    console.log(`  (${r.how}: the largest process of the run, the engine; the CLI host is a second process)`);
    console.log(`  largest resident set of both processes seen per phase (polled every 100 ms), anonymous + file-backed (mapped safetensors pages): ${[...r.phases].map(([ph, m]) => `${ph} ${gib(m.anon * 1024)} + ${gib(m.file * 1024)}`).join('; ')}`);
    console.log(`  the run: ${wall.toFixed(1)} s wall: ESFT scoring, ${summary.steps} steps at ${summary.tokensPerSecond.toFixed(0)} tok/s, held-out ${summary.evalBefore?.toFixed(4)} -> ${summary.evalAfter?.toFixed(4)}, checkpoint written`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  execFileSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'benchModel.ts')], { stdio: 'inherit' });
  if (!process.argv.includes('--no-steps')) await trainingThroughput(!process.argv.includes('--no-torch'), !process.argv.includes('--no-profile'));
  if (!process.argv.includes('--no-esft')) await esftMemory();
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
