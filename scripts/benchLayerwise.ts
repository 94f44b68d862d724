// Layer-wise execution next to the whole-model graph on the benchmark model (scripts/benchModel.ts), in
// one process, repetitions interleaved so machine drift hits every variant alike; then the weight modes
// on a BF16 copy of the same model (cached: stored dtype, layers converted when they run; streaming: read
// from the file when they run), layer-major batches against one forward per sequence, and evaluation in
// streaming mode with and without spilling activations (BENCH_LAYERWISE_ONLY_EVAL=1: that case alone).
// Prints figures; asserts nothing.   node --import tsx scripts/benchLayerwise.ts [runs]
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { evaluateModels } from '../src/engine/evaluation/evaluateModels';
import { spillTotals } from '../src/engine/layerwise/activationSpill';
import { layerMajorBatches, sequenceBytes } from '../src/engine/layerwise/layerMajorBatches';
import { planCheckpointMemory } from '../src/engine/memory/memoryPlan';
import { openCheckpoint } from '../src/engine/model/checkpoint';
import { writeSafetensors } from '../src/engine/model/safetensorsWriter';
import { MoeEngine, type EngineOptions } from '../src/engine/moeEngine';
import type { Capture } from '../src/protocol/engineProtocol';
import { ensureBenchModel } from './benchModel';

const RUNS = Number(process.argv[2] ?? 7);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;

/** The bench model with every tensor rounded to BF16 (.cache/bench-model-bf16, written once). */
async function bf16Copy(dir: string): Promise<string> {
  const out = `${dir}-bf16`;
  const marker = path.join(out, 'moe_workbench_bench.json');
  const want = fs.readFileSync(path.join(dir, 'moe_workbench_bench.json'), 'utf8');
  if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === want) return out;
  fs.mkdirSync(out, { recursive: true });
  const ckpt = openCheckpoint(dir);
  try {
    const tensors = [...ckpt.tensors.entries()].map(([name, { entry }]) => ({ name, dtype: 'BF16' as const, shape: entry.shape, data: () => ckpt.readF32(name) }));
    await writeSafetensors(path.join(out, 'model.safetensors'), tensors, { format: 'pt' });
  } finally {
    ckpt.close();
  }
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(path.join(out, 'config.json'), JSON.stringify({ ...config, torch_dtype: 'bfloat16' }));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(dir, f), path.join(out, f));
  fs.writeFileSync(marker, want);
  return out;
}

async function compare(title: string, variants: [string, string, EngineOptions][], rows: string[]): Promise<void> {
  const engines: MoeEngine[] = [];
  for (const [label, dir, opts] of variants) {
    const t0 = performance.now();
    const e = await MoeEngine.load(dir, opts);
    rows.push(`load ${label.padEnd(34)} ${((performance.now() - t0) / 1000).toFixed(2)} s, weights held ${mib(e.weights.byteSize)}`);
    engines.push(e);
  }
  const captures: [string, Capture][] = [
    ['fast path', { routing: false, hidden: false, logits: false }],
    ['routing captured', { routing: true, hidden: false, logits: false }],
  ];
  rows.push(`-- ${title}`);
  for (const T of [128, 512]) {
    const ids = Array.from({ length: T }, (_, i) => (i * 7919 + 13) % 32000);
    for (const [cname, capture] of captures) {
      for (const e of engines) await e.forward(ids, capture); // warm-up: sessions, arenas, buffers
      const times = engines.map(() => [] as number[]);
      const cpu = engines.map(() => [] as number[]);
      for (let r = 0; r < RUNS; r++) {
        // ABBA order: neither variant always runs first after the other.
        const order = r % 2 === 0 ? [...engines.keys()] : [...engines.keys()].reverse();
        for (const i of order) {
          const c0 = process.cpuUsage();
          const t0 = performance.now();
          await engines[i]!.forward(ids, capture);
          times[i]!.push(performance.now() - t0);
          const c = process.cpuUsage(c0);
          cpu[i]!.push((c.user + c.system) / 1000);
        }
      }
      // Paired ratios (run r of variant i over run r of the first variant) cancel drift between runs.
      const med = times.map(median);
      // CPU time (all threads of the process) is what a loaded machine's time-slicing leaves intact.
      times.forEach((ts, i) => {
        const ratio = median(ts.map((t, r) => t / times[0]![r]!));
        const cpuRatio = median(cpu[i]!.map((t, r) => t / cpu[0]![r]!));
        const vs = i === 0 ? '' : `paired wall ${((ratio - 1) * 100).toFixed(1)}%, cpu ${((cpuRatio - 1) * 100).toFixed(1)}% vs ${variants[0]![0]}`;
        rows.push(`T=${String(T).padEnd(4)} ${cname.padEnd(17)} ${variants[i]![0].padEnd(34)} wall median ${med[i]!.toFixed(1).padStart(7)} ms, min ${Math.min(...ts).toFixed(1).padStart(7)} ms; cpu median ${median(cpu[i]!).toFixed(0).padStart(6)} ms  ${vs}`);
      });
    }
  }
  for (const e of engines) await e.dispose();
}

