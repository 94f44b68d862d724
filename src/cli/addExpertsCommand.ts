// `moe-workbench add-experts`: N new experts in every MoE layer of a trained MoE (issue #11 §2), copied from
// the layer's most-used experts on --data (hot, the default), from listed experts (L:E,...) or drawn cold, as
// copies or with noise / drop, router rows copied, random or from the data (domain). A file operation run in
// the CLI process, like upcycle: flags are checked first (UsageError), then the engine checks the model
// (MoeError), and the result's logits are compared to the source's before the folder is committed (unless --no-eval).
import * as path from 'node:path';
import { ADD_EXPERTS_DEFAULTS, type AddExpertsOptions, GROW_METHODS, type ListedSource, ROUTER_ROW_INITS, type SourceRule } from '../engine/grow/addExpertsPlan';
import type { AddExpertsRecord } from '../engine/grow/addExpertsRecord';
import { writeAddedExperts } from '../engine/grow/writeAddedExperts';
import { UsageError } from './expertCommands';
import { decimal, integer, millions, oneOf, parametersOf, type UpcycleIo } from './upcycleCommand';

/** The flags only add-experts reads, for cli.ts's parseArgs options (model, out, method, ratio, data, seed, no-eval, json are shared; router is upcycle's too). */
export const ADD_EXPERTS_FLAG_OPTIONS = {
  count: { type: 'string' },
  from: { type: 'string' },
  router: { type: 'string' },
} as const;

export interface AddExpertsFlags {
  readonly model?: string | undefined;
  readonly out?: string | undefined;
  readonly count?: string | undefined;
  readonly from?: string | undefined;
  readonly method?: string | undefined;
  readonly ratio?: string | undefined;
  readonly router?: string | undefined;
  readonly data?: readonly string[] | undefined;
  readonly seed?: string | undefined;
  readonly 'no-eval'?: boolean | undefined;
  readonly json?: boolean | undefined;
}

export interface AddExpertsRequest {
  readonly model: string;
  readonly out: string;
  readonly options: AddExpertsOptions;
  readonly evaluate: boolean;
}

const FROM_FORMS = 'hot, cold, or L:E,L:E,... (expert E of decoder layer L, N entries for every MoE layer; end the list with ,hot to give the other layers their most-used experts)';

/** --from: hot, cold, or a list of L:E items with an optional trailing hot. */
export function parseFrom(v: string): SourceRule {
  const s = v.trim();
  if (s === 'hot' || s === 'cold') return s;
  const items = s.split(',').map((x) => x.trim());
  const rest = items[items.length - 1] === 'hot' ? ('hot' as const) : undefined;
  const list = (rest ? items.slice(0, -1) : items).map((item): ListedSource => {
    const m = /^(\d+):(\d+)$/.exec(item);
    if (!m) throw new UsageError(`--from "${v}": "${item}" is not L:E; the forms are ${FROM_FORMS}`);
    return { layer: Number(m[1]), expert: Number(m[2]) };
  });
  if (list.length === 0) throw new UsageError(`--from "${v}": the forms are ${FROM_FORMS}`);
  return rest ? { list, rest } : { list };
}

/** The request the flags ask for; UsageError naming the flag when one is missing, malformed or does not apply. */
export function addExpertsRequest(v: AddExpertsFlags): AddExpertsRequest {
  if (!v.model) throw new UsageError('--model DIR is required (a Mixture-of-Experts checkpoint)');
  if (!v.out) throw new UsageError('--out DIR is required');
  const count = integer('count', v.count, 1);
  if (count === undefined) throw new UsageError('--count N is required (experts to add to every MoE layer)');
  const from = v.from === undefined ? ADD_EXPERTS_DEFAULTS.from : parseFrom(v.from);
  const method = oneOf('method', v.method, GROW_METHODS) ?? ADD_EXPERTS_DEFAULTS.method;
  if (v.ratio !== undefined && method === 'copy') throw new UsageError('--ratio applies to --method noise and drop, not copy');
  const ratio = decimal('ratio', v.ratio, (x) => x > 0 && x <= 1, 'a fraction of neurons in (0, 1]') ?? ADD_EXPERTS_DEFAULTS.ratio;
  const router = oneOf('router', v.router, ROUTER_ROW_INITS);
  const data = (v.data ?? []).map((d) => path.resolve(d));
  const hot = from === 'hot' || (typeof from === 'object' && from.rest === 'hot');
  if (from === 'cold' && method !== 'copy') throw new UsageError(`--method ${method} edits a copy of a source expert; --from cold draws new experts from scratch`);
  if (from === 'cold' && router === 'copy') throw new UsageError('--router copy needs source experts; --from cold has none (use --router random or domain)');
  if (hot && data.length === 0) throw new UsageError(`--from ${v.from === undefined ? 'hot (the default)' : v.from} needs --data PATH... (the tokens whose routing ranks each layer's experts); or list the sources with --from L:E,..., or use --from cold`);
  if (router === 'domain' && data.length === 0) throw new UsageError('--router domain needs --data PATH... (the tokens whose router inputs it averages)');
  if (data.length > 0 && !hot && router !== 'domain') throw new UsageError('--data is used by --from hot and --router domain only');
  const seed = integer('seed', v.seed, 0, 0xffffffff) ?? ADD_EXPERTS_DEFAULTS.seed;
  const options: AddExpertsOptions = { ...ADD_EXPERTS_DEFAULTS, count, from, method, ratio, seed, ...(router ? { router } : {}), ...(data.length > 0 ? { data } : {}) };
  return { model: path.resolve(v.model), out: path.resolve(v.out), options, evaluate: !v['no-eval'] };
}

