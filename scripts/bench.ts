// npm run bench: engine figures on the benchmark-size model, then the fine-grained MoE shapes of issue #9
// (scripts/benchFineGrained.ts; skip them with `npm run bench -- --no-fine-grained`), then fine-tuning
// (scripts/benchFinetune.ts, in its own process: training tokens/s next to PyTorch, the peak RSS of an ESFT
// run; skip it with --no-finetune, or PyTorch alone with --no-torch). Prints; asserts nothing.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { readCalibrationSet } from '../src/engine/calibration/calibrationSet';
import { modelIdentity } from '../src/engine/experts/modelIdentity';
import { operationRecord } from '../src/engine/experts/operationRecord';
import { planMerge } from '../src/engine/experts/planMerge';
import { planPrune } from '../src/engine/experts/planPrune';
import { profileExperts } from '../src/engine/experts/profileExperts';
import { MoeEngine } from '../src/engine/moeEngine';
import { writeExpertPlan } from '../src/engine/surgery/writeExpertPlan';
import type { ExpertPlan } from '../src/protocol/expertOps';
import { GraphBuilder } from '../src/engine/onnx/graphBuilder';
import { DataType, encodeModel } from '../src/engine/onnx/onnxProto';
import { OrtSession } from '../src/engine/runtime/ortSession';
import { benchModelDir, benchSpec } from './benchModel';
import { fineGrainedRows } from './benchFineGrained';
import { responsivenessRows } from './benchResponsiveness';

const T = 512;
const RUNS = 5;
const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
const rssPeak = (): number => process.resourceUsage().maxRSS * 1024;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Median wall time of each function, runs interleaved so that machine drift hits all of them alike. */
async function timeInterleaved(fs: (() => Promise<unknown>)[], runs = RUNS): Promise<number[]> {
  for (const f of fs) await f(); // warm-up (session creation, arena growth)
  const times = fs.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) {
    for (const [j, f] of fs.entries()) {
      const t0 = performance.now();
      await f();
      times[j]!.push(performance.now() - t0);
    }
  }
  return times.map(median);
}

/**
 * A plain ONNX Runtime MatMul [T, H] x [H, V] (the lm_head shape) through the same runtime module: once with the weight as a
 * constant initializer (pre-packed: the machine's best case) and once fed as an input (as the engine does).
 */
async function plainMatMulGflops(): Promise<{ constant: number; fed: number }> {
  const M = T;
  const K = benchSpec.hiddenSize;
  const N = benchSpec.vocabSize;
  const B = new Float32Array(K * N).map(() => Math.random() - 0.5);
  const A = new Float32Array(M * K).map(() => Math.random() - 0.5);
  const make = async (constant: boolean): Promise<OrtSession> => {
    const g = new GraphBuilder();
    const a = g.input('a', DataType.FLOAT, [M, K]);
    g.output(g.op('MatMul', [a, g.weight('b', [K, N])]), 'y', DataType.FLOAT, [M, N]);
    const model = g.build((w) => (constant ? { name: w.name, dims: [...w.dims], dataType: DataType.FLOAT, rawData: new Uint8Array(B.buffer) } : undefined));
    return OrtSession.create(encodeModel(model));
  };
  const sc = await make(true);
  const sf = await make(false);
  const feedA = { a: { type: 'float32' as const, data: A, dims: [M, K] } };
  const [c, f] = await timeInterleaved([() => sc.run(feedA), () => sf.run({ ...feedA, b: { type: 'float32', data: B, dims: [K, N] } })], 5);
  await sc.release();
  await sf.release();
  const flop = 2 * M * K * N;
  return { constant: flop / (c! / 1000) / 1e9, fed: flop / (f! / 1000) / 1e9 };
}

