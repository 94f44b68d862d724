// moe-workbench: the command line over the same engine (in the same worker) the extension uses.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { EngineClient } from '../host/engineClient';
import type { PromptInput, Progress } from '../protocol/engineProtocol';
import { parseMemoryBudget } from '../engine/memory/memoryBudget';
import { MoeError } from '../protocol/moeError';
import { applyExpertAdapter } from '../engine/finetune/expertAdapter';
import { installStagingCleanup } from '../engine/surgery/stagingCleanup';
import { buildTrace } from '../trace/buildTrace';
import { formatAnnotateTable } from './annotateTable';
import { UsageError, evalCommand, planCommand, profileCommand, recordedSource } from './expertCommands';
import { finetuneCommand, finetuneParams, finetuneStopMessage, type FinetuneWatch } from './finetuneCommand';
import { parseIdList } from './flagValues';
import { gradientsCommand, gradientsParams } from './gradientsCommand';
import { formatInspect } from './inspectText';
import { expandMultiValueFlags } from './multiValueArgs';
import { trapStopSignals } from './stopSignals';
import { UPCYCLE_FLAG_OPTIONS, upcycleCommand, type UpcycleFlags } from './upcycleCommand';
import { ADD_EXPERTS_FLAG_OPTIONS, addExpertsCommand, type AddExpertsFlags } from './addExpertsCommand';

