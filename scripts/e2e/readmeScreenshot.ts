// The README's screenshot (issue #12): media/samples/mixed.prompt (English prose, Python, German) in VS Code
// (code-server + headless Chromium, the packaged VSIX, its bundled demo model), every token tinted by its
// top-1 expert in one layer, written to media/readme/mixed-prompt.png (editor and status bar only).
//
//   node --import tsx scripts/e2e/readmeScreenshot.ts [--layer N] [--out file.png] [--sample file.prompt] [--reuse-vsix]
//
// --layer N picks the layer the tint shows ("MoE: Select Layer…"); without it, the layer with the highest
// mutual information between domain and top-1 expert in media/demo-model/training.json, when that file has
// the figure, else the extension's default layer. The VSIX is repackaged first when it is missing or older
// than its sources (as scripts/e2e/run.sh does); --reuse-vsix takes dist-vsix/ as it is. Nothing here knows
// the model's name, expert count or layers: it waits for the model in the status bar and for the
// decorations to settle, not for fixed times.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { openWorkbench, startCodeServer, type CodeServer, type Workbench } from '../../test/e2e/codeServer';
import type { DomElement, PageGlobals } from '../../test/e2e/playwright';
import { repoRoot, vsixPath } from '../../test/e2e/paths';

const SAMPLE = path.join(repoRoot, 'media', 'samples', 'mixed.prompt');
const DEFAULT_OUT = path.join(repoRoot, 'media', 'readme', 'mixed-prompt.png');
const TRAINING_JSON = path.join(repoRoot, 'media', 'demo-model', 'training.json');
/** What goes into the VSIX (the list scripts/e2e/run.sh checks), minus this script's own output. */
const VSIX_SOURCES = ['src', 'webview', 'media', 'scripts/build.mjs', 'scripts/packageVsix.ts', 'scripts/vsixTargets.ts', 'package.json', 'package-lock.json', '.vscodeignore', 'README.md', 'LICENSE'];
const OWN_OUTPUT = path.join(repoRoot, 'media', 'readme');

const WIDTH = 1200;
const MAX_HEIGHT = 520;
const FONT_SIZE = 18;
const LINE_HEIGHT = 28;
const PADDING = 14;
/** The decorations count as settled when they have not changed for this long with the engine idle. */
const SETTLED_MS = 1_500;

interface Options {
  layer: number | undefined;
  out: string;
  sample: string;
  reuseVsix: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const options: Options = { layer: undefined, out: DEFAULT_OUT, sample: SAMPLE, reuseVsix: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--layer') {
      const v = value();
      if (!/^\d+$/.test(v)) throw new Error(`--layer must be a layer index (0, 1, …), not "${v}"`);
      options.layer = Number(v);
    } else if (arg === '--out') options.out = path.resolve(value());
    else if (arg === '--sample') options.sample = path.resolve(value());
    else if (arg === '--reuse-vsix') options.reuseVsix = true;
    else throw new Error(`unknown argument "${arg}": usage: readmeScreenshot [--layer N] [--out file.png] [--sample file.prompt] [--reuse-vsix]`);
  }
  return options;
}

/** The layer whose top-1 expert says most about the domain, from the demo report; undefined when it has none. */
function mostInformativeLayer(): { layer: number; bits: number } | undefined {
  if (!existsSync(TRAINING_JSON)) return undefined;
  let record: { moeLayers?: unknown; mutualInformation?: unknown };
  try {
    record = JSON.parse(readFileSync(TRAINING_JSON, 'utf8')) as typeof record;
  } catch (e) {
    console.warn(`screenshot: ${TRAINING_JSON} is not JSON (${(e as Error).message}); using the extension's default layer`);
    return undefined;
  }
  const layers = record.moeLayers;
  const mi = record.mutualInformation;
  if (!Array.isArray(layers) || !Array.isArray(mi) || layers.length !== mi.length || layers.length === 0) return undefined;
  let best: { layer: number; bits: number } | undefined;
  layers.forEach((l, i) => {
    const bits = mi[i];
    if (typeof l === 'number' && typeof bits === 'number' && (!best || bits > best.bits)) best = { layer: l, bits };
  });
  return best;
}

