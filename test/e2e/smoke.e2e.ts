// The packaged extension in a real VS Code (code-server + Chromium): inspecting the bundled demo model
// loads it through the ONNX engine worker inside code-server's extension host and prints the summary in
// the "MoE Workbench" output channel.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, describe } from 'node:test';
import { e2eSession } from './e2eSession';
import { artifactsDir, repoRoot } from './paths';

/** Palette titles ("Category: Title") of the extension's commands, by id, from the manifest the VSIX is built from. */
function commandTitles(): Map<string, string> {
  const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { contributes: { commands: { command: string; title: string; category?: string }[] } };
  return new Map(manifest.contributes.commands.map((c) => [c.command, c.category ? `${c.category}: ${c.title}` : c.title]));
}

// Bounded: a wedged workbench fails the run instead of eating CI's budget.
describe('e2e smoke: the extension in code-server', { timeout: 8 * 60_000 }, () => {
  const timings: Record<string, number> = {};
  // Logs and a picture of the last state, whatever happened: they are what CI leaves to look at.
  const { wb, step } = e2eSession({
    name: 'smoke',
    workspacePrefix: 'moe-e2e-workspace-',
    timings,
    prepare: (folder) => fs.writeFile(path.join(folder, 'hello.prompt'), 'The quick brown fox jumps over the lazy dog.\n'),
  });

  const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      timings[name] = Math.round(performance.now() - t0);
    }
  };

  // After the session's own after() (hooks run in order): the artifacts folder is there.
  after(async () => {
    await fs.writeFile(path.join(artifactsDir, 'smoke-timings.json'), `${JSON.stringify(timings, null, 2)}\n`);
    console.log(`e2e timings (ms): ${JSON.stringify(timings)}`);
  });

  step('Inspect Model on the bundled demo model prints its summary in the output channel', async () => {
    const page = wb;
    const titles = commandTitles();
    const inspect = titles.get('moeWorkbench.inspectModel');
    assert.ok(inspect, 'the extension contributes moeWorkbench.inspectModel');
    await page.openFile('hello.prompt');
    const output = await timed('inspectMs', async () => {
      const open = titles.get('moeWorkbench.openModel');
      if (open) {
        // With a model manager, a model is opened first ("Bundled demo model"), then inspected.
        await page.runCommand(open);
        await page.pickQuickItem('Bundled demo model');
        await page.runCommand(inspect);
      } else {
        // The first extension asked for the model in "Inspect Model…" itself.
        await page.runCommand(inspect);
        await page.pickQuickItem('Bundled demo model');
      }
      // The summary's last row: the whole summary is printed (the view follows the end of the output).
      return page.waitForPanelText(/^peak\s+about/m, 90_000);
    });
    assert.match(output, /experts\s+16 per MoE layer, top-2/);
    // Its first rows may be above the view: scroll the Output view to its top.
    await page.scrollPanelToTop();
    const head = await page.waitForPanelText('architecture  MixtralForCausalLM');
    assert.match(head, /^model\s+demo-model/m);
    assert.deepEqual((await page.notifications()).filter((n) => /MoE Workbench:/.test(n)), [], 'no error notification from the extension');
    await page.screenshot(path.join(artifactsDir, 'smoke-inspect-model.png'));
  });
});