const USAGE = `usage: moe-workbench <command> [options]

commands:
  inspect  --model DIR [--json]
      architecture, parameter counts (total and active per token), layers, experts, top-k, dtype, size
  annotate --model DIR (--text STR | --file F | --ids 1,2,3) [--layer N] [--json] [--logits]
      per token: the experts of every MoE layer with their gate weights, router entropy, log-probability;
      --json prints the routing trace (docs/trace-format.md)
  export   --model DIR --out DIR
      writes model.onnx + model.onnx.data that plain onnxruntime runs, router outputs as graph outputs
  profile  --model DIR --data PATH... [--chunk N] [--max-tokens N] [--out FILE] [--json]
      runs the model over calibration files/folders (.txt, .md, source, .jsonl text/messages) and stores
      per-expert statistics (frequency, gate weights, softmax importance, REAP, EAN, output norms, router
      similarity) in DIR/moe-workbench-profiles/ (or FILE)
  prune    --model DIR --data PATH... --method reap|frequency|gate|ean|importance (--keep N | --ratio R)
           [--global [--min-per-layer N]] [--protect L:E,...] --out DIR
      removes the lowest-scoring experts per layer and writes a new checkpoint, with report.html inside it
  merge    --model DIR --data PATH... --keep N --out DIR
      MC-SMoE: groups experts by router similarity, averages each group weighted by usage
  eval     --model DIR [--baseline DIR] --data PATH... [--document FILE]
      perplexity, top-1 agreement and KL against the baseline (default: the source in DIR/moe_workbench.json),
      size and parameters
  gradients --model DIR (--text STR | --file F | --ids 1,2,3) [--train SPEC]... [--aux-loss-coef X]
           --out FILE.safetensors
      loss (mean next-token cross-entropy, + X times the load-balancing loss; X defaults to 0) and its
      gradient for every trainable tensor, F32 in Hugging Face names and shapes, plus scalars loss and
      aux_loss (unscaled). SPEC (repeatable, union; default experts): all | experts (every routed expert) |
      experts=L:E,L:E,... (expert E of decoder layer L) | new-experts (those upcycle / add-experts added) |
      routers | shared-experts
  finetune --model DIR (--data PATH... | --ids 1,2,3) --out DIR [--train SPEC]... [--select esft-token|esft-gate]
           [--threshold P] [--steps N] [--lr X] [--optimizer adamw|sgd] [--schedule constant|cosine] [--warmup N]
           [--weight-decay X] [--grad-clip X] [--seq-len N] [--batch-tokens N] [--aux-loss-coef X] [--seed N]
           [--eval-data PATH...] [--general-data PATH...] [--no-eval] [--adapter-only] [--state FILE] [--json]
      trains only the chosen parameters (default: the experts ESFT-Token selects on the data, p = 0.2; SPEC as
      for gradients) with a held-out loss, and writes the checkpoint (trained tensors in the source dtype,
      everything else byte-identical) with its expert adapter in DIR/adapter (--adapter-only: just the adapter, with
      the run's report.html and report.json).
      Defaults: 100 steps, AdamW lr 1e-4 cosine, warm-up min(10, steps/10), weight decay 0.1, clip 1.0,
      --seq-len 512, --batch-tokens 4 x seq-len, seed 0; the load-balancing loss only when routers train
      Ctrl-C once: Stop — training ends after the step in progress and the model trained so far is written
      (its record and report say so); twice: cancel, nothing is written. --state FILE (outside DIR): the run's
      state (weights, optimizer moments, step, data position, history) is saved there after every held-out
      evaluation and at the end; when FILE exists the run resumes from it (refused if data or settings
      differ), e.g. after a Stop, with a new --out
  apply-adapter --model DIR --adapter DIR --out DIR
      writes the full checkpoint of the base model DIR with an expert adapter's tensors in place (every
      other tensor and file byte-identical); refused when the adapter was made for another base
  upcycle  --model DENSE --out DIR --experts E --top-k K [--method copy|noise|drop|split] [--ratio R]
           [--noise-std X] [--drop-mode paper|reference-code] [--router random|kmeans] [--data PATH...]
           [--layers all|L,L,...] [--seed N] [--no-eval] [--json]
      turns a dense llama / qwen3 checkpoint into a mixtral / qwen3_moe one with E experts per MoE layer
      (copy: every expert the dense MLP; noise; drop: Drop-Upcycling; split: LLaMA-MoE neuron groups), and
      reports the largest logit difference to the dense model
  add-experts --model MOE --out DIR --count N [--from hot|cold|L:E,...] [--method copy|noise|drop] [--ratio R]
           [--router copy|random|domain] [--data PATH...] [--seed N] [--no-eval] [--json]
      adds N experts (ids E..E+N-1) to every MoE layer: copies of each layer's most-used experts on --data (hot,
      the default), of listed experts (L:E once per new expert for every MoE layer; end with ,hot for the rest)
      or drawn cold; noise/drop edit R of their neurons (default 0.5); router rows copied (default; a copy ties
      with its source), random (std 0.02; default for cold) or domain (the data's mean router input); old experts
      stay bit-identical; reports the largest logit difference to the source
  options of prune/merge: [--profile FILE] (reuse a profile) [--eval-data PATH...] (held-out; default: the
      calibration data) [--no-eval] [--document FILE] [--dry-run] (show the plan and its impact only)
      [--chunk N] (tokens per pass, default 512) [--max-tokens N] [--max-eval-tokens N] [--json]

every command: [--memory-budget SIZE] (e.g. 8GiB; GiB, MiB, GB, MB or bytes; default: from free memory)

DIR is a Hugging Face checkpoint folder: config.json, *.safetensors, tokenizer.json.`;

