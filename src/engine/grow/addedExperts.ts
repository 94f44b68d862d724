// Which experts of a checkpoint are new, from its moe_workbench.json (for `--train new-experts`): after
// add-experts, the ids it appended per MoE layer; after an upcycle, every expert of every MoE layer (all were
// made from the dense MLP). A record of tensors updated in place (finetune, apply-adapter) keeps the ids of
// the model it was made from and is followed to its `previous` record. Anything else: no added experts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MoeError } from '../../protocol/moeError';
import { isRecord, readJsonFile } from '../model/jsonFile';
import { RECORD_FILE } from '../surgery/checkpointFiles';
import type { TrainSpecContext } from '../training/trainSpec';
import { UPCYCLE_FORMAT } from '../upcycle/upcycleRecord';
import { ADD_EXPERTS_FORMAT } from './addExpertsRecord';

const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Per MoE layer, the ids of the experts the recorded operation added, ascending; undefined when the model
 * has no record, or its record is of another operation. A malformed record of add-experts or upcycle is an
 * E_CONFIG error naming the file (training the wrong experts silently would be worse).
 */
export function addedExperts(modelDir: string): Map<number, number[]> | undefined {
  const file = path.join(path.resolve(modelDir), RECORD_FILE);
  if (!fs.existsSync(file)) return undefined;
  let raw: unknown = readJsonFile(file, 'E_CONFIG', 16 * 1024 * 1024);
  while (isRecord(raw) && raw['format'] === 'moe-workbench.tensor-update') raw = raw['previous'];
  if (!isRecord(raw)) return undefined;
  const bad = (why: string): never => {
    throw new MoeError('E_CONFIG', `${file}: ${why}; the added experts cannot be read`, file);
  };
  const layers = raw['layers'];
  if (raw['format'] !== ADD_EXPERTS_FORMAT && raw['format'] !== UPCYCLE_FORMAT) return undefined;
  if (!Array.isArray(layers)) return bad('"layers" is not a list');
  const key = raw['format'] === ADD_EXPERTS_FORMAT ? 'added' : 'experts';
  const out = new Map<number, number[]>();
  layers.forEach((l, i) => {
    if (!isRecord(l) || !isId(l['layer'])) return bad(`layers[${i}].layer is not a layer index`);
    const list = l[key];
    if (!Array.isArray(list)) return bad(`layers[${i}].${key} is not a list`);
    const ids = list.map((x, j) => (isRecord(x) && isId(x['expert']) ? x['expert'] : bad(`layers[${i}].${key}[${j}].expert is not an expert id`)));
    out.set(l['layer'], [...new Set(ids)].sort((a, b) => a - b));
  });
  return out.size > 0 ? out : undefined;
}

/**
 * The context resolveTrainSpecs needs for the model at `modelDir`: its added experts, read only when a spec
 * asks for new-experts (so a malformed record cannot refuse other specs).
 */
export function trainSpecContext(modelDir: string, specs: readonly string[]): TrainSpecContext {
  const wanted = specs.some((s) => s.trim() === 'new-experts');
  return { modelDir, ...(wanted ? { newExperts: addedExperts(modelDir) } : {}) };
}
