// Issue #9 §3: prefill on fine-grained MoE shapes (OLMoE, Qwen3-30B-A3B, Qwen1.5-MoE; 2 decoder layers each,
// vocab 8000, BF16 random weights), with and without routing capture, as effective GFLOP/s of the active
// parameters next to the MatMul peak measured in the same run, and against PyTorch eager with Hugging Face's
// per-expert dispatch on the same weights. Prints; asserts nothing. Run alone: node --import tsx scripts/benchFineGrained.ts [--threads N]
// Each shape's engine and PyTorch runs are child processes, so one shape's float32 weights (up to 4.8 GB)
// are freed before the next is loaded.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadModelConfig } from '../src/engine/model/parseConfig';
import type { ModelConfig } from '../src/engine/model/modelConfig';
import { MoeEngine } from '../src/engine/moeEngine';
import { ensureFineGrainedCheckpoint, fineGrainedShapes } from './bench/fineGrainedCheckpoints';
import { matmulPeak } from './bench/matmulPeak';

const SHORT = 128;
const LONG = 1024;
const REPS = 4;
/** Engine and PyTorch children alternate this many times per shape; each figure is the best over all rounds. */
const ROUNDS = 2;
const PYTHON = '/usr/bin/python3';
const tokenIds = (T: number, V: number): number[] => Array.from({ length: T }, (_, i) => (i * 7919 + 13) % V);

interface EngineTimes {
  /** best ms per `${T}/${routing ? 'routing' : 'fast'}` */
  readonly best: Record<string, number>;
  readonly lastLayerTopk: number[][];
}

/** Parameters a token multiplies through (2 FLOP each): attention projections, router, its k experts, shared expert, lm_head. */
export function activeMatmulParams(c: ModelConfig): number {
  const H = c.hiddenSize;
  const attn = H * c.headDim * (2 * c.numHeads + 2 * c.numKvHeads);
  let n = c.vocabSize * H;
  for (const l of c.layers) {
    n += attn;
    if (l.kind === 'dense') n += 3 * H * l.intermediateSize;
    else n += l.routing.numExperts * H + l.routing.topK * 3 * H * l.intermediateSize + (l.shared ? 3 * H * l.shared.intermediateSize + (l.shared.sigmoidGate ? H : 0) : 0);
  }
  return n;
}

/** Child process: times the engine on one checkpoint and prints EngineTimes as JSON. */
async function engineChild(dir: string, threads: number): Promise<void> {
  const engine = await MoeEngine.load(dir, { threads });
  const V = engine.config.vocabSize;
  const cases = [SHORT, LONG].flatMap((T) => [false, true].map((routing) => ({ key: `${T}/${routing ? 'routing' : 'fast'}`, run: () => engine.forward(tokenIds(T, V), { routing, hidden: false, logits: false }) })));
  const first = await cases[1]!.run(); // SHORT with routing: also the warm-up of that session
  for (const c of cases) await c.run();
  const best: Record<string, number> = {};
  for (let r = 0; r < REPS; r++) {
    // Forward and reversed order in turn, so neither mode always runs right after the other.
    for (const c of r % 2 === 0 ? cases : [...cases].reverse()) {
      const t0 = performance.now();
      await c.run();
      best[c.key] = Math.min(best[c.key] ?? Infinity, performance.now() - t0);
    }
  }
  const last = first.routing.at(-1)!;
  const K = last.experts.cols;
  const lastLayerTopk = Array.from({ length: last.experts.rows }, (_, t) => Array.from(last.experts.data.subarray(t * K, (t + 1) * K)));
  await engine.dispose();
  process.stdout.write(JSON.stringify({ best, lastLayerTopk } satisfies EngineTimes) + '\n');
}

interface TorchTimes {
  readonly torch: string;
  readonly threads: number;
  readonly best_ms: Record<string, number>;
  readonly last_layer_topk: number[][];
}

function torchAvailable(): string | null {
  if (!fs.existsSync(PYTHON)) return `${PYTHON} not found`;
  const r = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
  return r.status === 0 ? null : `${PYTHON} cannot import torch/numpy (apt-get install python3-torch libopenblas0-pthread): ${r.stderr.trim().split('\n').at(-1)}`;
}

function runTorch(dir: string, threads: number): TorchTimes {
  const script = path.join(__dirname, 'bench', 'hfEagerMoe.py');
  const out = execFileSync(PYTHON, [script, dir, '--tokens', `${SHORT},${LONG}`, '--reps', String(REPS), '--threads', String(threads)], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out) as TorchTimes;
}

function runEngine(dir: string, threads: number): EngineTimes {
  const out = execFileSync(process.execPath, ['--import', 'tsx', __filename, '--engine-child', dir, '--threads', String(threads)], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out) as EngineTimes;
}

const bestOf = (xs: readonly Record<string, number>[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const x of xs) for (const [k, v] of Object.entries(x)) out[k] = Math.min(out[k] ?? Infinity, v);
  return out;
};

const marginalTokS = (short: number, long: number): number => ((LONG - SHORT) / (long - short)) * 1000;

interface ShapeResult {
  readonly name: string;
  readonly layers: number;
  readonly flopPerToken: number;
  readonly engine: EngineTimes;
  readonly torch?: TorchTimes;
}

