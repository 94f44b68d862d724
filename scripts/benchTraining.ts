// npm run bench:train (issue #9 §4): one training step — LM loss and the gradients of every routed expert —
// on the benchmark model, next to PyTorch autograd on the same weights and loss (scripts/bench/torchTrainStep.py,
// a child process that stays up so that its runs interleave with ours). Prints; asserts nothing.
//   node --import tsx scripts/benchTraining.ts [--tokens 128,512[,1024]] [--reps 3] [--no-torch]
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MoeEngine } from '../src/engine/moeEngine';
import { computeGradients, type GradientResult } from '../src/engine/training/computeGradients';
import { resolveTrainSpecs } from '../src/engine/training/trainSpec';
import { benchModelDir } from './benchModel';
import { startTorch, type TorchAnswer } from './bench/torchServer';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const TOKENS = (arg('--tokens') ?? '128,512').split(',').map(Number);
const REPS = Number(arg('--reps') ?? 3);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mib = (kb: number): string => `${(kb / 1024).toFixed(0)} MiB`;
// A collection before each token count's peak reset, so that garbage of the previous one does not count.
v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (() => void) | undefined;
const idsOf = (T: number, V: number): number[] => Array.from({ length: T }, (_, i) => (i * 7919 + 13) % V);

/** Peak (since the last reset) and current anonymous resident memory of this process, kB. */
function memory(): { hwm: number; anon: number } {
  const s = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
  return { hwm: kb('VmHWM'), anon: kb('RssAnon') };
}
// Writing 5 to clear_refs resets VmHWM to the current RSS, so each token count gets its own peak.
const resetPeak = (): void => fs.writeFileSync('/proc/self/clear_refs', '5');

interface OurStep {
  ms: number;
  forwardMs: number;
  headMs: number;
  backwardMs: number;
  recomputed: number;
  /** wall ms of each decoder layer's forward unit and VJP unit */
  layerFwd: number[];
  layerBwd: number[];
}

/** One step of ours, split by the runner's progress messages (forward layers, head VJP, layer VJPs, HF assembly). */
async function ourStep(engine: MoeEngine, ids: number[]): Promise<OurStep & { result: GradientResult }> {
  const last = engine.config.numLayers - 1;
  const marks: Record<string, number> = {};
  let recomputed = 0;
  const layerFwd: number[] = [];
  const layerBwd: number[] = [];
  const t0 = performance.now();
  let prev = t0;
  const result = await computeGradients(engine, ids, {
    trainable: resolveTrainSpecs(['experts'], engine.config),
    onProgress: (p) => {
      const m = p.message ?? '';
      const now = performance.now();
      if (/^layer \d+ forward/.test(m)) layerFwd.push(now - prev);
      if (/^layer \d+ backward/.test(m)) layerBwd.push(now - prev);
      prev = now;
      if (m.startsWith(`layer ${last} forward`)) marks['forward'] = performance.now();
      if (m === 'LM head backward') marks['head'] = performance.now();
      if (/^layer \d+ backward/.test(m)) marks['backward'] = performance.now();
      if (m.includes('forward recomputed')) recomputed++;
    },
  });
  const t1 = performance.now();
  return { ms: t1 - t0, forwardMs: marks['forward']! - t0, headMs: marks['head']! - marks['forward']!, backwardMs: marks['backward']! - marks['head']!, recomputed, layerFwd, layerBwd, result };
}

/** Our gradients against PyTorch's: max relative difference of the per-tensor norms and of probed entries. */
function compareGrads(ours: GradientResult, torch: TorchAnswer): string {
  const norms = torch.norms!;
  const maxNorm = Math.max(...Object.values(norms));
  let worstNorm = 0;
  let worstName = '';
  let missing = 0;
  for (const [name, tn] of Object.entries(norms)) {
    const g = ours.grads.get(name);
    if (!g) {
      missing++;
      continue;
    }
    let s = 0;
    for (const v of g.data) s += v * v;
    const d = Math.abs(Math.sqrt(s) - tn) / Math.max(tn, 1e-3 * maxNorm);
    if (d > worstNorm) [worstNorm, worstName] = [d, name];
  }
  let worstEntry = 0;
  for (const [name, entries] of Object.entries(torch.probes!)) {
    const g = ours.grads.get(name)!.data;
    const stride = Math.max(1, Math.floor(g.length / 8));
    const scale = Math.max(...entries.map(Math.abs), 1e-30);
    entries.forEach((e, i) => (worstEntry = Math.max(worstEntry, Math.abs(g[i * stride]! - e) / scale)));
  }
  const extra = ours.grads.size - Object.keys(norms).length;
  return `${Object.keys(norms).length} expert tensors: max rel. norm diff ${worstNorm.toExponential(1)} (${worstName.replace('model.layers.', 'L').replace('.block_sparse_moe.experts.', ' e')}), probed entries max diff ${worstEntry.toExponential(1)} of scale${missing ? `, ${missing} missing on our side` : ''}${extra ? `, ${extra} extra on our side` : ''}`;
}

