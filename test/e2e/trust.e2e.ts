// Workspace trust on (issue #8, 2): a folder the user has not trusted opens in Restricted Mode, and the
// extension still works there with the bundled demo model, but the model folder the workspace's
// .vscode/settings.json names (moeWorkbench.modelPath) is not loaded until the user trusts the folder.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { describe } from 'node:test';
import { e2eSession } from './e2eSession';
import { artifactsDir, repoRoot } from './paths';

/** A small real checkpoint (not the demo model), so the status bar tells which one is loaded. */
const workspaceModel = path.resolve(process.env['MOE_FIXTURES'] ?? path.join(repoRoot, '..', 'shared', 'fixtures', 'hf-moe'), 'mixtral');

describe('e2e: Restricted Mode (workspace trust on)', { timeout: 8 * 60_000 }, () => {
  const { wb, step, waitFor } = e2eSession({
    name: 'trust',
    workspacePrefix: 'moe-e2e-trust-',
    workspaceTrust: true,
    settings: { 'editor.hover.delay': 200, 'editor.minimap.enabled': false },
    prepare: async (workspace) => {
      await fs.access(path.join(workspaceModel, 'config.json')).catch(() => {
        throw new Error(`e2e: the workspace's model ${workspaceModel} is missing (the shared fixtures; MOE_FIXTURES overrides)`);
      });
      await fs.mkdir(path.join(workspace, '.vscode'));
      await fs.writeFile(path.join(workspace, '.vscode', 'settings.json'), JSON.stringify({ 'moeWorkbench.modelPath': workspaceModel }, null, 2));
      await fs.writeFile(path.join(workspace, 'hello.prompt'), 'Experts route tokens: 1, 2, 3.\n');
    },
  });

  const statusItem = (re: RegExp) => async (): Promise<string | undefined> => (await wb.statusBarText()).find((t) => re.test(t));

  step('the untrusted folder opens in Restricted Mode', async () => {
    await waitFor('the Restricted Mode badge in the status bar', statusItem(/Restricted Mode/));
  });

  step('the extension runs the demo model there, not the workspace\'s modelPath, and says why', async () => {
    await wb.openFile('hello.prompt');
    await waitFor('the demo model in the status bar', statusItem(/demo-model · 16×4 top-2/), 120_000);
    // The toast may have come and gone while the model loaded (toasts hide after a while): after a few
    // seconds without it, look in the notification centre, which keeps every notification.
    const isNote = (n: string): boolean => /Restricted Mode/.test(n) && /moeWorkbench\.modelPath/.test(n);
    const since = Date.now();
    const note = await waitFor('the Restricted Mode notification', async () => (await wb.notifications()).find(isNote) ?? (Date.now() - since > 5_000 ? (await wb.notificationCenter()).find(isNote) : undefined));
    assert.match(note, /is not loaded until you trust the workspace/);
    assert.ok(note.includes('mixtral'), `the notification names the held-back folder: ${note}`);
    const items = await wb.statusBarText();
    assert.ok(!items.some((t) => /mixtral · 8×2/.test(t)), `the workspace model is not loaded: ${JSON.stringify(items)}`);
    // The model item's tooltip (its aria label) says it too.
    const model = items.find((t) => /demo-model · 16×4 top-2/.test(t)) ?? '';
    assert.match(model, /Restricted Mode: this workspace's moeWorkbench\.modelPath .*mixtral.* is not loaded until you trust the workspace/);
    // Annotation works in Restricted Mode: a token's hover has its routing.
    const hover = await waitFor('a routing hover', async () => {
      const h = await wb.hoverToken(0).catch(() => '');
      return /L0/.test(h) ? h : undefined;
    });
    assert.match(hover, /L3/);
    await wb.screenshot(path.join(artifactsDir, 'trust-restricted.png'));
  });

  step('the Settings UI lists the settings under "MoE Workbench" without a "Moe Workbench" prefix', async () => {
    // Browsing the table of contents (a search result instead always shows the key's own prefix, wordified).
    await wb.runCommand('Preferences: Open Settings (UI)');
    const body = wb.page.locator('.settings-editor .settings-body');
    await body.first().waitFor({ state: 'visible', timeout: 30_000 });
    const rows = wb.page.locator('.settings-editor .settings-toc-container .monaco-list-row');
    const clickRow = async (label: string): Promise<void> => {
      let labels: string[] = [];
      const index = await waitFor(`"${label}" in the Settings table of contents`, async () => {
        labels = await rows.evaluateAll((els) => els.map((e) => e.innerText.replace(/\s+/g, ' ').trim()));
        const k = labels.findIndex((l) => l === label || l.startsWith(`${label} (`));
        if (k >= 0) return k;
        await wb.page.keyboard.press('PageDown'); // the list is virtual: bring later rows into the DOM
        return undefined;
      }).catch((e: Error) => {
        throw new Error(`${e.message}; the table of contents: ${JSON.stringify(labels)}`);
      });
      await rows.nth(index).click();
    };
    await clickRow('Extensions');
    await clickRow('MoE Workbench');
    // The settings list is virtual: rows below the fold are rendered only when scrolled to, so the lines seen
    // while scrolling down are collected.
    const seen: string[] = [];
    const shown = await waitFor('the extension\'s settings in the Settings UI', async () => {
      const text = await body.first().innerText().catch(() => '');
      for (const line of text.split('\n')) if (!seen.includes(line)) seen.push(line);
      const all = seen.join('\n');
      if (/^Model Path$/m.test(all) && /^Tokens Per Pass$/m.test(all)) return all;
      await body.first().hover().catch(() => undefined);
      await wb.page.mouse.wheel(0, 300);
      return undefined;
    });
    assert.doesNotMatch(shown, /Moe Workbench/, `the Settings UI shows:\n${shown}`);
    for (const label of ['Model Path', 'Debounce Ms', 'Tokens Per Pass']) assert.match(shown, new RegExp(`^${label}$`, 'm'), `"${label}" stands alone:\n${shown}`);
    await wb.screenshot(path.join(artifactsDir, 'trust-settings-ui.png'));
  });

  step('trusting the folder loads the workspace\'s model', async () => {
    await wb.runCommand('Workspaces: Manage Workspace Trust');
    // The Workspace Trust editor's primary button ("Trust" / "Trust Folder"; not "Don't Trust").
    const buttons = wb.page.locator('.workspace-trust-editor .monaco-button');
    const index = await waitFor('the Trust button of the Workspace Trust editor', async () => {
      const labels = await buttons.evaluateAll((els) => els.map((e) => e.innerText.trim()));
      const i = labels.findIndex((l) => /^Trust\b/.test(l));
      return i >= 0 ? i : undefined;
    });
    await buttons.nth(index).click();
    await waitFor('the workspace model in the status bar', statusItem(/mixtral · 8×2 top-2/), 120_000);
    assert.ok(!(await wb.statusBarText()).some((t) => /Restricted Mode/.test(t)), 'Restricted Mode has ended');
    await wb.screenshot(path.join(artifactsDir, 'trust-trusted.png'));
  });
});
