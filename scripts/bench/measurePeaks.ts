// Measured peak memory next to the memory plan's estimate (src/engine/memory/workingSet.ts), per sequence
// length and weight mode, so the estimate is checked against real runs instead of guessed:
//   node --import tsx scripts/bench/measurePeaks.ts [--shapes olmoe,qwen1.5,qwen3] [--layers 2]
//        [--modes cached,streaming] [--tokens 128,512,1024,2048,4096] [--f32 0] [--checkpoint DIR]
// (MEASURE_PEAKS_VERBOSE=1 prints each phase as it starts; MEASURE_PEAKS_NO_PREFETCH=1 converts on the main thread.)
// Each shape is a random-weight BF16 checkpoint at a published width (OLMoE-1B-7B, Qwen1.5-MoE-A2.7B with
// its shared expert, Qwen3-30B-A3B with 32 heads of 128) and full vocabulary, with only `--layers` decoder
// layers, written once into .cache/measure-peaks/ by makeBenchCheckpoint's writer. For each mode a fresh
// engine process loads it (forced mode, `--f32` lowest layers float32) and, for each T in ascending order,
// annotates T tokens (routing capture) and profiles one T-token chunk (expert norms): both session variants
// then hold arenas sized for T, the state the estimate at T describes. This process samples the child's
// RssAnon (/proc/PID/status: heap and buffers, not the page cache) every 20 ms; the child also reads its
// VmHWM (reset per phase through /proc/self/clear_refs) less RssFile, which catches spikes between samples.
// The engine's budget is lowered to the free memory: a length whose estimate exceeds it is refused by the
// engine (reported as failed, with the rows measured before it), so a shared machine is not pushed into OOM.
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PUBLISHED_CONFIGS } from '../../src/devtools/publishedShapes';
import { readCalibrationSet } from '../../src/engine/calibration/calibrationSet';
import { profileExperts } from '../../src/engine/experts/profileExperts';
import { formatBytes } from '../../src/engine/memory/memoryBudget';
import { planCheckpointMemory } from '../../src/engine/memory/memoryPlan';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import type { WeightMode } from '../../src/engine/model/weightStore';
import { MoeEngine } from '../../src/engine/moeEngine';
import type { MemoryEstimate } from '../../src/protocol/modelInfo';
import { writeBenchCheckpoint } from '../makeBenchCheckpoint';

const root = path.resolve(__dirname, '..', '..');
const SAMPLE_MS = 20;
/** A budget no plan reaches: the forced mode decides, the estimate is only reported. */
const NO_BUDGET = 2 ** 50;

const SHAPES: Readonly<Record<string, (layers: number) => Record<string, unknown>>> = {
  olmoe: (n) => ({ ...PUBLISHED_CONFIGS['olmoe-1b-7b'], num_hidden_layers: n }),
  'qwen1.5': (n) => ({ ...PUBLISHED_CONFIGS['qwen1.5-moe-a2.7b'], num_hidden_layers: n }),
  // Qwen/Qwen3-30B-A3B's config.json (the keys the engine reads), context cut to the engine's attention cap.
  qwen3: (n) => ({
    architectures: ['Qwen3MoeForCausalLM'], model_type: 'qwen3_moe', hidden_act: 'silu', hidden_size: 2048, intermediate_size: 6144, moe_intermediate_size: 768,
    num_attention_heads: 32, num_key_value_heads: 4, head_dim: 128, num_hidden_layers: n, num_experts: 128, num_experts_per_tok: 8, norm_topk_prob: true,
    decoder_sparse_step: 1, mlp_only_layers: [], use_sliding_window: false, attention_bias: false, vocab_size: 151936, max_position_embeddings: 4096,
    rms_norm_eps: 1e-6, rope_theta: 1000000, tie_word_embeddings: false, torch_dtype: 'bfloat16',
  }),
};

type ChildMessage = { readonly phase: string } | { readonly hwm: { readonly phase: string; readonly bytes: number } } | { readonly done: true } | { readonly error: string };

// ---- engine process ----