/** Eight sequences of 512 tokens with expert norms: one forward each vs one layer-major batch. */
async function layerMajorRows(dir: string, opts: EngineOptions, label: string, rows: string[]): Promise<void> {
  const e = await MoeEngine.load(dir, opts);
  const seqs = Array.from({ length: 8 }, (_, s) => Array.from({ length: 512 }, (_, i) => (i * 7919 + 13 * s + 1) % 32000));
  const capture = { routing: true, hidden: false, logits: false, expertNorms: true };
  await e.forward(seqs[0]!, capture);
  const seqTimes: number[] = [];
  const batchTimes: number[] = [];
  for (let r = 0; r < Math.max(1, Math.floor(RUNS / 3)); r++) {
    let t0 = performance.now();
    for (const ids of seqs) await e.forward(ids, capture);
    seqTimes.push(performance.now() - t0);
    t0 = performance.now();
    await e.forwardBatch(seqs, capture);
    batchTimes.push(performance.now() - t0);
  }
  const [a, b] = [median(seqTimes), median(batchTimes)];
  rows.push(`8 x 512 tokens with expert norms, ${label.padEnd(10)} one forward each ${a.toFixed(0)} ms, layer-major ${b.toFixed(0)} ms (${(((b - a) / a) * 100).toFixed(1)}%)`);
  await e.dispose();
}

/**
 * Evaluation (two streaming engines: the BF16 copy against the F32 file) over 16 chunks of 512 tokens, in
 * the batches the engine used before activations could spill (logits of both models held for the whole
 * batch: at most min(256 MiB, spare) / (2·V·4 + activations) tokens, evaluated batch by batch) and in
 * today's (logits consumed as they come, the baseline's and the activations beyond the allowance spilled):
 * with the default allowance, and with almost none (a budget 1 MiB above the plan's peak for 512 tokens).
 */
