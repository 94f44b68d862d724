// What the tool's own markers say about a checkpoint: config.json's `moe_workbench_demo` (weights never
// trained) and moe_workbench.json (a prune or merge output: the source ids of its experts). Both are
// read defensively: a malformed marker becomes a warning, never a failed load.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ExpertOrigins } from '../protocol/modelInfo';
import { isRecord, readJsonFile } from './model/jsonFile';
import { RECORD_FILE } from './surgery/writeExpertPlan';

/** The config.json key src/devtools/untrainedMarker.ts writes; pruning and merging keep it (they change only the expert count). */
export const DEMO_MARKER_KEY = 'moe_workbench_demo';

export const DEFAULT_UNTRAINED_NOTE = 'random weights: the routing structure is planted by the generator, not learnt';

export interface ModelProvenance {
  readonly untrained?: { readonly note: string };
  readonly expertOrigins?: ExpertOrigins;
  readonly warnings: string[];
}

/** Reads the markers of the checkpoint in `dir`, whose MoE layers and expert count are known. */
export function readModelProvenance(dir: string, moeLayers: readonly number[], numExperts: number): ModelProvenance {
  const warnings: string[] = [];
  const untrained = readUntrained(path.join(dir, 'config.json'), warnings);
  const expertOrigins = moeLayers.length > 0 ? readOrigins(path.join(dir, RECORD_FILE), moeLayers, numExperts, warnings) : undefined;
  return { ...(untrained ? { untrained } : {}), ...(expertOrigins ? { expertOrigins } : {}), warnings };
}

function readUntrained(file: string, warnings: string[]): { note: string } | undefined {
  let raw: unknown;
  try {
    raw = readJsonFile(file, 'E_CONFIG', 4 * 1024 * 1024);
  } catch {
    return undefined; // the config loader has already read it; nothing to add here
  }
  if (!isRecord(raw) || raw[DEMO_MARKER_KEY] === undefined) return undefined;
  const m = raw[DEMO_MARKER_KEY];
  if (!isRecord(m) || typeof m['trained'] !== 'boolean') {
    warnings.push(`${file}: "${DEMO_MARKER_KEY}" should be an object like {"trained": false}; ignored`);
    return undefined;
  }
  if (m['trained']) return undefined;
  const note = typeof m['note'] === 'string' && m['note'].trim() !== '' ? m['note'].trim().slice(0, 300) : DEFAULT_UNTRAINED_NOTE;
  return { note };
}

const isId = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 1e6;

function readOrigins(file: string, moeLayers: readonly number[], numExperts: number, warnings: string[]): ExpertOrigins | undefined {
  if (!fs.existsSync(file)) return undefined; // not written by this tool's prune or merge
  let raw: unknown;
  try {
    raw = readJsonFile(file, 'E_CONFIG', 16 * 1024 * 1024);
  } catch (e) {
    warnings.push(`${(e as Error).message}; expert ids are shown without their source ids`);
    return undefined;
  }
  const fail = (why: string): undefined => {
    warnings.push(`${file}: ${why}; expert ids are shown without their source ids`);
    return undefined;
  };
  // A checkpoint whose tensors were updated in place (fine-tuned, an adapter applied) keeps its experts' ids:
  // their origins are those of the model it was made from, recorded as `previous`.
  while (isRecord(raw) && raw['format'] === 'moe-workbench.tensor-update') {
    if (raw['previous'] === undefined) return undefined;
    raw = raw['previous'];
  }
  // An upcycled model's experts are new (all copies or parts of the dense MLP), and a grown model's old experts
  // keep their ids (its record lists the new ones' sources): there are no renumbered source ids to show.
  if (isRecord(raw) && (raw['format'] === 'moe-workbench.upcycle' || raw['format'] === 'moe-workbench.add-experts')) return undefined;
  if (!isRecord(raw) || raw['format'] !== 'moe-workbench.operation') return fail('not a "moe-workbench.operation" record');
  const experts = raw['experts'];
  if (!Array.isArray(experts)) return fail('"experts" is not a list');
  const source = isRecord(raw['source']) && typeof raw['source']['dir'] === 'string' ? raw['source']['dir'] : '';
  const planOp = isRecord(raw['plan']) ? raw['plan']['operation'] : undefined;
  let merging = planOp === 'merge';
  const layers: { layer: number; experts: number[][] }[] = [];
  for (const layer of moeLayers) {
    const i = experts.findIndex((x) => isRecord(x) && x['layer'] === layer);
    if (i < 0) return fail(`has no entry for MoE layer ${layer}`);
    const entry = experts[i] as Record<string, unknown>;
    const kept = entry['kept'];
    if (!Array.isArray(kept) || !kept.every(isId)) return fail(`experts[${i}].kept is not a list of expert ids`);
    if (kept.length !== numExperts) return fail(`experts[${i}].kept lists ${kept.length} experts, but layer ${layer} has ${numExperts}`);
    const merged = entry['merged'] ?? [];
    if (!Array.isArray(merged) || !merged.every((g): g is number[] => Array.isArray(g) && g.every(isId))) return fail(`experts[${i}].merged is not a list of groups of expert ids`);
    if (merged.length > 0) merging = true;
    layers.push({
      layer,
      experts: kept.map((row) => {
        const group = merged.find((g) => g.includes(row));
        // The router row's expert first, then the others it absorbed.
        return group ? [row, ...group.filter((x) => x !== row).sort((a, b) => a - b)] : [row];
      }),
    });
  }
  return { operation: merging ? 'merge' : 'prune', source, layers };
}
