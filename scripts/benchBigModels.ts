// Full-size benchmark (issue #9 §4), opt-in: `npm run bench:big [-- --models olmoe-1b-7b --budgets 8GiB,auto]`.
// --checkpoint DIR benchmarks one local folder instead. For each random-weight BF16 checkpoint at a published shape (scripts/makeBenchCheckpoint.ts; --generate
// writes missing ones, 14 and 29 GB) and each budget (8 GiB; `auto` = derived from the free memory), a fresh
// engine process loads the model and runs: annotation of 128 and 1,024 tokens (cold, then warm) and
// profiling over 8,192 tokens. This process samples the child's RssAnon (/proc/PID/status: heap and
// buffers, not the page cache of the weight files) every 50 ms: the peak per phase is what the budget bounds.
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCalibrationSet } from '../src/engine/calibration/calibrationSet';
import { profileExperts } from '../src/engine/experts/profileExperts';
import { formatBytes, parseMemoryBudget } from '../src/engine/memory/memoryBudget';
import { availableMemory } from '../src/engine/model/availableMemory';
import { MoeEngine } from '../src/engine/moeEngine';
import { PUBLISHED_CONFIGS, type PublishedModel } from '../src/devtools/publishedShapes';
import { BENCH_MODELS, benchCheckpointDir, writeBenchCheckpoint } from './makeBenchCheckpoint';

const root = path.resolve(__dirname, '..');
const PROFILE_TOKENS = 8192;
const PROFILE_CHUNK = 1024;

/** What the engine process reports, phase by phase. */
type ChildMessage =
  | { readonly phase: string }
  | { readonly result: Record<string, number | string> }
  | { readonly error: string };

// ---- engine process ----

async function child(dir: string, budget: string): Promise<void> {
  const send = (m: ChildMessage): void => void process.send!(m);
  const result: Record<string, number | string> = {};
  const timed = async <T>(phase: string, f: () => Promise<T>): Promise<T> => {
    send({ phase });
    const t0 = performance.now();
    const v = await f();
    result[`${phase} ms`] = Math.round(performance.now() - t0);
    return v;
  };
  const memoryBudget = budget === 'auto' ? undefined : parseMemoryBudget(budget);
  let engine: MoeEngine;
  try {
    engine = await timed('load', () => MoeEngine.load(dir, memoryBudget === undefined ? {} : { memoryBudget }));
  } catch (e) {
    send({ error: (e as Error).message });
    return;
  }
  const m = engine.info.memory;
  result['mode'] = m ? `${m.mode} (${m.f32Layers}/${m.numLayers} layers float32)` : 'resident (no plan)';
  if (m) result['plan'] = `${m.reason}; estimated peak ${formatBytes(m.estimate.peakBytes)} at ${m.maxTokens} tokens`;
  const text = fs.readFileSync(path.join(root, 'README.md'), 'utf8').repeat(8);
  const ids = engine.tokenizer.encodeHead(text, 1024).tokens.map((t) => t.id);
  const capture = { routing: true, hidden: false, logits: false };
  // The budget may leave room for shorter sequences only: said, not hidden.
  const maxTokens = engine.maxAttentionTokens;
  result['max tokens'] = maxTokens;
  for (const T of [128, 1024]) {
    if (ids.length < T) throw new Error(`only ${ids.length} tokens of text`);
    if (T > maxTokens) {
      result[`annotate ${T}`] = `refused: at most ${maxTokens} tokens within the budget`;
      continue;
    }
    await timed(`annotate ${T} cold`, () => engine.forward(ids.slice(0, T), capture));
    await timed(`annotate ${T} warm`, () => engine.forward(ids.slice(0, T), capture));
  }
  const data = readCalibrationSet([path.join(root, 'src')]);
  const chunkTokens = Math.min(PROFILE_CHUNK, maxTokens);
  result['profile chunk'] = chunkTokens;
  const profile = await timed('profile', () => profileExperts(engine, data, { chunkTokens, maxTokens: PROFILE_TOKENS }));
  result['profile tokens'] = profile.data.tokens;
  result['profile tok/s'] = Math.round(profile.data.tokens / ((result['profile ms'] as number) / 1000));
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  result['VmHWM'] = /^VmHWM:\s+(\d+)/m.exec(status)?.[1] + ' kB';
  await engine.dispose();
  send({ result });
}