async function main(): Promise<void> {
  // Generated in a child process so that this process's memory figures are the engine's alone.
  execFileSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'benchModel.ts')], { stdio: 'inherit' });
  const dir = benchModelDir;
  const rssBefore = process.memoryUsage().rss;
  const tl = performance.now();
  const engine = await MoeEngine.load(dir);
  const loadMs = performance.now() - tl;
  const weightsBytes = engine.weights.byteSize;
  const ids = Array.from({ length: T }, (_, i) => (i * 7919 + 13) % 32000);
  const info = engine.info;

  const [withRouting, fast] = (await timeInterleaved([() => engine.forward(ids, { routing: true, hidden: false, logits: false }), () => engine.forward(ids, { routing: false, hidden: false, logits: false })])) as [number, number];
  const overhead = (withRouting - fast) / fast;

  // FLOPs of one prefill: 2 per active matmul parameter per token (embedding lookup excluded) plus
  // attention's q·k and p·v over the full T×T square (the engine computes it densely, masked).
  const H = benchSpec.hiddenSize;
  const matmulParams = info.activeParams - benchSpec.vocabSize * H - (2 * benchSpec.numLayers + 1) * H;
  const flops = 2 * T * matmulParams + benchSpec.numLayers * 4 * T * T * H;
  const engineGflops = flops / (fast / 1000) / 1e9;
  const matmulGflops = await plainMatMulGflops();

  const rows: [string, string][] = [
    ['model', `${info.modelType}, hidden ${H}, ${info.numLayers} layers, ${info.numExperts} experts top-${info.topK}, vocab ${info.vocabSize}: ${(info.totalParams / 1e6).toFixed(1)}M params, ${(info.activeParams / 1e6).toFixed(1)}M active`],
    ['load time', `${(loadMs / 1000).toFixed(2)} s (${mib(info.bytesOnDisk)} safetensors -> float32 weight store)`],
    [`prefill ${T} tokens, routing captured`, `${withRouting.toFixed(0)} ms = ${((T / withRouting) * 1000).toFixed(0)} tokens/s`],
    [`prefill ${T} tokens, fast path`, `${fast.toFixed(0)} ms = ${((T / fast) * 1000).toFixed(0)} tokens/s`],
    ['routing capture overhead', `${(overhead * 100).toFixed(1)}% (target < 10%)`],
    ['engine effective GFLOP/s', `${engineGflops.toFixed(1)} (${(flops / 1e9).toFixed(1)} GFLOP per prefill)`],
    [`plain ORT MatMul ${T}x${H}x${benchSpec.vocabSize}, constant weight`, `${matmulGflops.constant.toFixed(1)} GFLOP/s  -> engine at ${((100 * engineGflops) / matmulGflops.constant).toFixed(0)}% of it`],
    [`plain ORT MatMul ${T}x${H}x${benchSpec.vocabSize}, weight fed`, `${matmulGflops.fed.toFixed(1)} GFLOP/s`],
    ['weights (float32 store)', mib(weightsBytes)],
    ['resident memory', `${mib(rssBefore)} before load, peak ${mib(rssPeak())}: +${mib(rssPeak() - rssBefore)} = ${((rssPeak() - rssBefore) / weightsBytes).toFixed(2)}x the weights`],
  ];
  rows.push(...(await expertOperationRows(engine, ids, fast)));
  await engine.dispose();
  rows.push(...(await responsivenessRows(dir, ids, withRouting)));
  if (!process.argv.includes('--no-fine-grained')) rows.push(...(await fineGrainedRows()));
  const w = Math.max(...rows.map(([k]) => k.length));
  console.log(rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n'));
  if (!process.argv.includes('--no-finetune')) {
    execFileSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'benchFinetune.ts'), ...(process.argv.includes('--no-torch') ? ['--no-torch'] : [])], { stdio: 'inherit' });
  }
}

/** Issue #4: profiling throughput next to plain prefill, and the wall time of writing pruned/merged checkpoints. */
async function expertOperationRows(engine: MoeEngine, ids: number[], fastMs: number): Promise<[string, string][]> {
  const [profiled, plain] = (await timeInterleaved([() => engine.forward(ids, { routing: true, hidden: false, logits: false, expertNorms: true }), () => engine.forward(ids, { routing: false, hidden: false, logits: false })])) as [number, number];
  // A real calibration pass: this repository's sources, chunks of T tokens, 8 chunks.
  const data = readCalibrationSet([path.join(__dirname, '..', 'src')]);
  const tp = performance.now();
  const profile = await profileExperts(engine, data, { chunkTokens: T, maxTokens: 8 * T });
  const profileMs = performance.now() - tp;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-bench-ops-'));
  try {
    const timeWrite = async (plan: ExpertPlan, name: string): Promise<number> => {
      const t0 = performance.now();
      await writeExpertPlan(engine.info.path, plan, path.join(tmp, name), operationRecord(plan, modelIdentity(engine.info.path)));
      return performance.now() - t0;
    };
    const E = engine.info.numExperts;
    const pruneMs = await timeWrite(planPrune(profile, { method: 'reap', target: { kind: 'keep', keep: E / 2 }, protect: [] }), 'pruned');
    const mergeMs = await timeWrite(planMerge(profile, { keep: E / 2 }), 'merged');
    const tokS = (n: number, ms: number): string => `${((n / ms) * 1000).toFixed(0)} tokens/s`;
    return [
      [`profiling forward ${T} tokens (expert norms)`, `${profiled.toFixed(0)} ms = ${tokS(T, profiled)} vs plain prefill ${tokS(T, plain)} (${((profiled / plain - 1) * 100).toFixed(1)}% more time; fast path above ${tokS(T, fastMs)})`],
      [`profile ${profile.data.tokens} calibration tokens`, `${(profileMs / 1000).toFixed(2)} s = ${tokS(profile.data.tokens, profileMs)} end to end (tokenise, ${profile.data.chunks} forwards, accumulate)`],
      [`prune ${E} -> ${E / 2} experts, write checkpoint`, `${(pruneMs / 1000).toFixed(2)} s (byte copy of kept experts)`],
      [`merge ${E} -> ${E / 2} experts, write checkpoint`, `${(mergeMs / 1000).toFixed(2)} s (float32 averages)`],
    ];
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