/** The newest file under `p` (a file or a folder), skipping `skip`. */
function newestMtime(p: string, skip: string): number {
  if (p === skip || !existsSync(p)) return 0;
  const s = statSync(p);
  if (!s.isDirectory()) return s.mtimeMs;
  return readdirSync(p).reduce((m, name) => Math.max(m, newestMtime(path.join(p, name), skip)), s.mtimeMs);
}

function ensureVsix(reuse: boolean): void {
  if (reuse) {
    if (!existsSync(vsixPath)) throw new Error(`--reuse-vsix: no VSIX at ${vsixPath}`);
    console.log(`screenshot: using ${path.relative(repoRoot, vsixPath)} as it is`);
    return;
  }
  const built = existsSync(vsixPath) ? statSync(vsixPath).mtimeMs : 0;
  const newest = Math.max(...VSIX_SOURCES.map((s) => newestMtime(path.join(repoRoot, s), OWN_OUTPUT)));
  if (built > newest) {
    console.log(`screenshot: ${path.relative(repoRoot, vsixPath)} is up to date`);
    return;
  }
  const target = `${process.platform}-${process.arch}`;
  console.log(`screenshot: packaging ${path.relative(repoRoot, vsixPath)} (${built === 0 ? 'missing' : 'older than its sources'})`);
  const t0 = Date.now();
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['run', 'package', '--silent', '--', '--target', target], { cwd: repoRoot, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`npm run package -- --target ${target} failed (exit ${r.status ?? r.signal})`);
  console.log(`screenshot: packaged in ${Math.round((Date.now() - t0) / 1000)} s`);
}

/** playwright's page takes a clip and a new size; the harness's structural Page type declares only what the tests use. */
interface SizingPage {
  screenshot(options: { path: string; clip: { x: number; y: number; width: number; height: number }; animations?: 'disabled'; caret?: 'hide' }): Promise<Buffer>;
  setViewportSize(size: { width: number; height: number }): Promise<void>;
}

/** The extension's status bar item once a model is ready ("name · 16×4 top-2", "name · dense"), with whether it is busy. */
async function modelStatus(wb: Workbench): Promise<{ text: string; busy: boolean } | undefined> {
  const items = await wb.page.locator('.part.statusbar .statusbar-item').evaluateAll((els: DomElement[]) =>
    els.map((e) => ({
      text: e.innerText.replace(/\s+/g, ' ').trim(),
      busy: e.querySelector('.codicon-modifier-spin, .codicon-sync, .codicon-watch, .codicon-loading') !== null || /~spin|annotation waiting/.test(`${e.getAttribute('aria-label') ?? ''} ${e.innerText}`),
    })),
  );
  return items.find((i) => / · (\d+×\d+ top-\d+|dense)\b/.test(i.text));
}

/** Every expert-tint overlay in the active editor: its decoration class and place, in screen order. */
async function decorations(wb: Workbench): Promise<string[]> {
  return wb.page.locator('.part.editor .editor-group-container.active .monaco-editor .view-overlays .cdr').evaluateAll((els: DomElement[]) =>
    els
      .filter((e) => /\bced-/.test(e.className))
      .map((e) => {
        const r = e.getBoundingClientRect();
        return `${Math.round(r.top)}:${Math.round(r.left)}:${Math.round(r.width)}:${e.className}`;
      })
      .sort(),
  );
}

/** Waits until the editor has tints that stayed the same for SETTLED_MS while the engine was idle. */
async function waitForSettledDecorations(wb: Workbench, what: string): Promise<number> {
  let last = '';
  let since = Date.now();
  return wb.waitFor(what, async () => {
    const now = await decorations(wb);
    const status = await modelStatus(wb);
    const key = now.join('|');
    if (key !== last || now.length === 0 || !status || status.busy) {
      last = key;
      since = Date.now();
      return undefined;
    }
    return Date.now() - since >= SETTLED_MS ? now.length : undefined;
  }, 120_000);
}

/**
 * How many pixels the window has too many (negative) or lacks for the editor to show its rendered lines and
 * its bottom padding without scrolling: the last rendered line's bottom (wrapped lines included) against
 * the editor's visible bottom. Exact when every line is rendered, i.e. when the editor is at least as tall
 * as its content.
 */
