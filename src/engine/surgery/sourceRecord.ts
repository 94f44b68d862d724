// The source model's own moe_workbench.json, carried as `previous` by an operation that updates tensors in
// place (fine-tuning, applying an adapter): the experts keep the ids and origins that record describes
// (pruned/merged origins, experts added by upcycle or add-experts), so they must travel with the new folder.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJsonFile } from '../model/jsonFile';
import { RECORD_FILE } from './checkpointFiles';

/** The parsed record of `modelDir`, or undefined when there is none or it is malformed (modelProvenance warns about that on load). */
export function sourceRecord(modelDir: string): unknown {
  const file = path.join(modelDir, RECORD_FILE);
  try {
    return fs.existsSync(file) ? readJsonFile(file, 'E_CONFIG', 16 * 1024 * 1024) : undefined;
  } catch {
    return undefined;
  }
}
