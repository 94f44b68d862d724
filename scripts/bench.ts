// npm run bench: engine figures on the benchmark-size model. Prints; asserts nothing.
import { performance } from 'node:perf_hooks';
import { MoeEngine } from '../src/engine/moeEngine';
import { GraphBuilder } from '../src/engine/onnx/graphBuilder';
import { DataType, encodeModel } from '../src/engine/onnx/onnxProto';
import { OrtSession } from '../src/engine/runtime/ortSession';
import { benchSpec, ensureBenchModel } from './benchModel';

const T = 512;
const RUNS = 3;
const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
const rssPeak = (): number => process.resourceUsage().maxRSS * 1024;

async function timeRuns(f: () => Promise<unknown>, runs = RUNS): Promise<number> {
  await f(); // warm-up (session creation, arena growth)
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await f();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]!; // median
}

/** A plain ONNX Runtime MatMul [T, H] x [H, 2I] through the same runtime module, for the machine's reach. */
async function plainMatMulGflops(): Promise<number> {
  const M = T;
  const K = benchSpec.hiddenSize;
  const N = 2 * benchSpec.intermediateSize;
  const g = new GraphBuilder();
  const a = g.input('a', DataType.FLOAT, [M, K]);
  const b = g.weight('b', [K, N]);
  g.output(g.op('MatMul', [a, b]), 'y', DataType.FLOAT, [M, N]);
  const s = await OrtSession.create(encodeModel(g.build()));
  const A = new Float32Array(M * K).map(() => Math.random());
  const B = new Float32Array(K * N).map(() => Math.random());
  const ms = await timeRuns(() => s.run({ a: { type: 'float32', data: A, dims: [M, K] }, b: { type: 'float32', data: B, dims: [K, N] } }), 10);
  await s.release();
  return (2 * M * K * N) / (ms / 1000) / 1e9;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const dir = await ensureBenchModel();
  console.log(`benchmark model ready in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${dir}`);
  const rssBefore = process.memoryUsage().rss;
  const tl = performance.now();
  const engine = await MoeEngine.load(dir);
  const loadMs = performance.now() - tl;
  const weightsBytes = engine.weights.byteSize;
  const ids = Array.from({ length: T }, (_, i) => (i * 7919 + 13) % 32000);
  const info = engine.info;

  const withRouting = await timeRuns(() => engine.forward(ids, { routing: true, hidden: false, logits: false }));
  const fast = await timeRuns(() => engine.forward(ids, { routing: false, hidden: false, logits: false }));
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
    [`plain ORT MatMul ${T}x${H}x${2 * benchSpec.intermediateSize}`, `${matmulGflops.toFixed(1)} GFLOP/s  -> engine at ${((100 * engineGflops) / matmulGflops).toFixed(0)}% of it`],
    ['weights (float32 store)', mib(weightsBytes)],
    ['resident memory', `${mib(rssBefore)} before load, peak ${mib(rssPeak())} (${(rssPeak() / weightsBytes).toFixed(2)}x the weights)`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  console.log(rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n'));
  await engine.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
