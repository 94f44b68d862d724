// Issue #4 through the real UI of VS Code (code-server + Chromium): "MoE: Profile Experts…" on calibration
// text in the workspace, then "MoE: Prune Experts…" (REAP, keep 2 of the demo model's experts) through
// the command palette and its dialogs, the plan preview (impact on the open prompt, a token revealed in the
// editor), "Write Checkpoint…", and then checks the written folder (config.json with 2 experts,
// report.html, report.json) and that the report panel opened. Screenshots go to test-artifacts/e2e/.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { describe } from 'node:test';
import { e2eSession } from './e2eSession';
import type { DomElement, FrameLocator } from './playwright';
import { artifactsDir, repoRoot } from './paths';

const demoModel = path.join(repoRoot, 'media', 'demo-model');
const PROMPT = 'Hello, world! 123 + 456 = 579. The experts route every token.';

describe('e2e: profile and prune experts', { timeout: 10 * 60_000 }, () => {
  let demo: { num_local_experts: number; num_experts_per_tok: number };
  const { wb, workspace, step, waitFor, answerInput, pick, boxValue, answerFolderDialog } = e2eSession({
    name: 'experts',
    workspacePrefix: 'moe-e2e-experts-',
    settings: { 'editor.minimap.enabled': false },
    dialogGoneMs: 10_000,
    prepare: async (workspace) => {
      demo = JSON.parse(await fs.readFile(path.join(demoModel, 'config.json'), 'utf8')) as typeof demo;
      await fs.writeFile(path.join(workspace, 'hello.prompt'), PROMPT);
      await fs.mkdir(path.join(workspace, 'calibration'));
      const prose = Array.from({ length: 40 }, (_, i) => `Paragraph ${i}: the router sends each token to ${i % 3 === 0 ? 'two' : 'a few'} experts; sums like ${i} + ${i * 7} = ${i * 8} appear too.`).join('\n');
      await fs.writeFile(path.join(workspace, 'calibration', 'prose.txt'), prose);
      const code = Array.from({ length: 30 }, (_, i) => `function f${i}(x) {\n  return x * ${i} + "${String.fromCharCode(97 + (i % 26))}";\n}`).join('\n');
      await fs.writeFile(path.join(workspace, 'calibration', 'code.js'), code);
    },
  });

  const webviewWith = (selector: string): Promise<FrameLocator | undefined> => wb.webviewWith(selector);
  const preview = (): Promise<FrameLocator> => waitFor('the preview panel', () => webviewWith('button[data-action="write"]'), 30_000);

  const tabLabels = (): Promise<string[]> =>
    wb.page.locator('.part.editor .tab').evaluateAll((tabs: DomElement[]) => tabs.map((t) => (t.getAttribute('aria-label') ?? t.innerText).trim()));

  step('Profile Experts on the calibration folder stores a profile', async () => {
    await wb.openFile('hello.prompt');
    await waitFor('the demo model in the status bar', async () => (await wb.statusBarText()).find((t) => /demo-model · 16×4 top-2/.test(t)));
    await wb.runCommand('MoE: Profile Experts…');
    await pick('calibration data', 'Choose folders…');
    // code-server's file dialog is a quick input: type the folder and accept ("Profile on These").
    await answerFolderDialog(path.join(workspace, 'calibration'));
    await answerInput('chunk length', '128');
    await answerInput('token limit');
    const note = await waitFor('the profile notification', async () => (await wb.notifications()).find((n) => /profiled demo-model on [\d,]+ tokens/.test(n)), 120_000);
    assert.match(note, /Saved .*\.json/);
    await wb.screenshot(path.join(artifactsDir, 'experts-profiled.png'));
  });

  step('the Model tree ranks the experts by the profile statistic', async () => {
    const rows = (): Promise<string[]> =>
      wb.page.locator('.part.sidebar .monaco-list-row').evaluateAll((els: DomElement[]) => els.map((e) => e.innerText.replace(/\s+/g, ' ').trim()));
    await wb.runCommand('MoE Workbench: Focus on Model View');
    const layer0 = await waitFor('the Layer 0 row', async () => ((await rows()).find((r) => r.startsWith('Layer 0')) ? true : undefined), 30_000);
    assert.ok(layer0);
    assert.match((await rows()).find((r) => r.startsWith('Layer 0'))!, new RegExp(`${demo.num_local_experts} experts, top-${demo.num_experts_per_tok} · REAP, sorted`));
    await wb.page.locator('.part.sidebar .monaco-list-row[aria-level="1"]').first().click();
    const experts = await waitFor('expert rows with their REAP rank', async () => {
      const r = (await rows()).filter((x) => /^Expert \d+ ?#\d+ · [\d.e-]+/.test(x));
      return r.length === demo.num_local_experts ? r : undefined;
    }).catch(async (e: Error) => {
      throw new Error(`${e.message}; rows ${JSON.stringify(await rows())}`);
    });
    assert.deepEqual(experts.map((r) => Number(/#(\d+) ·/.exec(r)?.[1])), Array.from({ length: demo.num_local_experts }, (_, i) => i + 1), `sorted by rank: ${JSON.stringify(experts)}`);
    await wb.runCommand('MoE: Show Profile Statistic…');
    await pick('Show Profile Statistic', 'frequency');
    await waitFor('expert rows with frequency', async () => ((await rows()).filter((x) => /^Expert \d+ ?#\d+ · [\d.]+%/.test(x)).length === demo.num_local_experts ? true : undefined));
    assert.match((await rows()).find((r) => r.startsWith('Layer 0'))!, /· frequency, sorted/);
    await wb.screenshot(path.join(artifactsDir, 'experts-model-tree.png'));
    await wb.runCommand('View: Show Explorer');
  });

  step('Prune Experts (REAP, keep 2) previews the plan with its impact on the open prompt', async () => {
    await wb.openFile('hello.prompt');
    await wb.runCommand('MoE: Prune Experts…');
    await pick('method', 'REAP');
    await pick('target', 'Keep N experts per layer');
    await answerInput('experts to keep per layer', '2');
    await answerInput('protected experts');
    await pick('profile', 'Use the current profile');
    const removed = (demo.num_local_experts - 2) * 4;
    const webview = await preview();
    const summary = await webview.locator('section.summary').innerText();
    assert.match(summary, new RegExp(`Removes ${removed} of ${demo.num_local_experts * 4} experts across 4 MoE layers`));
    assert.match(summary, /Calibration sample: [\d,]+ of [\d,]+ tokens \(\d+\.\d%\)/);
    assert.match(summary, /hello\.prompt: \d+ of \d+ tokens/);
    assert.equal(await webview.locator('details.layer').count(), 4);
    await wb.screenshot(path.join(artifactsDir, 'experts-preview.png'));
    // A most-affected token of the prompt, clicked, is selected in its editor.
    const tokenButton = webview.locator('button[data-action="reveal"][data-source="1"]').first();
    await tokenButton.click();
    await waitFor('the token selected in the editor', async () => ((await wb.statusBarText()).some((t) => /\(\d+ selected\)/.test(t)) ? true : undefined), 15_000);
  });

  step('Write Checkpoint writes the pruned model and opens the report', async () => {
    // The reveal put the prompt beside (or over) the preview: bring the preview back and write.
    const previewTab = (await tabLabels()).find((t) => t.startsWith('Prune preview'));
    assert.ok(previewTab, `a preview tab among ${JSON.stringify(await tabLabels())}`);
    await wb.page.locator(`.part.editor .tab[aria-label^="Prune preview"]`).first().click();
    await (await preview()).locator('button[data-action="write"]').first().click();
    const out = path.join(workspace, 'demo-model-pruned-reap-keep2');
    await wb.waitForQuickInput('output folder');
    const value = await boxValue();
    assert.equal(value, out, 'the default output folder is beside the workspace, named after model, method and target');
    await answerInput('output folder');
    await pick('Evaluate the new checkpoint', 'Calibration data');
    const done = await waitFor('the "wrote" notification', async () => (await wb.notifications()).find((n) => /^MoE Workbench: wrote .*demo-model-pruned-reap-keep2/.test(n)), 180_000);
    assert.match(done, new RegExp(`2 of ${demo.num_local_experts} experts per layer`));
    const config = JSON.parse(await fs.readFile(path.join(out, 'config.json'), 'utf8')) as { num_local_experts: number; num_experts_per_tok: number };
    assert.equal(config.num_local_experts, 2);
    assert.equal(config.num_experts_per_tok, demo.num_experts_per_tok);
    const html = await fs.readFile(path.join(out, 'report.html'), 'utf8');
    assert.match(html, /Content-Security-Policy/);
    const report = JSON.parse(await fs.readFile(path.join(out, 'report.json'), 'utf8')) as { evaluation?: { tokens: number }; notes: string[] };
    assert.ok(report.evaluation && report.evaluation.tokens > 0, 'the checkpoint was evaluated');
    assert.ok(report.notes.some((n) => /not held out/.test(n)), 'the note says the evaluation data was the calibration data');
    const entries = await fs.readdir(workspace);
    assert.deepEqual(entries.filter((e) => e.includes('.partial-')), [], 'no half-written folder is left');
    await waitFor('the report tab', async () => ((await tabLabels()).some((t) => t.startsWith('MoE report: demo-model-pruned-reap-keep2')) ? true : undefined), 30_000);
    assert.ok(!(await tabLabels()).some((t) => t.startsWith('Prune preview')), 'the preview closed');
    await wb.page.waitForTimeout(500);
    await wb.screenshot(path.join(artifactsDir, 'experts-report.png'));
    assert.deepEqual((await wb.notifications()).filter((n) => /failed/.test(n)), [], 'no error notification');
  });
});