const MAX_PROMPT_FILE = 16 * 1024 * 1024;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE + '\n');
    return command ? 0 : 2;
  }
  const { values } = parseArgs({
    args: expandMultiValueFlags(rest, ['--data', '--eval-data', '--general-data']),
    strict: true,
    options: {
      model: { type: 'string' },
      text: { type: 'string' },
      file: { type: 'string' },
      ids: { type: 'string' },
      layer: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
      logits: { type: 'boolean', default: false },
      data: { type: 'string', multiple: true },
      'eval-data': { type: 'string', multiple: true },
      profile: { type: 'string' },
      chunk: { type: 'string' },
      'max-tokens': { type: 'string' },
      'max-eval-tokens': { type: 'string' },
      method: { type: 'string' },
      keep: { type: 'string' },
      ratio: { type: 'string' },
      global: { type: 'boolean', default: false },
      'min-per-layer': { type: 'string' },
      protect: { type: 'string' },
      baseline: { type: 'string' },
      document: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      'no-eval': { type: 'boolean', default: false },
      'memory-budget': { type: 'string' },
      train: { type: 'string', multiple: true },
      'aux-loss-coef': { type: 'string' },
      adapter: { type: 'string' },
      select: { type: 'string' },
      threshold: { type: 'string' },
      steps: { type: 'string' },
      lr: { type: 'string' },
      optimizer: { type: 'string' },
      schedule: { type: 'string' },
      warmup: { type: 'string' },
      'weight-decay': { type: 'string' },
      'grad-clip': { type: 'string' },
      'seq-len': { type: 'string' },
      'batch-tokens': { type: 'string' },
      seed: { type: 'string' },
      'general-data': { type: 'string', multiple: true },
      'adapter-only': { type: 'boolean', default: false },
      state: { type: 'string' },
      ...UPCYCLE_FLAG_OPTIONS,
      ...ADD_EXPERTS_FLAG_OPTIONS,
    },
  });
  if (!values.model) throw new UsageError('--model DIR is required');
  // A file operation: no model is loaded, so it runs here rather than in the engine process.
  if (command === 'apply-adapter') return applyAdapterCommand(values.model, values.adapter, values.out);
  // Upcycling reads the dense model's files itself (and loads engines only to measure the result).
  if (command === 'upcycle') return upcycleFileCommand(values);
  // Adding experts reads the MoE's files itself (and loads engines to profile the data and measure the result).
  if (command === 'add-experts') return addExpertsFileCommand(values);
  // eval loads the baseline (given, or recorded in the candidate's moe_workbench.json) and compares --model to it.
  let loadDir = path.resolve(values.model);
  if (command === 'eval') {
    const base = values.baseline ?? recordedSource(loadDir);
    if (!base) throw new UsageError(`--baseline DIR is required: ${loadDir} has no moe_workbench.json naming its source model`);
    loadDir = path.resolve(base);
  }
  // Malformed flags are refused before the model loads.
  const gradients = command === 'gradients' ? gradientsParams(values, promptInput(values)) : undefined;
  const finetune = command === 'finetune' ? finetuneParams(values) : undefined;
  // finetune: the first Ctrl-C is a Stop (the model trained so far is written), the second cancels.
  const watch: FinetuneWatch = { lastStep: 0, training: false };
  const stop = trapStopSignals(() => (values.out !== undefined ? [values.out] : []), finetune ? { stopFirst: () => finetuneStopMessage(watch) } : {});
  const abort = { signal: stop.signal };
  // finetune: a terminal's Ctrl-C reaches the engine process too; it must leave the Stop to us.
  const client = new EngineClient({ workerPath: path.join(__dirname, 'engineWorker.js'), ...(finetune ? { workerData: { hostHandlesInterrupt: true } } : {}) });
  try {
    const onProgress = progressPrinter();
    const memoryBudget = values['memory-budget'] === undefined ? undefined : parseMemoryBudget(values['memory-budget']);
    const info = await client.request('load', { modelDir: loadDir, ...(memoryBudget === undefined ? {} : { memoryBudget }) }, { signal: abort.signal, ...(onProgress ? { onProgress } : {}) });
    const ctx = { client, signal: abort.signal, onProgress, write: (s: string) => process.stdout.write(s + '\n') };
    switch (command) {
      case 'profile':
        return await profileCommand(ctx, values);
      case 'prune':
      case 'merge':
        return await planCommand(ctx, values, command);
      case 'eval':
        return await evalCommand(ctx, values, path.resolve(values.model));
      case 'gradients':
        return await gradientsCommand(ctx, gradients!);
      case 'finetune':
        return await finetuneCommand({ ...ctx, finish: stop.finish, watch }, finetune!, values.json);
      case 'inspect':
        process.stdout.write((values.json ? JSON.stringify(info, null, 1) : formatInspect(info)) + '\n');
        return 0;
      case 'annotate': {
        const input = promptInput(values);
        const layer = values.layer === undefined ? undefined : parseLayer(values.layer, info.moeLayers);
        const { tokens, result } = await client.request('forward', { input, capture: { routing: true, hidden: false, logits: values.logits } }, { signal: abort.signal });
        const trace = buildTrace(info, tokens, result, { ...(layer === undefined ? {} : { layer }), logits: values.logits });
        process.stdout.write((values.json ? JSON.stringify(trace) : formatAnnotateTable(trace)) + '\n');
        return 0;
      }
      case 'export': {
        if (!values.out) throw new UsageError('--out DIR is required');
        const { files } = await client.request('exportOnnx', { outDir: path.resolve(values.out) }, { signal: abort.signal, onProgress: progressPrinter() });
        process.stdout.write(files.join('\n') + '\n');
        return 0;
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } finally {
    await client.dispose();
    stop.exitIfStopped(); // 130 / 143 / 129 whatever the request ended with, once the partial outputs are gone
  }
}

async function applyAdapterCommand(model: string, adapter: string | undefined, out: string | undefined): Promise<number> {
  if (!adapter) throw new UsageError('--adapter DIR is required');
  if (!out) throw new UsageError('--out DIR is required');
  installStagingCleanup();
  const stop = trapStopSignals(() => [out]);
  try {
    const { written } = await applyExpertAdapter(path.resolve(model), path.resolve(adapter), path.resolve(out), { signal: stop.signal, ...(progressPrinter() ? { onProgress: progressPrinter()! } : {}) });
    process.stdout.write(`wrote ${written.dir} (${written.files.length} files, ${written.bytes} bytes)\n`);
    return 0;
  } finally {
    stop.exitIfStopped();
  }
}

function promptInput(v: { text?: string | undefined; file?: string | undefined; ids?: string | undefined }): PromptInput {
  const given = [v.text, v.file, v.ids].filter((x) => x !== undefined).length;
  if (given !== 1) throw new UsageError('give exactly one of --text, --file, --ids');
  if (v.text !== undefined) return { text: v.text };
  if (v.ids !== undefined) {
    const ids = parseIdList(v.ids);
    if (!ids) throw new UsageError(`--ids must be comma-separated non-negative integers, got "${v.ids}"`);
    return { ids };
  }
  const file = path.resolve(v.file!);
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new MoeError('E_INPUT', `prompt file not found: ${file}`, file);
  }
  if (st.size > MAX_PROMPT_FILE) throw new MoeError('E_INPUT', `prompt file ${file} is ${st.size} bytes; the limit is ${MAX_PROMPT_FILE}`, file);
  return { text: fs.readFileSync(file, 'utf8') };
}