async function extraHeight(wb: Workbench): Promise<number | undefined> {
  return wb.page.evaluate((padding: number) => {
    const d = (globalThis as unknown as PageGlobals).document;
    const editor = d.querySelector('.part.editor .editor-group-container.active .monaco-editor .monaco-scrollable-element.editor-scrollable');
    const lines = Array.from(d.querySelectorAll('.part.editor .editor-group-container.active .monaco-editor .view-lines .view-line'));
    if (!editor || lines.length === 0) return undefined;
    const box = editor.getBoundingClientRect();
    const last = Math.max(...lines.map((l) => l.getBoundingClientRect().top + l.getBoundingClientRect().height));
    return Math.ceil(last + padding - (box.top + box.height));
  }, PADDING);
}

/** Hovers the first token: the MoE layers its hover has a row for ("L2 …") and the one it marks as selected ("L2 ◂"). */
async function hoverLayers(wb: Workbench): Promise<{ layers: number[]; selected: number | undefined }> {
  const hover = await wb.hoverToken(0);
  const rows = [...hover.matchAll(/^\s*(?:⚠ )?L(\d+)( ◂)?\s/gm)];
  return { layers: rows.map((m) => Number(m[1])), selected: rows.filter((m) => m[2]).map((m) => Number(m[1]))[0] };
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const options = parseArgs(process.argv.slice(2));
  if (!existsSync(options.sample)) throw new Error(`the sample prompt ${options.sample} is missing`);
  if (!options.sample.endsWith('.prompt')) throw new Error(`the sample ${options.sample} must be a .prompt file (the extension annotates the moe-prompt language)`);
  const chosen = options.layer !== undefined ? { layer: options.layer, why: '--layer' } : (() => {
    const best = mostInformativeLayer();
    return best ? { layer: best.layer, why: `highest MI(domain; top-1 expert), ${best.bits.toFixed(3)} bits, in ${path.relative(repoRoot, TRAINING_JSON)}` } : undefined;
  })();
  ensureVsix(options.reuseVsix);

  const workspace = await fs.mkdtemp(path.join(os.tmpdir(), 'moe-readme-shot-'));
  let server: CodeServer | undefined;
  let wb: Workbench | undefined;
  try {
    await fs.copyFile(options.sample, path.join(workspace, path.basename(options.sample)));
    server = await startCodeServer({
      workspace,
      vsix: vsixPath,
      settings: {
        'editor.fontSize': FONT_SIZE,
        'editor.lineHeight': LINE_HEIGHT,
        'editor.padding.top': PADDING,
        'editor.padding.bottom': PADDING,
        'editor.minimap.enabled': false,
        'editor.renderLineHighlight': 'none',
        'editor.scrollBeyondLastLine': false,
        'editor.stickyScroll.enabled': false,
        'editor.hover.delay': 200,
        'editor.wordWrap': 'on',
        'editor.scrollbar.vertical': 'hidden',
        'editor.scrollbar.horizontal': 'hidden',
        'editor.overviewRulerLanes': 0,
        'editor.overviewRulerBorder': false,
        'editor.hideCursorInOverviewRuler': true,
        // The caret's word would be highlighted (and marked in the overview ruler) over the tints.
        'editor.occurrencesHighlight': 'off',
        'editor.selectionHighlight': false,
        'breadcrumbs.enabled': false,
        'workbench.activityBar.location': 'hidden',
        'workbench.layoutControl.enabled': false,
        'window.commandCenter': false,
        'workbench.editor.editorActionsLocation': 'hidden',
      },
    });
    wb = await openWorkbench(server.url, { viewport: { width: WIDTH, height: MAX_HEIGHT } });
    await wb.waitReady();
    // Only the editor: the primary side bar shows the Explorer on a folder's first start.
    await wb.runCommand('View: Close Primary Side Bar');
    await wb.openFile(path.basename(options.sample));
    // The window as tall as the sample needs: MAX_HEIGHT renders every line (wrapped ones too) of a sample
    // that fits, then the window shrinks to the last one.
    const sizing = wb.page as unknown as SizingPage;
    const extra = await wb.waitFor('the editor laid out in the tall window', async () => {
      const e = await extraHeight(wb!);
      return e !== undefined && e <= 0 ? e : undefined;
    }, 10_000).catch(() => 0); // the content is taller than MAX_HEIGHT: keep MAX_HEIGHT
    const height = MAX_HEIGHT + extra;
    if (extra !== 0) {
      await sizing.setViewportSize({ width: WIDTH, height });
      await wb.waitFor(`the window resized to ${height} px`, async () => ((await extraHeight(wb!)) === 0 ? true : undefined), 10_000);
    }
    const status = await wb.waitFor('the model in the status bar ("name · N×L top-k")', () => modelStatus(wb!), 120_000);
    await wb.runCommand('MoE: Colour By…');
    await wb.pickQuickItem('Top-1 expert');
    await waitForSettledDecorations(wb, 'the tints to settle');
    const shownLayers = await wb.waitFor('a hover with a row per MoE layer', async () => {
      const h = await hoverLayers(wb!);
      return h.layers.length > 0 ? h : undefined;
    });
    let layer = shownLayers.selected;
    if (chosen && chosen.layer !== layer) {
      if (!shownLayers.layers.includes(chosen.layer)) {
        throw new Error(`screenshot: layer ${chosen.layer} (${chosen.why}) is not an MoE layer of the model in the VSIX (its hover shows layers ${shownLayers.layers.join(', ')})`);
      }
      await wb.page.mouse.move(0, 0);
      await wb.runCommand('MoE: Select Layer…');
      await wb.pickQuickItem(`Layer ${chosen.layer}`);
      layer = await wb.waitFor(`the hover to mark layer ${chosen.layer} as selected`, async () => {
        const l = (await hoverLayers(wb!)).selected;
        return l === chosen.layer ? l : undefined;
      });
    }
    // No hover, no toast in the picture; then the tints once more, as they are now.
    await wb.page.mouse.move(0, 0);
    await wb.page.keyboard.press('Escape');
    await wb.runCommand('Notifications: Clear All Notifications');
    await wb.waitFor('the hover to close', async () => ((await wb!.hoverText()) === '' ? true : undefined), 10_000);
    const tints = await waitForSettledDecorations(wb, 'the tints to settle before the screenshot');

    const box = await wb.page.evaluate(() => {
      const d = (globalThis as unknown as PageGlobals).document;
      const editor = d.querySelector('.part.editor')?.getBoundingClientRect();
      const bar = d.querySelector('.part.statusbar')?.getBoundingClientRect();
      return editor && bar ? { x: editor.left, y: editor.top, width: editor.width, height: bar.top + bar.height - editor.top } : undefined;
    });
    if (!box) throw new Error('screenshot: the page has no editor part or status bar to capture');
    await fs.mkdir(path.dirname(options.out), { recursive: true });
    const shown = (await modelStatus(wb))?.text ?? status.text;
    await (wb.page as unknown as SizingPage).screenshot({ path: options.out, clip: box, animations: 'disabled', caret: 'hide' });
    const bytes = statSync(options.out).size;
    console.log(`screenshot: status bar "${shown}"; tint = top-1 expert of layer ${layer ?? '(default)'}${chosen ? ` (${chosen.why})` : " (the extension's default)"}; ${tints} tinted runs`);
    console.log(`screenshot: wrote ${path.relative(process.cwd(), options.out) || options.out} (${Math.round(box.width)}×${Math.round(box.height)} px, ${(bytes / 1024).toFixed(0)} KB) in ${Math.round((Date.now() - t0) / 1000)} s`);
    if (bytes > 200 * 1024) console.warn(`screenshot: ${options.out} is ${(bytes / 1024).toFixed(0)} KB, over the 200 KB the README wants`);
  } catch (e) {
    if (wb) {
      const failure = path.join(repoRoot, 'test-artifacts', 'readme-screenshot-failure.png');
      await wb.screenshot(failure).then(() => console.error(`screenshot: the page as it was: ${failure}`)).catch(() => undefined);
    }
    if (server) await server.saveLogs(path.join(repoRoot, 'test-artifacts', 'readme-screenshot-logs')).catch(() => undefined);
    throw e;
  } finally {
    await wb?.close();
    await server?.stop();
    await fs.rm(workspace, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
