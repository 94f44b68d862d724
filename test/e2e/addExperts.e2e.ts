// Growing an MoE in VS Code (issue #11 §2–§5): on the bundled demo model, a profile, then "MoE: Add Experts…"
// through the palette (2 hot copies per layer from the profile, copied router rows), its preview (new ids and
// their sources per layer, parameters, active per token), Write Checkpoint… into the workspace, and the
// notification's Open Report drawing that folder's report; from a layer's context menu, that layer's own source
// with the others hot (noise, random rows), cancelled; "Duplicate Expert…" from the Model tree's context menu
// on an expert (copy; the other layers take their most-used expert), Open Model from the notification; then
// "MoE: Continue Training New Experts…", whose fine-tune flow has New experts pre-selected and the new
// expert's chip pressed in the training panel — in code-server with the packaged extension and the real engine.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { describe } from 'node:test';
import { e2eSession } from './e2eSession';
import { artifactsDir, repoRoot } from './paths';
import type { DomElement, FrameLocator } from './playwright';

/** The bundled demo model's expert count: new experts get ids E, E + 1. */
const E = (JSON.parse(readFileSync(path.join(repoRoot, 'media', 'demo-model', 'config.json'), 'utf8')) as { num_local_experts: number }).num_local_experts;
const PROMPT = 'Experts route tokens: 1, 2, 3. The router picks two of eight.\n';

interface GrowRecord {
  operation: string;
  settings: { count: number; from: string; router: string; numExpertsBefore: number; numExpertsAfter: number };
  profile?: { file: string };
  layers: { layer: number; added: { expert: number; from: number | null; rule: string }[] }[];
}

