// The machine's plain MatMul peak through the engine's runtime module: the best GFLOP/s over several large
// shapes, each as the engine runs its projections (Gemm with transB, weight fed as an input) and as a plain
// MatMul [M, K] x [K, N], repetitions interleaved so that load on a shared machine hits every shape alike.
import { performance } from 'node:perf_hooks';
import { GraphBuilder, int } from '../../src/engine/onnx/graphBuilder';
import { DataType, encodeModel } from '../../src/engine/onnx/onnxProto';
import { type FeedTensor, OrtSession } from '../../src/engine/runtime/ortSession';

export interface PeakResult {
  readonly gflops: number;
  /** e.g. "Gemm transB 2048x2048x8192" */
  readonly shape: string;
  readonly all: readonly { readonly shape: string; readonly gflops: number }[];
}

const SHAPES: readonly (readonly [number, number, number])[] = [
  [1024, 2048, 2048],
  [1024, 2048, 8192],
  [2048, 2048, 8192],
  [2048, 4096, 4096],
];

function random(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.random() - 0.5;
  return a;
}

async function session(M: number, K: number, N: number, transB: boolean, threads: number | undefined): Promise<{ s: OrtSession; feeds: Record<string, FeedTensor> }> {
  const g = new GraphBuilder();
  const a = g.input('a', DataType.FLOAT, [M, K]);
  const bDims = transB ? [N, K] : [K, N];
  const b = g.input('b', DataType.FLOAT, bDims);
  g.output(transB ? g.op('Gemm', [a, b], { transB: int(1) }) : g.op('MatMul', [a, b]), 'y', DataType.FLOAT, [M, N]);
  const s = await OrtSession.create(encodeModel(g.build()), threads === undefined ? {} : { threads });
  return { s, feeds: { a: { type: 'float32', data: random(M * K), dims: [M, K] }, b: { type: 'float32', data: random(K * N), dims: bDims } } };
}

export async function matmulPeak(opts: { threads?: number; reps?: number } = {}): Promise<PeakResult> {
  const reps = opts.reps ?? 5;
  const cases: { shape: string; flop: number; s: OrtSession; feeds: Record<string, FeedTensor> }[] = [];
  for (const [M, K, N] of SHAPES) {
    for (const transB of [true, false]) cases.push({ shape: `${transB ? 'Gemm transB' : 'MatMul'} ${M}x${K}x${N}`, flop: 2 * M * K * N, ...(await session(M, K, N, transB, opts.threads)) });
  }
  const best = cases.map(() => Infinity);
  try {
    for (const c of cases) await c.s.run(c.feeds); // warm-up
    for (let r = 0; r < reps; r++) {
      for (const [i, c] of cases.entries()) {
        const t0 = performance.now();
        await c.s.run(c.feeds);
        best[i] = Math.min(best[i]!, performance.now() - t0);
      }
    }
  } finally {
    for (const c of cases) await c.s.release();
  }
  const all = cases.map((c, i) => ({ shape: c.shape, gflops: c.flop / (best[i]! / 1000) / 1e9 }));
  const top = all.reduce((a, b) => (b.gflops > a.gflops ? b : a));
  return { gflops: top.gflops, shape: top.shape, all };
}
