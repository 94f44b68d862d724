// Runs inside VS Code's extension host (desktop runner): the extension annotates a .prompt file on open,
// and the hover provider answers with the routing of every MoE layer.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function run(): Promise<void> {
  const folder = vscode.workspace.workspaceFolders![0]!.uri;
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder, 'hello.prompt'));
  assert.equal(doc.languageId, 'moe-prompt');
  await vscode.window.showTextDocument(doc);
  const hovers = await until('a routing hover', async () => {
    const h = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, new vscode.Position(0, 1));
    const text = h.flatMap((x) => x.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    return /\| L0/.test(text) ? text : undefined;
  });
  for (const layer of [0, 1, 2, 3]) assert.match(hovers, new RegExp(`\\| (⚠ \\*\\*)?L${layer}`));
  console.log('desktop suite: 1 passed, 0 failed');
}
