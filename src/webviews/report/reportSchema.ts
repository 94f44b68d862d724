// The whole schema of a saved report.json (an OperationReport), checked value by value when a report is
// opened: a report is a file anyone can hand the user, and each of its numbers ends up in a webview, so a
// "number" that is a string is refused with its JSON path, not rendered. Measures that can honestly be
// NaN or infinite (perplexity of a broken model, NaN gate weights) are null in JSON and read back as NaN.
// Pure: no vscode import.
import { PRUNE_METHODS, type AffectedToken, type EvalReport, type EvalSide, type ExpertPlan, type ExpertStatistic, type LayerPlan, type OperationRecord, type OperationReport, type PlanImpact, type PlannedExpert, type PruneTarget } from '../../protocol/expertOps';
import {
  ShapeError,
  expectArrayOf,
  expectInteger,
  expectNumber,
  expectRecord,
  expectString,
  optionalField,
} from '../../protocol/jsonShape';

const STATISTICS: readonly ExpertStatistic[] = ['frequency', 'gate', 'gateMean', 'importance', 'reap', 'ean', 'normMean', 'maxNorm'];

/** The report in `v`, or a ShapeError naming the first bad value. */
export function parseReport(v: unknown): OperationReport {
  const r = expectRecord(v, '');
  const statistic = oneOf(r['statistic'], 'statistic', STATISTICS);
  const evaluation = optionalField(r, 'evaluation', '', parseEvaluation);
  const impact = optionalField(r, 'impact', '', parseImpact);
  const w = expectRecord(r['written'], 'written');
  const skipped = optionalField(w, 'skipped', 'written', skippedFiles);
  const removedStale = optionalField(w, 'removedStale', 'written', (x, at) => expectArrayOf(x, at, expectString));
  return {
    title: expectString(r['title'], 'title'),
    createdAt: expectString(r['createdAt'], 'createdAt'),
    record: parseRecord(r['record'], 'record'),
    written: {
      dir: expectString(w['dir'], 'written.dir'),
      files: expectArrayOf(w['files'], 'written.files', expectString),
      bytes: expectInteger(w['bytes'], 'written.bytes'),
      ...(skipped ? { skipped } : {}),
      ...(removedStale ? { removedStale } : {}),
    },
    statistic,
    ...(evaluation ? { evaluation } : {}),
    ...(impact ? { impact } : {}),
    notes: expectArrayOf(r['notes'], 'notes', expectString),
  };
}

function parseRecord(v: unknown, at: string): OperationRecord {
  const r = expectRecord(v, at);
  if (r['format'] !== 'moe-workbench.operation') throw new ShapeError(`${at}.format`, '"moe-workbench.operation" (this is not a MoE Workbench operation report)', r['format']);
  if (r['version'] !== 1) throw new ShapeError(`${at}.version`, '1 (the record version this release reads)', r['version']);
  const s = expectRecord(r['source'], `${at}.source`);
  const profile = optionalField(r, 'profile', at, (x, pat) => {
    const p = expectRecord(x, pat);
    const sha256 = optionalField(p, 'sha256', pat, expectString);
    const originalFile = optionalField(p, 'originalFile', pat, expectString);
    return {
      file: expectString(p['file'], `${pat}.file`),
      ...(sha256 !== undefined ? { sha256 } : {}),
      ...(originalFile !== undefined ? { originalFile } : {}),
      dataSha256: expectString(p['dataSha256'], `${pat}.dataSha256`),
      tokens: expectInteger(p['tokens'], `${pat}.tokens`),
    };
  });
  const skippedList = optionalField(r, 'skippedFiles', at, skippedFiles);
  return {
    format: 'moe-workbench.operation',
    version: 1,
    createdAt: expectString(r['createdAt'], `${at}.createdAt`),
    tool: expectString(r['tool'], `${at}.tool`),
    source: { dir: expectString(s['dir'], `${at}.source.dir`), sha256: expectString(s['sha256'], `${at}.source.sha256`) },
    ...(profile ? { profile } : {}),
    plan: parsePlan(r['plan'], `${at}.plan`),
    experts: expectArrayOf(r['experts'], `${at}.experts`, (x, eat) => {
      const e = expectRecord(x, eat);
      const merged = optionalField(e, 'merged', eat, (m, mat) => expectArrayOf(m, mat, ids));
      return { layer: expectInteger(e['layer'], `${eat}.layer`), kept: ids(e['kept'], `${eat}.kept`), removed: ids(e['removed'], `${eat}.removed`), ...(merged ? { merged } : {}) };
    }),
    ...(skippedList ? { skippedFiles: skippedList } : {}),
  };
}

