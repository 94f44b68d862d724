// Upcycling in VS Code (issue #11 §4, §5): the dense qwen3 fixture as the workspace's model, "MoE: Upcycle to
// MoE…" through the palette and its dialogs (copy, 4 experts, top-2, random routers, all layers), the preview
// (families, parameters, the copy guarantee, a row per layer), Write Checkpoint… into a workspace folder, the
// report tab, then "Open Upcycled Model" from the notification and a routing hover on the open prompt that
// shows the new MoE's experts — in code-server with the packaged extension and the real engine.
import * as assert from 'node:assert/strict';
import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { describe } from 'node:test';
import { e2eSession } from './e2eSession';
import { artifactsDir, repoRoot } from './paths';
import type { DomElement, FrameLocator } from './playwright';

const denseModel = path.resolve(process.env['MOE_FIXTURES'] ?? path.join(repoRoot, '..', 'shared', 'fixtures', 'hf-moe'), 'qwen3');
const PROMPT = 'Experts route tokens: 1, 2, 3. The router picks two of four.\n';

describe('e2e: upcycle a dense model to an MoE', { timeout: 10 * 60_000 }, () => {
  const { wb, workspace, step, waitFor, answerInput, pick, boxValue, answerFolderDialog } = e2eSession({
    name: 'upcycle',
    workspacePrefix: 'moe-e2e-upcycle-',
    settings: { 'editor.minimap.enabled': false, 'editor.hover.delay': 200 },
    prepare: async (workspace) => {
      await fs.access(path.join(denseModel, 'config.json')).catch(() => {
        throw new Error(`e2e: the dense fixture ${denseModel} is missing (the shared fixtures; MOE_FIXTURES overrides)`);
      });
      await fs.mkdir(path.join(workspace, '.vscode'));
      await fs.writeFile(path.join(workspace, '.vscode', 'settings.json'), JSON.stringify({ 'moeWorkbench.modelPath': denseModel }, null, 2));
      await fs.writeFile(path.join(workspace, 'hello.prompt'), PROMPT);
    },
  });

  const tabLabels = (): Promise<string[]> => wb.page.locator('.part.editor .tab').evaluateAll((tabs: DomElement[]) => tabs.map((t) => (t.getAttribute('aria-label') ?? t.innerText).trim()));
  const out = (): string => path.join(workspace, 'qwen3-moe');
  const preview = (): Promise<FrameLocator> => waitFor('the upcycle preview', () => wb.webviewWith('tr.moe'), 60_000);

  step('the dense workspace model loads and Upcycle to MoE asks method, E, K, router and layers', async () => {
    await wb.openFile('hello.prompt');
    await waitFor('the dense model in the status bar', async () => (await wb.statusBarText()).find((t) => /qwen3 · dense/.test(t)), 120_000);
    await wb.runCommand('MoE: Upcycle to MoE…');
    await pick('method', 'Copy');
    await answerInput('experts per MoE layer', '4');
    await answerInput('experts per token', '2');
    await pick('router init', 'Random');
    await answerInput('layers that become MoE layers', 'all');
  });

  step('the preview shows the target family, the parameters, each layer and the copy guarantee', async () => {
    const view = await preview();
    const text = await view.locator('body').innerText();
    assert.match(text, /qwen3 → qwen3_moe/);
    assert.match(text, /Active per token/);
    assert.match(text, /Disk size \(estimate\)/);
    assert.match(text, /the result equals the dense model/);
    assert.equal(await view.locator('tr.moe').count(), 2, 'both decoder layers become MoE layers');
    assert.match(await view.locator('tr.moe').first().innerText(), /experts 0–3: exact copies of model\.layers\.0\.mlp/);
    await wb.screenshot(path.join(artifactsDir, 'upcycle-preview.png'));
    await view.locator('button[data-action="write"]').click();
  });

  step('Write Checkpoint writes the MoE into the workspace and opens its report', async () => {
    await wb.waitForQuickInput('output folder');
    const def = await boxValue();
    assert.match(def, /qwen3-upcycled-copy-e4k2$/, 'the default folder is named after the model, method, E and K');
    // The shared fixtures are read-only: the default goes into the workspace instead of beside the model.
    if (await fs.access(path.dirname(denseModel), fsConstants.W_OK).then(() => false, () => true)) assert.equal(def, path.join(workspace, 'qwen3-upcycled-copy-e4k2'));
    await answerInput('output folder', out());
    const done = await waitFor('the "wrote" notification', async () => (await wb.notifications()).find((n) => /^MoE Workbench: wrote .*qwen3-moe/.test(n)), 180_000);
    assert.match(done, /qwen3 → qwen3_moe, 4 experts top-2, copy/);
    const config = JSON.parse(await fs.readFile(path.join(out(), 'config.json'), 'utf8')) as { model_type: string; num_experts: number; num_experts_per_tok: number };
    assert.equal(config.model_type, 'qwen3_moe');
    assert.equal(config.num_experts, 4);
    assert.equal(config.num_experts_per_tok, 2);
    const report = JSON.parse(await fs.readFile(path.join(out(), 'report.json'), 'utf8')) as { format: string; evaluation?: { maxAbsLogitDiff: number } };
    assert.equal(report.format, 'moe-workbench.upcycle-report');
    assert.ok(report.evaluation && report.evaluation.maxAbsLogitDiff < 1e-4, `copies compute the dense function: ${JSON.stringify(report.evaluation)}`);
    assert.deepEqual((await fs.readdir(workspace)).filter((e) => e.includes('.partial-')), [], 'nothing half-written is left');
    await waitFor('the report tab', async () => ((await tabLabels()).some((t) => t.startsWith('MoE report: qwen3-moe')) ? true : undefined), 30_000);
    const page = await waitFor('the report page', () => wb.webviewWith('dl'), 30_000);
    assert.match(await page.locator('body').innerText(), /Upcycling report[\s\S]*Expert sources/);
    assert.ok(!(await tabLabels()).some((t) => t.startsWith('Upcycle preview')), 'the preview closed');
    await wb.screenshot(path.join(artifactsDir, 'upcycle-report.png'));
  });

  step('Open Upcycled Model loads it, and the prompt\'s routing hover shows its experts', async () => {
    const button = wb.page.locator('.notifications-toasts .notification-toast .monaco-button').filter({ hasText: 'Open Upcycled Model' }).first();
    await button.waitFor({ state: 'visible', timeout: 30_000 });
    await button.click();
    await waitFor('the upcycled model in the status bar', async () => (await wb.statusBarText()).find((t) => /qwen3-moe · 4×2 top-2/.test(t)), 120_000);
    await wb.page.locator('.part.editor .tab').filter({ hasText: 'hello.prompt' }).first().click();
    const hover = await waitFor('a routing hover on the prompt', async () => {
      const h = await wb.hoverToken(0).catch(() => '');
      return /L0/.test(h) && /L1/.test(h) ? h : undefined;
    }, 90_000);
    assert.match(hover, /experts · gate weight/);
    await wb.screenshot(path.join(artifactsDir, 'upcycle-annotated.png'));
    assert.deepEqual((await wb.notifications()).filter((n) => /failed/.test(n)), [], 'no error notification');
  });

  step('MoE: Open Report… reopens the upcycling report from its folder', async () => {
    // Keys go to the workbench from a text editor (not from inside a webview): start from the prompt.
    await wb.page.locator('.part.editor .tab').filter({ hasText: 'hello.prompt' }).first().click();
    const reports = async (): Promise<number> => (await tabLabels()).filter((t) => t.startsWith('MoE report: qwen3-moe')).length;
    const before = await reports();
    await wb.runCommand('MoE: Open Report…');
    // code-server's file dialog is a quick input: type the folder and accept ("Open Report").
    await answerFolderDialog(out());
    await waitFor('a second report tab', async () => ((await reports()) > before ? true : undefined), 30_000);
    const page = await waitFor('the upcycling report page', () => wb.webviewWith('dl'), 30_000);
    assert.match(await page.locator('body').innerText(), /Upcycling report/);
  });
});