function sourcesText(r: AddExpertsRecord): string {
  const tokens = r.data ? ` on ${r.data.tokens.toLocaleString('en-US')} --data tokens` : '';
  const rule = { hot: `hot (each layer's most-used experts${tokens})`, cold: 'cold (each matrix drawn from N(mean, std²) of that matrix over the layer\'s experts)', list: 'listed', 'list+hot': `listed, the other layers hot (most-used experts${tokens})` }[r.settings.from];
  if (r.settings.from === 'cold') return rule;
  return `${rule}: ${r.layers.map((l) => `layer ${l.layer} ${l.added.map((a) => `${a.expert}←${a.from}`).join(' ')}`).join('; ')}`;
}

function methodText(r: AddExpertsRecord): string {
  switch (r.method) {
    case 'copy':
      return r.settings.from === 'cold' ? 'cold (no source expert)' : 'copy (byte copies of their sources)';
    case 'noise':
      return `noise (copies with N(0, ${r.settings.noiseStd}²) on ${r.settings.ratio} of each new expert's neurons)`;
    case 'drop':
      return `drop (copies with ${r.settings.ratio} of each new expert's neurons re-drawn, ${r.settings.dropMode} index sets)`;
  }
}

function routerText(r: AddExpertsRecord): string {
  switch (r.settings.router) {
    case 'copy':
      return 'copy (each new row its source\'s row)';
    case 'random':
      return `random (zero-mean uniform, std ${r.settings.routerStd})`;
    case 'domain':
      return `domain (${r.settings.count > 1 ? `${r.settings.count} spherical k-means centroids of` : 'the mean of'} the router inputs of ${r.domain?.tokens.toLocaleString('en-US')} --data tokens, at the layer's mean row norm)`;
  }
}

/** Runs the command; returns the exit code (errors are thrown: UsageError → 2, MoeError → 1 in cli.ts). */
export async function addExpertsCommand(v: AddExpertsFlags, io: UpcycleIo): Promise<number> {
  const req = addExpertsRequest(v);
  const { written, record, plan } = await writeAddedExperts(req.model, req.out, req.options, { evaluate: req.evaluate, ...(io.signal ? { signal: io.signal } : {}), ...(io.onProgress ? { onProgress: io.onProgress } : {}) });
  const before = parametersOf(req.model);
  const after = parametersOf(written.dir);
  if (v.json) {
    io.write(JSON.stringify({ dir: written.dir, files: written.files, bytes: written.bytes, parameters: { before: before.total, after: after.total, activePerToken: after.active }, record }));
    return 0;
  }
  const s = record.settings;
  io.write(`added       ${s.count} expert${s.count === 1 ? '' : 's'} to each of ${plan.moeLayers.length} MoE layers of ${record.source.modelType}: ${s.numExpertsBefore} → ${s.numExpertsAfter} experts (new ids ${s.numExpertsBefore}..${s.numExpertsAfter - 1}), top-${s.topK}`);
  io.write(`sources     ${sourcesText(record)}`);
  io.write(`method      ${methodText(record)}`);
  io.write(`router      ${routerText(record)}, seed ${record.seed}`);
  io.write(`parameters  ${millions(before.total)} → ${millions(after.total)} total, ${millions(after.active)} active per token`);
  io.write(`function    ${record.functionPreservation.rule}`);
  const ev = record.evaluation;
  if (ev) io.write(`difference  max |logit − source logit| ${ev.maxAbsLogitDiff.toExponential(2)}, mean ${ev.meanAbsLogitDiff.toExponential(2)}, top-1 agreement ${(100 * ev.top1Agreement).toFixed(1)}% over ${ev.sequences} sequences (${ev.tokens} tokens)`);
  else io.write('difference  not measured (--no-eval)');
  io.write(`wrote       ${written.dir} (${written.files.length} files, ${written.bytes.toLocaleString('en-US')} bytes)`);
  for (const x of written.skipped ?? []) io.write(`skipped     ${x.name}: ${x.reason}`);
  return 0;
}