function parsePlan(v: unknown, at: string): ExpertPlan {
  const p = expectRecord(v, at);
  const operation = oneOf(p['operation'], `${at}.operation`, ['prune', 'merge'] as const);
  const q = expectRecord(p['parameters'], `${at}.parameters`);
  const pat = `${at}.parameters`;
  const parameters =
    operation === 'merge'
      ? { keep: expectInteger(q['keep'], `${pat}.keep`, 1) }
      : {
          method: oneOf(q['method'], `${pat}.method`, PRUNE_METHODS),
          target: parseTarget(q['target'], `${pat}.target`),
          protect: expectArrayOf(q['protect'], `${pat}.protect`, (x, xat) => {
            const e = expectRecord(x, xat);
            return { layer: expectInteger(e['layer'], `${xat}.layer`), expert: expectInteger(e['expert'], `${xat}.expert`) };
          }),
        };
  return { operation, description: expectString(p['description'], `${at}.description`), parameters, layers: expectArrayOf(p['layers'], `${at}.layers`, parseLayerPlan) };
}

function parseTarget(v: unknown, at: string): PruneTarget {
  const t = expectRecord(v, at);
  const kind = oneOf(t['kind'], `${at}.kind`, ['keep', 'ratio', 'global'] as const);
  if (kind === 'keep') return { kind, keep: expectInteger(t['keep'], `${at}.keep`, 1) };
  const ratio = expectNumber(t['ratio'], `${at}.ratio`, 0, 1);
  return kind === 'ratio' ? { kind, ratio } : { kind, ratio, minPerLayer: expectInteger(t['minPerLayer'], `${at}.minPerLayer`) };
}

function parseLayerPlan(v: unknown, at: string): LayerPlan {
  const l = expectRecord(v, at);
  const E = expectInteger(l['numExperts'], `${at}.numExperts`, 1);
  const expert = (x: unknown, xat: string): number => expectInteger(x, xat, 0, E - 1);
  const experts = expectArrayOf(l['experts'], `${at}.experts`, (x, xat): PlannedExpert => {
    const e = expectRecord(x, xat);
    const members = optionalField(e, 'members', xat, (m, mat) => expectArrayOf(m, mat, expert));
    return {
      sources: expectArrayOf(e['sources'], `${xat}.sources`, (s, sat) => {
        const o = expectRecord(s, sat);
        return { expert: expert(o['expert'], `${sat}.expert`), weight: expectNumber(o['weight'], `${sat}.weight`, 0) };
      }),
      routerRow: expert(e['routerRow'], `${xat}.routerRow`),
      ...(members ? { members } : {}),
    };
  });
  return {
    layer: expectInteger(l['layer'], `${at}.layer`),
    numExperts: E,
    topK: expectInteger(l['topK'], `${at}.topK`, 1, E),
    experts,
    removed: expectArrayOf(l['removed'], `${at}.removed`, expert),
    scores: expectArrayOf(l['scores'], `${at}.scores`, measure, E, 'scores (one per expert)'),
  };
}