// ---- driver ----

function rssAnon(pid: number): number | undefined {
  try {
    const m = /^RssAnon:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

interface RunResult {
  readonly model: string;
  readonly budget: string;
  readonly error?: string;
  readonly result?: Record<string, number | string>;
  /** Peak RssAnon per phase (the phase that was running when the sample was taken). */
  readonly peaks: Map<string, number>;
}

function run(model: PublishedModel, dir: string, budget: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = fork(__filename, ['--child', dir, budget], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const peaks = new Map<string, number>();
    let phase = 'start';
    let error: string | undefined;
    let result: Record<string, number | string> | undefined;
    const timer = setInterval(() => {
      const r = p.pid === undefined ? undefined : rssAnon(p.pid);
      if (r !== undefined) peaks.set(phase, Math.max(peaks.get(phase) ?? 0, r));
    }, 50);
    p.on('message', (m: ChildMessage) => {
      if ('phase' in m) phase = m.phase;
      else if ('result' in m) result = m.result;
      else error = m.error;
    });
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      clearInterval(timer);
      if (!result && !error) error = `engine process exited (${signal ?? code}) during ${phase}`;
      resolve({ model, budget, ...(error ? { error } : {}), ...(result ? { result } : {}), peaks });
    });
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, def: string): string => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1]! : def;
  };
  const models = opt('--models', BENCH_MODELS.join(',')).split(',') as PublishedModel[];
  const budgets = opt('--budgets', '8GiB,auto').split(',');
  // --checkpoint DIR: benchmark that folder instead (any local checkpoint; a small one checks the bench itself).
  const only = args.includes('--checkpoint') ? path.resolve(opt('--checkpoint', '')) : undefined;
  const free = availableMemory();
  console.log(`# Big-model benchmark: ${free.source} ${formatBytes(free.bytes)} at start; RssAnon sampled every 50 ms`);
  for (const model of only ? [path.basename(only) as PublishedModel] : models) {
    if (!only && !BENCH_MODELS.includes(model)) throw new Error(`unknown model ${model} (${BENCH_MODELS.join(', ')})`);
    const dir = only ?? benchCheckpointDir(model);
    if (!fs.existsSync(path.join(dir, 'config.json'))) {
      if (!args.includes('--generate')) {
        console.log(`\n## ${model}: no checkpoint in ${dir}; generate it with: node --import tsx scripts/makeBenchCheckpoint.ts ${model} (or pass --generate)`);
        continue;
      }
      writeBenchCheckpoint(dir, PUBLISHED_CONFIGS[model], { onShard: (d, t) => console.log(`  writing ${model}: shard ${d}/${t}`) });
    }
    for (const budget of budgets) {
      const r = await run(model, dir, budget);
      const label = budget === 'auto' ? `auto (free ${formatBytes(availableMemory().bytes)} now)` : budget;
      console.log(`\n## ${model}, budget ${label}`);
      if (r.error) console.log(`  refused or failed: ${r.error}`);
      for (const [k, v] of Object.entries(r.result ?? {})) console.log(`  ${k.padEnd(20)} ${v}`);
      const overall = Math.max(0, ...r.peaks.values());
      console.log(`  peak RssAnon         ${formatBytes(overall)} (${[...r.peaks].map(([k, v]) => `${k} ${formatBytes(v)}`).join(', ')})`);
    }
  }
}

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    child(args[1]!, args[2]!).catch((e: unknown) => {
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