function statusField(status: string, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

async function child(dir: string, mode: WeightMode, f32: number, tokens: number[]): Promise<void> {
  const send = (m: ChildMessage): void => void process.send!(m);
  let phase = 'load';
  const begin = (p: string): void => {
    // The high-water mark of the phase just ended, less the page cache mapped meanwhile (RssFile now).
    const s = fs.readFileSync('/proc/self/status', 'utf8');
    send({ hwm: { phase, bytes: statusField(s, 'VmHWM') - statusField(s, 'RssFile') - statusField(s, 'RssShmem') } });
    fs.writeFileSync('/proc/self/clear_refs', '5');
    phase = p;
    send({ phase: p });
    if (process.env['MEASURE_PEAKS_VERBOSE']) console.error(`  ${new Date().toISOString().slice(11, 19)} ${p}`);
  };
  send({ phase });
  const f32Layers = new Set(Array.from({ length: f32 }, (_, i) => i));
  const engine = await MoeEngine.load(dir, { weightMode: mode, f32Layers, memoryBudget: NO_BUDGET, ...(process.env['MEASURE_PEAKS_NO_PREFETCH'] ? { prefetch: false } : {}) });
  begin('loaded');
  const text = fs.readFileSync(path.join(root, 'README.md'), 'utf8').repeat(40);
  const ids = engine.tokenizer.encodeHead(text, Math.max(...tokens)).tokens.map((t) => t.id);
  // One long document: every profiled chunk is exactly T tokens long.
  const calib = path.join(path.dirname(dir), 'calibration.txt');
  fs.writeFileSync(calib, text);
  const data = readCalibrationSet([calib]);
  // Settle: the sampler sees the loaded state before the first run.
  await new Promise((r) => setTimeout(r, 200));
  for (const T of tokens) {
    if (ids.length < T) throw new Error(`only ${ids.length} tokens of text for T = ${T}`);
    begin(`annotate ${T}`);
    await engine.forward(ids.slice(0, T), { routing: true, hidden: false, logits: false });
    begin(`profile ${T}`);
    await profileExperts(engine, data, { chunkTokens: T, maxTokens: T });
  }
  begin('end');
  await engine.dispose();
  send({ done: true });
}

// ---- driver ----

function rssAnon(pid: number): number | undefined {
  try {
    return statusField(fs.readFileSync(`/proc/${pid}/status`, 'utf8'), 'RssAnon');
  } catch {
    return undefined;
  }
}

interface Measured {
  /** Sampled peak RssAnon per phase. */
  readonly sampled: Map<string, number>;
  /** VmHWM - RssFile per phase, as the child read it at the phase's end. */
  readonly hwm: Map<string, number>;
  readonly error?: string;
}

function measure(dir: string, mode: WeightMode, f32: number, tokens: number[]): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const p = fork(__filename, ['--child', dir, mode, String(f32), tokens.join(',')], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const sampled = new Map<string, number>();
    const hwm = new Map<string, number>();
    let phase = 'start';
    let error: string | undefined;
    let done = false;
    const timer = setInterval(() => {
      const r = p.pid === undefined ? undefined : rssAnon(p.pid);
      if (r !== undefined) sampled.set(phase, Math.max(sampled.get(phase) ?? 0, r));
    }, SAMPLE_MS);
    p.on('message', (m: ChildMessage) => {
      if ('phase' in m) phase = m.phase;
      else if ('hwm' in m) hwm.set(m.hwm.phase, m.hwm.bytes);
      else if ('done' in m) done = true;
      else error = m.error;
    });
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      clearInterval(timer);
      if (!done && !error) error = `engine process exited (${signal ?? code}) during ${phase}`;
      resolve({ sampled, hwm, ...(error ? { error } : {}) });
    });
  });
}

/** The plan's estimate for `mode` with `f32` float32 layers at exactly T tokens. */
function estimateAt(dir: string, mode: WeightMode, f32: number, T: number): MemoryEstimate {
  const ckpt = openCheckpoint(dir);
  try {
    const f32Layers = new Set(Array.from({ length: f32 }, (_, i) => i));
    return planCheckpointMemory(ckpt, { mode, f32Layers, budgetBytes: NO_BUDGET, available: { bytes: NO_BUDGET, source: 'measurePeaks' }, maxTokens: T }).estimate;
  } finally {
    ckpt.close();
  }
}