function parseLayer(s: string, moeLayers: readonly number[]): number {
  const n = Number(s);
  if (!Number.isInteger(n) || !moeLayers.includes(n)) throw new UsageError(`--layer ${s}: not a MoE layer of this model (MoE layers: ${moeLayers.join(', ') || 'none'})`);
  return n;
}

async function upcycleFileCommand(values: UpcycleFlags): Promise<number> {
  installStagingCleanup();
  const stop = trapStopSignals(() => (values.out !== undefined ? [values.out] : []));
  try {
    return await upcycleCommand(values, { write: (s) => process.stdout.write(s + '\n'), signal: stop.signal, onProgress: progressPrinter() });
  } finally {
    stop.exitIfStopped();
  }
}

async function addExpertsFileCommand(values: AddExpertsFlags): Promise<number> {
  installStagingCleanup();
  const stop = trapStopSignals(() => (values.out !== undefined ? [values.out] : []));
  try {
    return await addExpertsCommand(values, { write: (s) => process.stdout.write(s + '\n'), signal: stop.signal, onProgress: progressPrinter() });
  } finally {
    stop.exitIfStopped();
  }
}

function progressPrinter(): ((p: Progress) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (p) => {
    const line = `${p.stage} ${p.message ?? `${p.done}/${p.total}`}`.slice(0, 100);
    process.stderr.write(`\r${line.padEnd(100)}` + (p.done === p.total ? '\r' + ' '.repeat(100) + '\r' : ''));
  };
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`error: ${(e as Error).message}\n\n${USAGE}\n`);
      process.exitCode = 2;
      return;
    }
    const err = MoeError.from(e);
    process.stderr.write(`error: ${err.message}\n`);
    process.exitCode = err.code === 'E_CANCELLED' ? 130 : 1;
  },
);