async function main(): Promise<void> {
  // Generated in a child process so that this process's memory figures are the engine's alone.
  execFileSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'benchModel.ts')], { stdio: 'inherit' });
  const torch = process.argv.includes('--no-torch') ? undefined : await startTorch(benchModelDir);
  const base = memory();
  const engine = await MoeEngine.load(benchModelDir);
  const loaded = memory();
  const c = engine.config;
  console.log(`engine: ${c.numLayers} layers, hidden ${c.hiddenSize}, vocab ${c.vocabSize}; RSS ${mib(base.anon)} anon before load, ${mib(loaded.anon)} after`);
  console.log(`machine: ${(await import('node:os')).loadavg()[0]!.toFixed(1)} load average (1 min) at start; both sides use 2 threads; runs interleaved ours/PyTorch\n`);
  const notes: string[] = [];
  const rows: string[][] = [['T', 'ours step', 'torch step', 'ratio', 'ours fwd | head | bwd', 'torch fwd | bwd', 'fwd-only ours / torch', 'peak RSS ours / torch', 'loss ours / torch']];
  for (const T of TOKENS) {
    const ids = idsOf(T, c.vocabSize);
    gc?.();
    resetPeak();
    if (torch) await torch({ cmd: 'reset_peak' });
    // Warm-up (graph building, session creation, arena growth), which also serves as the equality check.
    const w = await ourStep(engine, ids);
    const loss = w.result.loss;
    const tw = torch ? await torch({ cmd: 'grads', T }) : undefined;
    const lossRel = tw ? Math.abs(loss - tw['loss']!) / Math.abs(tw['loss']!) : NaN;
    console.log(`T=${T}: loss ours ${loss.toFixed(6)}${tw ? ` torch ${tw['loss']!.toFixed(6)} (rel. diff ${lossRel.toExponential(1)}, ${lossRel <= 1e-4 ? 'agree' : 'DIFFER'} within 1e-4)` : ''}`);
    if (tw) console.log(`  gradients: ${compareGrads(w.result, tw)}`);
    // Timed steps keep only their figures: holding several steps' gradients would inflate the peak.
    w.result = undefined as unknown as GradientResult;
    gc?.();
    await engine.forward(ids, { routing: false, hidden: false, logits: false });
    if (torch) await torch({ cmd: 'forward', T });
    const ours: OurStep[] = [];
    const theirs: TorchAnswer[] = [];
    const fwdOurs: number[] = [];
    const fwdTorch: number[] = [];
    for (let r = 0; r < REPS; r++) {
      const { result: _dropped, ...figures } = await ourStep(engine, ids);
      ours.push(figures);
      if (torch) theirs.push(await torch({ cmd: 'step', T }));
      const t0 = performance.now();
      await engine.forward(ids, { routing: false, hidden: false, logits: false });
      fwdOurs.push(performance.now() - t0);
      if (torch) fwdTorch.push((await torch({ cmd: 'forward', T }))['ms']!);
      console.log(`  rep ${r + 1}: ours ${ours.at(-1)!.ms.toFixed(0)} ms${torch ? `, torch ${theirs.at(-1)!['ms']!.toFixed(0)} ms` : ''}${ours.at(-1)!.recomputed ? ` (${ours.at(-1)!.recomputed} layers recomputed their forward)` : ''}`);
    }
    const om = (k: 'ms' | 'forwardMs' | 'headMs' | 'backwardMs'): number => median(ours.map((s) => s[k]));
    const tm = (k: string): number => median(theirs.map((s) => s[k]!));
    const tokS = (ms: number): string => `${((T / ms) * 1000).toFixed(0)} tok/s`;
    const peak = memory().hwm;
    const perLayer = (k: 'layerFwd' | 'layerBwd'): string => ours[0]![k].map((_, L) => median(ours.map((s) => s[k][L]!)).toFixed(0)).join(' ');
    notes.push(`T=${T} ours per layer (ms, median), forward units: ${perLayer('layerFwd')}; VJP units (top layer first): ${perLayer('layerBwd')}; HF-name assembly after the last VJP: ${(om('ms') - om('forwardMs') - om('headMs') - om('backwardMs')).toFixed(0)} ms`);
    const last = theirs.at(-1);
    rows.push([
      String(T),
      `${om('ms').toFixed(0)} ms = ${tokS(om('ms'))}`,
      torch ? `${tm('ms').toFixed(0)} ms = ${tokS(tm('ms'))}` : '-',
      torch ? `${(tm('ms') / om('ms')).toFixed(2)}x` : '-',
      `${om('forwardMs').toFixed(0)} | ${om('headMs').toFixed(0)} | ${om('backwardMs').toFixed(0)} ms`,
      torch ? `${tm('forward_ms').toFixed(0)} | ${tm('backward_ms').toFixed(0)} ms` : '-',
      `${median(fwdOurs).toFixed(0)} / ${torch ? median(fwdTorch).toFixed(0) : '-'} ms`,
      `${mib(peak)} (+${mib(peak - loaded.anon)} over the loaded weights) / ${last ? `${mib(last['vm_hwm_kb']!)} (ru_maxrss ${mib(last['rss_peak_kb']!)})` : '-'}`,
      `${loss.toFixed(5)} / ${tw ? tw['loss']!.toFixed(5) : '-'}`,
    ]);
  }
  await engine.dispose();
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((r) => r[j]!.length)));
  console.log('\n' + rows.map((r) => r.map((v, j) => v.padEnd(widths[j]!)).join('  ')).join('\n'));
  for (const n of notes) console.log(n);
  console.log('(peak RSS = VmHWM since the start of that T: weights + activations + runtime arenas; ours also holds node and the graphs)');
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