function parseEvaluation(v: unknown, at: string): EvalReport {
  const e = expectRecord(v, at);
  const document = optionalField(e, 'document', at, (x, dat) => {
    const d = expectRecord(x, dat);
    return {
      tokens: expectInteger(d['tokens'], `${dat}.tokens`),
      changedPredictions: expectInteger(d['changedPredictions'], `${dat}.changedPredictions`),
      routingChanged: expectArrayOf(d['routingChanged'], `${dat}.routingChanged`, (r, rat) => {
        const o = expectRecord(r, rat);
        return { layer: expectInteger(o['layer'], `${rat}.layer`), share: measure(o['share'], `${rat}.share`) };
      }),
      perToken: expectArrayOf(d['perToken'], `${dat}.perToken`, (t, tat) => {
        const o = expectRecord(t, tat);
        return { index: expectInteger(o['index'], `${tat}.index`), text: expectString(o['text'], `${tat}.text`), before: expectString(o['before'], `${tat}.before`), after: expectString(o['after'], `${tat}.after`), kl: measure(o['kl'], `${tat}.kl`) };
      }),
    };
  });
  return {
    tokens: expectInteger(e['tokens'], `${at}.tokens`),
    chunks: expectInteger(e['chunks'], `${at}.chunks`),
    baseline: parseSide(e['baseline'], `${at}.baseline`),
    candidate: parseSide(e['candidate'], `${at}.candidate`),
    top1Agreement: measure(e['top1Agreement'], `${at}.top1Agreement`),
    meanKl: measure(e['meanKl'], `${at}.meanKl`),
    ...(document ? { document } : {}),
    runMs: expectNumber(e['runMs'], `${at}.runMs`, 0),
  };
}

function parseSide(v: unknown, at: string): EvalSide {
  const s = expectRecord(v, at);
  return {
    dir: expectString(s['dir'], `${at}.dir`),
    name: expectString(s['name'], `${at}.name`),
    perplexity: measure(s['perplexity'], `${at}.perplexity`),
    bytesOnDisk: expectInteger(s['bytesOnDisk'], `${at}.bytesOnDisk`),
    totalParams: expectInteger(s['totalParams'], `${at}.totalParams`),
    activeParams: expectInteger(s['activeParams'], `${at}.activeParams`),
    numExperts: expectInteger(s['numExperts'], `${at}.numExperts`),
  };
}

function parseImpact(v: unknown, at: string): PlanImpact {
  const i = expectRecord(v, at);
  const tokens = expectInteger(i['tokens'], `${at}.tokens`);
  return {
    tokens,
    affectedTokens: expectInteger(i['affectedTokens'], `${at}.affectedTokens`, 0, tokens),
    perLayer: expectArrayOf(i['perLayer'], `${at}.perLayer`, (x, pat) => {
      const p = expectRecord(x, pat);
      return { layer: expectInteger(p['layer'], `${pat}.layer`), affected: expectInteger(p['affected'], `${pat}.affected`, 0, tokens), gateMassLost: measure(p['gateMassLost'], `${pat}.gateMassLost`) };
    }),
    worst: expectArrayOf(i['worst'], `${at}.worst`, parseAffected),
  };
}

function parseAffected(v: unknown, at: string): AffectedToken {
  const w = expectRecord(v, at);
  const document = optionalField(w, 'document', at, expectString);
  const line = optionalField(w, 'line', at, (x, xat) => expectInteger(x, xat, 1));
  const before = optionalField(w, 'before', at, expectString);
  const after = optionalField(w, 'after', at, expectString);
  return {
    index: expectInteger(w['index'], `${at}.index`),
    text: expectString(w['text'], `${at}.text`),
    massLost: measure(w['massLost'], `${at}.massLost`),
    layers: ids(w['layers'], `${at}.layers`),
    ...(document !== undefined ? { document } : {}),
    ...(line !== undefined ? { line } : {}),
    ...(before !== undefined ? { before } : {}),
    ...(after !== undefined ? { after } : {}),
  };
}

/** A measured number: finite, or null for a NaN/±Infinity that was measured (read back as NaN). */
function measure(v: unknown, at: string): number {
  return v === null ? NaN : expectNumber(v, at);
}

/** Files a write left out, and why (OperationRecord.skippedFiles, WrittenCheckpoint.skipped). */
function skippedFiles(v: unknown, at: string): { name: string; reason: string }[] {
  return expectArrayOf(v, at, (x, xat) => {
    const o = expectRecord(x, xat);
    return { name: expectString(o['name'], `${xat}.name`), reason: expectString(o['reason'], `${xat}.reason`) };
  });
}

function ids(v: unknown, at: string): number[] {
  return expectArrayOf(v, at, (x, xat) => expectInteger(x, xat));
}

function oneOf<T extends string>(v: unknown, at: string, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw new ShapeError(at, `one of ${allowed.map((a) => `"${a}"`).join(', ')}`, v);
  return v as T;
}
