// Marks a generated checkpoint as never trained: config.json's `moe_workbench_demo` key, which the views read
// (src/engine/modelProvenance.ts) to label its routing as planted, not learnt. For random models made by tests
// and benchmarks; the shipped demo model is trained (media/demo-model/TRAINING.md) and carries no marker.
import * as fs from 'node:fs';
import { DEFAULT_UNTRAINED_NOTE, DEMO_MARKER_KEY } from '../engine/modelProvenance';

/** Adds `"moe_workbench_demo": {"trained": false, "note": ...}` to a config.json (Transformers keeps unknown keys as attributes). */
export function markUntrained(configFile: string, note = DEFAULT_UNTRAINED_NOTE): void {
  const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  config[DEMO_MARKER_KEY] = { trained: false, note };
  fs.writeFileSync(configFile, JSON.stringify(config, null, 1) + '\n');
}
