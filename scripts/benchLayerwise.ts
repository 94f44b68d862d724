// Layer-wise execution next to the whole-model graph on the benchmark model (scripts/benchModel.ts), in
// the same process, repetitions interleaved so machine drift hits both alike. Prints; asserts nothing.
//   node --import tsx scripts/benchLayerwise.ts [runs]
import { performance } from 'node:perf_hooks';
import { MoeEngine, type EngineOptions } from '../src/engine/moeEngine';
import type { Capture } from '../src/protocol/engineProtocol';
import { ensureBenchModel } from './benchModel';

const RUNS = Number(process.argv[2] ?? 7);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const dir = await ensureBenchModel();
  const variants: [string, EngineOptions][] = [
    ['whole graph', { wholeGraph: true }],
    ['layer-wise resident', {}],
    ...(process.env['BENCH_LAYERWISE_MODES'] ? (process.env['BENCH_LAYERWISE_MODES'].split(',').map((m) => [`layer-wise ${m}`, { weightMode: m }]) as [string, EngineOptions][]) : []),
  ];
  const engines: MoeEngine[] = [];
  for (const [, opts] of variants) engines.push(await MoeEngine.load(dir, opts));
  const captures: [string, Capture][] = [
    ['fast path', { routing: false, hidden: false, logits: false }],
    ['routing captured', { routing: true, hidden: false, logits: false }],
  ];
  const rows: string[] = [];
  for (const T of [128, 512]) {
    const ids = Array.from({ length: T }, (_, i) => (i * 7919 + 13) % 32000);
    for (const [cname, capture] of captures) {
      for (const e of engines) await e.forward(ids, capture); // warm-up: sessions, arenas
      const times = engines.map(() => [] as number[]);
      for (let r = 0; r < RUNS; r++) {
        for (const [i, e] of engines.entries()) {
          const t0 = performance.now();
          await e.forward(ids, capture);
          times[i]!.push(performance.now() - t0);
        }
      }
      const med = times.map(median);
      const base = med[0]!;
      med.forEach((m, i) => rows.push(`T=${String(T).padEnd(4)} ${cname.padEnd(17)} ${variants[i]![0].padEnd(22)} ${m.toFixed(1).padStart(8)} ms  ${((T / m) * 1000).toFixed(0).padStart(6)} tok/s  ${i === 0 ? '' : `${(((m - base) / base) * 100).toFixed(1)}% vs whole graph`}`));
    }
  }
  for (const e of engines) await e.dispose();
  console.log(`median of ${RUNS} interleaved runs, bench model ${dir}`);
  console.log(rows.join('\n'));
}

void main();
