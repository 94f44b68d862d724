// What a walk through a folder of calibration data leaves out besides VCS and build folders: model
// checkpoints (the tool's own outputs pruned into the workspace, or any Hugging Face folder) and the files
// MoE Workbench writes. Profiling "the workspace" must profile the user's documents, not config.json,
// tokenizer.json and report.json of a checkpoint written there (issue #8: 4 documents became 18).
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Files only a model folder or this tool has; skipped wherever they are found by a walk. */
const TOOL_FILES = new Set(['moe_workbench.json', 'moe-workbench-profile.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'added_tokens.json', 'generation_config.json', 'model.safetensors.index.json']);
/** The tool's profile folders (next to a model, or a copy). */
const TOOL_DIRS = new Set(['moe-workbench-profiles']);
const REPORT_FILES = ['report.html', 'report.json'];

function entries(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** A checkpoint folder: config.json with safetensors weights beside it. */
export function isModelFolder(dir: string): boolean {
  const names = entries(dir);
  return names.includes('config.json') && names.some((n) => n.endsWith('.safetensors') || n.endsWith('.safetensors.index.json'));
}

/** Whether `name`, found in `dir` by a walk (not named by the user), is a model folder or one of the tool's outputs. */
export function isModelOrToolOutput(dir: string, name: string): boolean {
  if (TOOL_FILES.has(name) || TOOL_DIRS.has(name) || name.endsWith('.safetensors')) return true;
  const p = path.join(dir, name);
  if (REPORT_FILES.includes(name)) {
    // A report the tool wrote has its twin (and usually moe_workbench.json) beside it; a lone report.json is the user's.
    const siblings = entries(dir);
    return siblings.includes('moe_workbench.json') || REPORT_FILES.every((r) => siblings.includes(r));
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return false; // the walk reports it
  }
  return st.isDirectory() && isModelFolder(p);
}