/** Engine and (when available) PyTorch times of one shape, children alternating ROUNDS times, best of all. */
async function measureShape(shape: (typeof fineGrainedShapes)[number], threads: number, withTorch: boolean, log: (s: string) => void): Promise<ShapeResult> {
  const dir = await ensureFineGrainedCheckpoint(shape, log);
  const c = loadModelConfig(dir);
  const engineRuns: EngineTimes[] = [];
  const torchRuns: TorchTimes[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    log(`${shape.name}: engine, round ${r + 1}/${ROUNDS}...`);
    engineRuns.push(runEngine(dir, threads));
    if (!withTorch) continue;
    log(`${shape.name}: PyTorch, round ${r + 1}/${ROUNDS}...`);
    torchRuns.push(runTorch(dir, threads));
  }
  const engine: EngineTimes = { best: bestOf(engineRuns.map((x) => x.best)), lastLayerTopk: engineRuns[0]!.lastLayerTopk };
  const torch = withTorch ? { ...torchRuns[0]!, best_ms: bestOf(torchRuns.map((x) => x.best_ms)) } : undefined;
  return { name: shape.name, layers: c.layers.length, flopPerToken: 2 * activeMatmulParams(c), engine, ...(torch ? { torch } : {}) };
}

function shapeRows(s: ShapeResult, peakGflops: number): [string, string][] {
  const e = s.engine.best;
  const figure = (mode: 'fast' | 'routing'): { tokS: number; gflops: number } => {
    const tokS = marginalTokS(e[`${SHORT}/${mode}`]!, e[`${LONG}/${mode}`]!);
    return { tokS, gflops: (tokS * s.flopPerToken) / 1e9 };
  };
  const fast = figure('fast');
  const routed = figure('routing');
  const pct = (g: number): string => `${((100 * g) / peakGflops).toFixed(0)}% of peak`;
  const rows: [string, string][] = [
    [`${s.name}: active params/token`, `${(s.flopPerToken / 2e6).toFixed(1)}M (matmul; ${s.layers} layers)`],
    [`${s.name}: engine, fast path`, `${fast.tokS.toFixed(0)} tok/s (marginal ${LONG} vs ${SHORT}) = ${fast.gflops.toFixed(0)} GFLOP/s = ${pct(fast.gflops)}; whole ${LONG}-token prefill ${e[`${LONG}/fast`]!.toFixed(0)} ms`],
    [`${s.name}: engine, routing captured`, `${routed.tokS.toFixed(0)} tok/s = ${routed.gflops.toFixed(0)} GFLOP/s = ${pct(routed.gflops)}; whole ${LONG}-token prefill ${e[`${LONG}/routing`]!.toFixed(0)} ms`],
  ];
  const t = s.torch;
  if (t) {
    const tTokS = marginalTokS(t.best_ms[String(SHORT)]!, t.best_ms[String(LONG)]!);
    const same = t.last_layer_topk.filter((row, i) => row.join(',') === s.engine.lastLayerTopk[i]?.join(',')).length;
    rows.push([
      `${s.name}: PyTorch ${t.torch} eager, HF dispatch`,
      `${tTokS.toFixed(0)} tok/s (${t.threads} threads; whole ${LONG} tokens ${t.best_ms[String(LONG)]!.toFixed(0)} ms) -> engine ${(fast.tokS / tTokS).toFixed(1)}x fast, ${(routed.tokS / tTokS).toFixed(1)}x with routing; last layer's top-k identical for ${same}/${t.last_layer_topk.length} tokens`,
    ]);
  }
  return rows;
}

/** The §3 figures. The MatMul peak is measured before and after the shapes (best of both), so drift in load shows in neither alone. */
export async function fineGrainedRows(log: (s: string) => void = (s) => console.error(s), opts: { threads?: number } = {}): Promise<[string, string][]> {
  const threads = opts.threads ?? Math.max(1, os.availableParallelism());
  const noTorch = torchAvailable();
  const loadBefore = os.loadavg()[0]!;
  const peaks = [await matmulPeak({ threads })];
  const results: ShapeResult[] = [];
  for (const shape of fineGrainedShapes) results.push(await measureShape(shape, threads, noTorch === null, log));
  peaks.push(await matmulPeak({ threads }));
  const all = peaks[0]!.all.map((a, i) => ({ shape: a.shape, gflops: Math.max(a.gflops, peaks[1]!.all[i]!.gflops) }));
  const peak = all.reduce((a, b) => (b.gflops > a.gflops ? b : a));
  const rows: [string, string][] = [
    ['machine load (1-min load average)', `${loadBefore.toFixed(1)} before, ${os.loadavg()[0]!.toFixed(1)} after, on ${threads} cores: figures are ratios within this run`],
    [`MatMul peak (best of ${all.length} ORT sessions, ${threads} threads)`, `${peak.gflops.toFixed(0)} GFLOP/s (${peak.shape}; ${all.map((a) => `${a.shape.replace('Gemm transB', 'T').replace('MatMul', 'M')} ${a.gflops.toFixed(0)}`).join(', ')})`],
  ];
  if (noTorch) rows.push(['PyTorch comparison', `skipped: ${noTorch}`]);
  for (const r of results) rows.push(...shapeRows(r, peak.gflops));
  return rows;
}

if (require.main === module) {
  // --threads N: engine, PyTorch and the MatMul peak all on N threads (default: the machine's cores). On a
  // loaded machine one thread shows each shape's efficiency with the least interference between threads.
  const flag = (name: string): string | undefined => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const threadsArg = flag('--threads');
  const threads = threadsArg === undefined ? undefined : Number(threadsArg);
  if (threads !== undefined && !(Number.isInteger(threads) && threads > 0)) throw new Error(`--threads must be a positive integer, got ${threadsArg}`);
  const child = flag('--engine-child');
  const run =
    child !== undefined
      ? engineChild(child, threads ?? Math.max(1, os.availableParallelism()))
      : fineGrainedRows(undefined, threads === undefined ? {} : { threads }).then((rows) => {
          const w = Math.max(...rows.map(([k]) => k.length));
          console.log(rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n'));
        });
  run.catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