const gib = (b: number): string => (b / 2 ** 30).toFixed(2);

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, def: string): string => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1]! : def;
  };
  const layers = Number(opt('--layers', '2'));
  const modes = opt('--modes', 'cached,streaming').split(',') as WeightMode[];
  const f32 = Number(opt('--f32', '0'));
  const wanted = opt('--tokens', '128,512,1024,2048,4096').split(',').map(Number).sort((a, b) => a - b);
  const only = args.includes('--checkpoint') ? path.resolve(opt('--checkpoint', '')) : undefined;
  const dirs: [string, string][] = only
    ? [[path.basename(only), only]]
    : opt('--shapes', 'olmoe,qwen1.5').split(',').map((s) => {
        const make = SHAPES[s];
        if (!make) throw new Error(`unknown shape ${s} (${Object.keys(SHAPES).join(', ')})`);
        const dir = path.join(root, '.cache', 'measure-peaks', `${s}-${layers}l`);
        writeBenchCheckpoint(dir, make(layers), { onShard: (d, t) => console.log(`  writing ${s}: shard ${d}/${t}`) });
        return [s, dir];
      });
  console.log(`# Peak RssAnon (sampled every ${SAMPLE_MS} ms; hwm = VmHWM - RssFile per phase) vs the memory plan's estimate, GiB`);
  for (const [name, dir] of dirs) {
    const ckpt = openCheckpoint(dir);
    const c = ckpt.config;
    ckpt.close();
    const cap = Math.min(c.contextLength, Math.floor(Math.sqrt(2 ** 31 / 4 / c.numHeads)));
    const tokens = wanted.filter((t) => t <= cap);
    for (const mode of modes) {
      const m = await measure(dir, mode, f32, tokens);
      console.log(`\n## ${name} (${c.numLayers} layers, ${c.numHeads} heads, vocab ${c.vocabSize}), ${mode}, ${f32} float32 layers`);
      if (m.error) console.log(`  failed: ${m.error}`);
      const loaded = Math.max(m.sampled.get('loaded') ?? 0, m.sampled.get('load') ?? 0);
      console.log(`  after load: ${gib(loaded)} (estimate of weights and buffers: ${gib(estimateAt(dir, mode, f32, tokens[0]!).storedBytes + estimateAt(dir, mode, f32, tokens[0]!).f32CacheBytes + estimateAt(dir, mode, f32, tokens[0]!).layerBufferBytes)})`);
      console.log('     T   annotate   profile  cumulative  (hwm)   estimate  est/meas   (weights+buffers / activations / attention / runtime)');
      let cumulative = loaded;
      let cumHwm = 0;
      for (const T of tokens) {
        const a = m.sampled.get(`annotate ${T}`) ?? 0;
        const p = m.sampled.get(`profile ${T}`) ?? 0;
        cumulative = Math.max(cumulative, a, p);
        cumHwm = Math.max(cumHwm, m.hwm.get(`annotate ${T}`) ?? 0, m.hwm.get(`profile ${T}`) ?? 0);
        const e = estimateAt(dir, mode, f32, T);
        const meas = Math.max(cumulative, cumHwm);
        const parts = [e.storedBytes + e.f32CacheBytes + e.layerBufferBytes, e.activationBytes, e.attentionBytes, e.runtimeBytes].map(gib).join(' / ');
        console.log(`  ${String(T).padStart(4)}   ${gib(a).padStart(8)}  ${gib(p).padStart(8)}  ${gib(cumulative).padStart(10)}  ${gib(cumHwm).padStart(6)}  ${gib(e.peakBytes).padStart(9)}  ${(e.peakBytes / meas).toFixed(2).padStart(8)}   (${parts})`);
      }
      console.log(`  (estimate at the largest T: ${formatBytes(estimateAt(dir, mode, f32, tokens.at(-1)!).peakBytes)})`);
    }
  }
}

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    child(args[1]!, args[2] as WeightMode, Number(args[3]), args[4]!.split(',').map(Number)).catch((e: unknown) => {
      process.send?.({ error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
      process.exitCode = 1;
    });
  } else {
    main().catch((e: unknown) => {
      console.error(e);
      process.exit(1);
    });
  }
}