async function evaluationRows(dir: string, bf16: string, rows: string[]): Promise<void> {
  const chunks = Array.from({ length: Number(process.env['BENCH_EVAL_CHUNKS'] ?? 16) }, (_, s) => Array.from({ length: 512 }, (_, i) => (i * 7919 + 13 * s + 1) % 32000));
  const tokens = chunks.length * 512;
  const streaming = { weightMode: 'streaming' as const, f32Layers: new Set<number>() };
  const timed = async (label: string, base: MoeEngine, cand: MoeEngine, groups: number[][][]): Promise<void> => {
    const w0 = spillTotals.bytesWritten;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (const g of groups) await evaluateModels(base, cand, g);
    const s = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1e6;
    rows.push(`evaluate ${tokens} tokens, streaming, ${label.padEnd(40)} ${String(groups.length).padStart(2)} batch(es): wall ${s.toFixed(1).padStart(6)} s, ${(tokens / s).toFixed(0).padStart(4)} tok/s; cpu ${cpu.toFixed(1).padStart(6)} s, ${(tokens / cpu).toFixed(0).padStart(4)} tok/cpu-s; spilled ${mib(spillTotals.bytesWritten - w0)}`);
  };
  const [base, cand] = [await MoeEngine.load(bf16, streaming), await MoeEngine.load(dir, streaming)];
  const V = base.config.vocabSize;
  const allowance = Math.min(base.layerMajorBatchBytes, cand.layerMajorBatchBytes);
  await evaluateModels(base, cand, chunks.slice(0, 2)); // warm-up: sessions, arenas, page cache
  const before = layerMajorBatches(chunks, (ids) => sequenceBytes(base.config, ids.length, 2 * V * 4), allowance);
  // ABBA: machine drift hits both alike.
  for (const order of [['before', 'spilling'], ['spilling', 'before']]) {
    for (const v of order) {
      if (v === 'before') await timed(`before spilling (allowance ${mib(allowance)})`, base, cand, before);
      else await timed(`spilling (allowance ${mib(allowance)})`, base, cand, [chunks]);
    }
  }
  await base.dispose();
  await cand.dispose();
  // A budget just above the plan's peak for 512-token chunks: (almost) no allowance, so nearly everything spills.
  const budgetFor = (d: string): number => {
    const ckpt = openCheckpoint(d);
    try {
      return planCheckpointMemory(ckpt, { mode: 'streaming', budgetBytes: 2 ** 40, maxTokens: 512 }).estimate.peakBytes + 2 ** 20;
    } finally {
      ckpt.close();
    }
  };
  const [b0, c0] = [await MoeEngine.load(bf16, { ...streaming, memoryBudget: budgetFor(bf16) }), await MoeEngine.load(dir, { ...streaming, memoryBudget: budgetFor(dir) })];
  await evaluateModels(b0, c0, chunks.slice(0, 2));
  await timed(`spilling (allowance ${mib(Math.min(b0.layerMajorBatchBytes, c0.layerMajorBatchBytes))})`, b0, c0, [chunks]);
  await b0.dispose();
  await c0.dispose();
}

async function main(): Promise<void> {
  const dir = await ensureBenchModel();
  const bf16 = await bf16Copy(dir);
  const rows: string[] = [];
  if (process.env['BENCH_LAYERWISE_ONLY_EVAL']) {
    await evaluationRows(dir, bf16, rows);
    console.log(rows.join('\n'));
    return;
  }
  await compare('F32 bench model: whole graph vs layer-wise', [
    ['whole graph (F32 file)', dir, { execution: 'whole-graph' }],
    ['layer-wise resident (F32 file)', dir, { execution: 'layer-wise' }],
  ], rows);
  if (process.env['BENCH_LAYERWISE_ONLY_RESIDENT']) {
    console.log(rows.join('\n'));
    return;
  }
  await compare('BF16 copy: weight modes', [
    ['whole graph (BF16 file)', bf16, { execution: 'whole-graph' }],
    ['layer-wise resident (BF16 file)', bf16, { execution: 'layer-wise' }],
    ['layer-wise cached, 0 f32 layers', bf16, { weightMode: 'cached', f32Layers: new Set() }],
    ['  same, no worker', bf16, { weightMode: 'cached', f32Layers: new Set(), prefetch: false }],
    ['layer-wise streaming', bf16, { weightMode: 'streaming', f32Layers: new Set<number>() }],
    ['  same, no worker', bf16, { weightMode: 'streaming', f32Layers: new Set(), prefetch: false }],
  ], rows);
  await layerMajorRows(bf16, { weightMode: 'cached', f32Layers: new Set() }, 'cached', rows);
  await layerMajorRows(bf16, { weightMode: 'streaming', f32Layers: new Set<number>() }, 'streaming', rows);
  await evaluationRows(dir, bf16, rows);
  console.log(`median of ${RUNS} interleaved runs; bench model ${dir} (and ${bf16})`);
  console.log(rows.join('\n'));
}

void main();
