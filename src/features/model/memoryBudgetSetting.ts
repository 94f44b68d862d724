// moeWorkbench.memoryBudget: the engine's memory budget for the models the extension loads ("8GiB";
// empty: derived from the free memory). Read at each load, so a change applies to the next one.
import * as vscode from 'vscode';
import { parseMemoryBudget } from '../../engine/memory/memoryBudget';
import { Settings } from '../ids';

/** The budget in bytes, undefined for automatic; E_INPUT naming the setting when it is not a size. */
export function memoryBudgetSetting(): number | undefined {
  const raw = vscode.workspace.getConfiguration(Settings.section).get<unknown>(Settings.memoryBudget, '');
  const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : JSON.stringify(raw);
  return text === '' ? undefined : parseMemoryBudget(text, `setting ${Settings.section}.${Settings.memoryBudget}`);
}
