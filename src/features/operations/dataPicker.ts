// Choosing the data an operation runs on (calibration for a profile, training data for a fine-tuning run):
// the workspace folders, the current file, the last choice, or files / folders from the open dialog.
import * as path from 'node:path';
import * as vscode from 'vscode';

export interface DataPickerOptions {
  readonly title: string;
  readonly placeHolder: string;
  /** Label of the open dialog's button, e.g. "Profile on These". */
  readonly openLabel: string;
  readonly dialogTitle: string;
  /** Offered first as "Same data as last time". */
  readonly lastData?: readonly string[];
}

/** Absolute paths, or undefined when the user backed out. */
export async function pickDataPaths(opts: DataPickerOptions): Promise<string[] | undefined> {
  type Item = vscode.QuickPickItem & { paths?: string[]; pick?: 'files' | 'folders' };
  const folders = vscode.workspace.workspaceFolders ?? [];
  const active = vscode.window.activeTextEditor?.document;
  const items: Item[] = [];
  if (opts.lastData) items.push({ label: '$(history) Same data as last time', description: opts.lastData.map((p) => path.basename(p)).join(', '), paths: [...opts.lastData] });
  for (const f of folders) items.push({ label: `$(root-folder) Workspace folder ${f.name}`, description: f.uri.fsPath, paths: [f.uri.fsPath] });
  if (active?.uri.scheme === 'file') items.push({ label: '$(file) Current file', description: vscode.workspace.asRelativePath(active.uri), paths: [active.uri.fsPath] });
  items.push({ label: '$(files) Choose files…', pick: 'files' }, { label: '$(folder-opened) Choose folders…', pick: 'folders' });
  const pick = await vscode.window.showQuickPick(items, { title: opts.title, placeHolder: opts.placeHolder, ignoreFocusOut: true });
  if (!pick) return undefined;
  if (pick.paths) return pick.paths;
  const uris = await vscode.window.showOpenDialog({
    canSelectFiles: pick.pick === 'files',
    canSelectFolders: pick.pick === 'folders',
    canSelectMany: true,
    openLabel: opts.openLabel,
    title: opts.dialogTitle,
    ...(folders[0] ? { defaultUri: folders[0].uri } : {}),
  });
  return uris?.map((u) => u.fsPath);
}