describe('e2e: add experts, duplicate an expert, continue training the new experts', { timeout: 10 * 60_000 }, () => {
  const { wb, workspace, step, waitFor, answerInput, pick, boxValue } = e2eSession({
    name: 'addExperts',
    workspacePrefix: 'moe-e2e-grow-',
    settings: { 'editor.minimap.enabled': false, 'editor.hover.delay': 200 },
    prepare: async (workspace) => {
      await fs.writeFile(path.join(workspace, 'hello.prompt'), PROMPT);
      await fs.mkdir(path.join(workspace, 'data'));
      const text = Array.from({ length: 40 }, (_, i) => `Step ${i % 5}: the expert adds ${i % 7} and ${(i * 3) % 7}, then the router repeats the pattern.`).join('\n');
      await fs.writeFile(path.join(workspace, 'data', 'pattern.txt'), text);
    },
  });

  const treeRows = (): Promise<string[]> => wb.page.locator('.part.sidebar .monaco-list-row').evaluateAll((els: DomElement[]) => els.map((e) => e.innerText.replace(/\s+/g, ' ').trim()));
  const grown = (): string => path.join(workspace, 'demo-plus2');
  const dup = (): string => path.join(workspace, 'demo-dup');
  const record = async (dir: string): Promise<GrowRecord> => JSON.parse(await fs.readFile(path.join(dir, 'moe_workbench.json'), 'utf8')) as GrowRecord;
  const numExperts = async (dir: string): Promise<number> => (JSON.parse(await fs.readFile(path.join(dir, 'config.json'), 'utf8')) as { num_local_experts: number }).num_local_experts;
  const wrote = (dir: string): Promise<string> =>
    waitFor(`the "wrote ${path.basename(dir)}" notification`, async () => (await wb.notifications()).find((n) => n.startsWith(`MoE Workbench: wrote ${dir} `)), 180_000);

  step('the demo model is profiled on the workspace', async () => {
    await wb.openFile('hello.prompt');
    await waitFor('the demo model in the status bar', async () => (await wb.statusBarText()).find((t) => /demo-model · 16×4 top-2/.test(t)), 120_000);
    await wb.runCommand('MoE: Profile Experts…');
    await pick('calibration data', `Workspace folder ${path.basename(workspace)}`);
    await answerInput('chunk length');
    await answerInput('token limit');
    await waitFor('the "profiled" notification', async () => (await wb.notifications()).find((n) => /^MoE Workbench: profiled demo-model/.test(n)), 120_000);
  });

  step('Add Experts asks count, sources, init and router, and previews the new experts per layer', async () => {
    await wb.runCommand('MoE: Add Experts…');
    await answerInput('new experts per MoE layer', '2');
    await pick('source experts', 'Hot experts');
    await pick("init of the new experts' weights", 'Copy');
    await pick('router rows of the new experts', 'Copy');
    await pick('profile', 'Use the current profile');
    const view = await waitFor('the add experts preview', () => wb.webviewWith('tr.grow'), 60_000);
    const text = await view.locator('body').innerText();
    assert.match(text, new RegExp(`${E} → ${E + 2} experts in each of 4 MoE layers, top-2`));
    assert.match(text, new RegExp(`2 per MoE layer, ids ${E}–${E + 1}`));
    assert.match(text, /Active per token/);
    assert.match(text, /Function: renormalised top-2/);
    assert.equal(await view.locator('tr.grow').count(), 4, 'a row per MoE layer');
    assert.match(await view.locator('tr.grow').first().innerText(), new RegExp(`${E} ← \\d+ \\(most used: [\\d,]+ tokens\\)\\s*${E + 1} ← \\d+ \\(most used`));
    await wb.screenshot(path.join(artifactsDir, 'addExperts-preview.png'));
    await view.locator('button[data-action="write"]').click();
  });

  step('Write Checkpoint writes the grown model into the workspace, the sources as previewed', async () => {
    await wb.waitForQuickInput('output folder');
    assert.equal(await boxValue(), path.join(workspace, 'demo-model-plus2-hot'), 'the demo model lives in the extension: the default goes into the workspace');
    await answerInput('output folder', grown());
    const done = await wrote(grown());
    assert.match(done, new RegExp(`${E} → ${E + 2} experts per MoE layer \\(hot, copy, router copy\\)`));
    assert.equal(await numExperts(grown()), E + 2);
    const r = await record(grown());
    assert.equal(r.operation, 'add-experts');
    assert.equal(r.settings.from, 'hot');
    assert.ok(r.profile?.file.endsWith('.json'), 'the profile the sources were ranked by is recorded');
    assert.deepEqual(r.layers.map((l) => l.added.map((a) => a.expert)), [0, 1, 2, 3].map(() => [E, E + 1]));
    assert.deepEqual((await fs.readdir(workspace)).filter((e) => e.includes('.partial-')), [], 'nothing half-written is left');
  });

  step("the notification's Open Report opens the grown model's report in the report tab", async () => {
    const toast = wb.page.locator('.notifications-toasts .notification-toast').filter({ hasText: `MoE Workbench: wrote ${grown()} ` }).first();
    const buttons = await toast.locator('.monaco-button').evaluateAll((els: DomElement[]) => els.map((e) => e.innerText.trim()));
    assert.deepEqual(buttons, ['Open Model', 'Open and Continue Training…', 'Open Report']);
    await toast.locator('.monaco-button').filter({ hasText: /^Open Report$/ }).click();
    await waitFor('the report tab', async () => ((await wb.page.locator('.part.editor .tab').filter({ hasText: 'MoE report: demo-plus2' }).count()) > 0 ? true : undefined), 30_000);
    const page = await waitFor('the add experts report page', () => wb.webviewWith('details'), 30_000);
    const text = await page.locator('body').innerText();
    assert.match(text, /Add experts report/);
    assert.match(text, new RegExp(`${E} → ${E + 2} experts in each of 4 MoE layers`));
    assert.ok(text.includes(grown()), 'the report of the folder just written');
  });

  step("Add Experts from a layer's context menu: that layer's own sources, the others hot; Cancel writes nothing", async () => {
    await wb.page.locator('.part.editor .tab').filter({ hasText: 'hello.prompt' }).first().click();
    await wb.runCommand('MoE Workbench: Focus on Model View');
    await waitFor('the Layer 1 row', async () => ((await treeRows()).some((r) => r.startsWith('Layer 1')) ? true : undefined), 30_000);
    await wb.page.locator('.part.sidebar .monaco-list-row[aria-level="1"]').nth(1).click({ button: 'right' });
    const item = wb.page.locator('.monaco-menu .action-item').filter({ hasText: 'Add Experts…' }).first();
    await item.waitFor({ state: 'visible', timeout: 15_000 });
    await wb.page.waitForTimeout(500); // the menu ignores a click while it is still opening
    await item.click();
    await answerInput('new experts per MoE layer', '1');
    await pick('which layers choose their sources', 'Layer 1');
    await answerInput('source experts of layer 1', '3');
    await pick("init of the new experts' weights", 'Noise');
    await answerInput('to perturb');
    await pick('router rows of the new experts', 'Random');
    await pick('profile', 'Use the current profile');
    const view = await waitFor('the add experts preview', () => wb.webviewWith('tr.grow'), 60_000);
    assert.match(await view.locator('body').innerText(), /the chosen experts; the other layers their most-used experts of the profile/);
    assert.match(await view.locator('tr.grow[data-layer="1"]').innerText(), new RegExp(`${E} ← 3 \\(chosen\\)`));
    assert.match(await view.locator('tr.grow[data-layer="0"]').innerText(), new RegExp(`${E} ← \\d+ \\(most used`));
    assert.match(await view.locator('body').innerText(), /noise: copies with N\(0, 0\.02²\) on \d+ of \d+ neurons each/);
    const entries = await fs.readdir(workspace);
    await view.locator('button[data-action="cancel"]').click();
    await waitFor('the preview to close', async () => ((await wb.webviewWith('tr.grow')) ? undefined : true), 30_000);
    assert.deepEqual(await fs.readdir(workspace), entries, 'nothing was written');
  });

  step('Duplicate Expert on an expert of the Model tree copies it, the other layers their most-used expert; Open Model loads it', async () => {
    await wb.page.locator('.part.editor .tab').filter({ hasText: 'hello.prompt' }).first().click();
    await wb.runCommand('MoE Workbench: Focus on Model View');
    await waitFor('the Layer 1 row', async () => ((await treeRows()).some((r) => r.startsWith('Layer 1')) ? true : undefined), 30_000);
    if (!(await treeRows()).some((r) => r.startsWith('Expert 2'))) await wb.page.locator('.part.sidebar .monaco-list-row[aria-level="1"]').nth(1).click();
    const expertRow = wb.page.locator('.part.sidebar .monaco-list-row[aria-level="2"]').filter({ hasText: 'Expert 2' }).first();
    await expertRow.waitFor({ state: 'visible', timeout: 30_000 });
    await expertRow.click({ button: 'right' });
    const item = wb.page.locator('.monaco-menu .action-item').filter({ hasText: 'Duplicate Expert…' }).first();
    await item.waitFor({ state: 'visible', timeout: 15_000 });
    // The menu ignores a click that comes while it is still opening (the click above went nowhere once): let it settle.
    await wb.page.waitForTimeout(500);
    await item.click();
    await wb.waitForQuickInput('copy or noise');
    const placeholder = await wb.page.locator('.quick-input-widget .quick-input-box input').getAttribute('placeholder');
    assert.match(placeholder ?? '', /Expert 1:2 is copied .* MoE layers 0, 2, 3 each get a copy of their most-used expert too/);
    await wb.pickQuickItem('Copy');
    await wb.waitForQuickInputGone('copy or noise');
    await wb.waitForQuickInput('output folder');
    assert.equal(await boxValue(), path.join(workspace, 'demo-model-dup-1-2'));
    await answerInput('output folder', dup());
    const done = await wrote(dup());
    assert.match(done, new RegExp(`expert 1:2 duplicated as 1:${E} \\(copy\\)`));
    assert.equal(await numExperts(dup()), E + 1);
    const r = await record(dup());
    assert.equal(r.settings.from, 'list+hot');
    assert.deepEqual(r.layers.find((l) => l.layer === 1)?.added, [{ expert: E, from: 2, rule: 'list' }]);
    for (const L of [0, 2, 3]) assert.equal(r.layers.find((l) => l.layer === L)?.added[0]?.rule, 'hot', `layer ${L} copies its most-used expert`);
    const button = wb.page.locator('.notifications-toasts .notification-toast .monaco-button').filter({ hasText: /^Open Model$/ }).first();
    await button.waitFor({ state: 'visible', timeout: 30_000 });
    await button.click();
    await waitFor('the grown model in the status bar', async () => (await wb.statusBarText()).find((t) => new RegExp(`demo-dup · ${E + 1}×4 top-2`).test(t)), 120_000);
  });

  step('Continue Training New Experts starts the fine-tune flow with New experts pre-selected', async () => {
    await wb.page.locator('.part.editor .tab').filter({ hasText: 'hello.prompt' }).first().click();
    await wb.runCommand('MoE: Continue Training New Experts…');
    await pick('training data', `Workspace folder ${path.basename(workspace)}`);
    await wb.waitForQuickInput('what trains');
    const picked = await wb.page.locator('.quick-input-widget .monaco-list-row[aria-checked="true"]').evaluateAll((els: DomElement[]) => els.map((e) => e.innerText.trim()));
    assert.ok(picked.length === 1 && picked[0]!.startsWith('New experts'), `New experts is pre-selected: ${JSON.stringify(picked)}`);
    await wb.page.keyboard.press('Enter');
    await wb.waitForQuickInputGone('what trains');
    const view: FrameLocator = await waitFor('the training panel', () => wb.webviewWith('#start'), 120_000);
    const chip = (layer: number, expert: number) => view.locator(`button.expert[data-layer="${layer}"][data-expert="${expert}"]`);
    for (const L of [0, 1, 2, 3]) assert.equal(await chip(L, E).getAttribute('aria-pressed'), 'true', `the new expert ${L}:${E} trains`);
    assert.equal(await chip(1, 2).getAttribute('aria-pressed'), 'false', 'its source does not');
    await wb.screenshot(path.join(artifactsDir, 'addExperts-continue-training.png'));
    assert.deepEqual((await wb.notifications()).filter((n) => /failed/.test(n)), [], 'no error notification');
  });
});
