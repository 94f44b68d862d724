// Drives the VS Code web workbench the way a person does: keyboard, quick input, mouse hovers. Selectors
// are aria labels and VS Code's long-lived class names; every wait has a timeout whose error says what
// was awaited and what was there instead.
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadPlaywright, type BrowserContext, type DomElement, type FrameLocator, type Page, type PageGlobals } from './playwright';
import { chromiumPath } from './paths';

export interface OpenWorkbenchOptions {
  viewport?: { width: number; height: number };
  /** Default for every wait (ms). */
  timeoutMs?: number;
}

// Debian's chromium, offline: no background services, and every host name except loopback unresolvable,
// so nothing in the page can reach the network even by accident.
const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
];

const quickInput = '.quick-input-widget';

export async function openWorkbench(url: string, options: OpenWorkbenchOptions = {}): Promise<Workbench> {
  const profile = await fs.mkdtemp(path.join(os.tmpdir(), 'moe-e2e-chromium-'));
  let context: BrowserContext;
  try {
    context = await loadPlaywright().chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: chromiumArgs,
      viewport: options.viewport ?? { width: 1400, height: 900 },
      timeout: 60_000,
    });
  } catch (e) {
    await fs.rm(profile, { recursive: true, force: true });
    throw e;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  const wb = new Workbench(page, context, profile, options.timeoutMs ?? 30_000);
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
  return wb;
}

export class Workbench {
  /** Console errors and uncaught page errors, for failure messages. */
  readonly pageErrors: string[] = [];

  constructor(
    readonly page: Page,
    private readonly context: BrowserContext,
    private readonly profile: string,
    private readonly timeoutMs: number,
  ) {
    page.on('pageerror', (e) => this.pageErrors.push(e.message));
    page.on('console', (m) => void (m.type() === 'error' && this.pageErrors.push(m.text())));
  }

  /** The workbench is laid out and the extension host has started with the extensions loaded. */
  async waitReady(timeoutMs = 120_000): Promise<void> {
    await this.visible('.monaco-workbench', 'the workbench shell', timeoutMs);
    await this.visible('.part.statusbar', 'the status bar', timeoutMs);
    // The workbench marks this once the extension host answered and every extension is registered:
    // from then on contributed commands run (and activate their extension).
    await this.poll('the extension host (performance mark code/didLoadExtensions)', timeoutMs, () =>
      this.page.evaluate(() => (globalThis as unknown as PageGlobals).performance.getEntriesByName('code/didLoadExtensions').length > 0 || undefined),
    );
  }

  /** Runs a command by its palette title ("Category: Title"), as F1, type, pick. */
  async runCommand(title: string): Promise<void> {
    const typed = `>${title}`;
    await this.openQuickInput(typed);
    await this.acceptQuickPick(title);
    // The palette must be gone (or replaced by the command's own quick pick) before anything else is typed.
    await this.poll(`the command palette to close after "${title}"`, this.timeoutMs, () =>
      this.page.evaluate((value: string) => {
        const input = (globalThis as unknown as PageGlobals).document.querySelector('.quick-input-widget .quick-input-box input') as unknown as { value: string } | null;
        const widget = (globalThis as unknown as PageGlobals).document.querySelector('.quick-input-widget');
        return !widget || widget.getBoundingClientRect().height === 0 || input?.value !== value || undefined;
      }, typed),
    );
  }

  /** Picks an item of the quick pick a command opened (typing its label filters the list first). */
  async pickQuickItem(label: string): Promise<void> {
    // Typing goes where the focus is: wait until it is in a quick input box, not in the editor behind.
    await this.poll(`a quick pick to choose "${label}" from`, this.timeoutMs, () =>
      this.page.evaluate(() => (globalThis as unknown as PageGlobals).document.activeElement?.closest('.quick-input-widget .quick-input-box') ? true : undefined),
    );
    await this.page.keyboard.insertText(label);
    await this.acceptQuickPick(label);
  }

  /** Opens a workspace file through quick open and waits for its editor. */
  async openFile(relPath: string): Promise<void> {
    const base = path.basename(relPath);
    await this.openQuickInput(relPath);
    await this.acceptQuickPick(base);
    await this.poll(`an editor tab for ${relPath}`, this.timeoutMs, () =>
      this.page.locator('.part.editor .editor-group-container.active .tab.active').evaluateAll(
        (tabs: DomElement[], name: string) => tabs.some((t) => (t.getAttribute('aria-label') ?? t.innerText).startsWith(name)) || undefined,
        base,
      ),
    );
    await this.visible('.part.editor .editor-group-container.active .monaco-editor', `the text editor of ${relPath}`);
  }

  /** Types into the active text editor at its cursor (focusing it first if needed). */
  async typeInEditor(text: string): Promise<void> {
    const editor = this.page.locator('.part.editor .editor-group-container.active .monaco-editor');
    await editor.first().waitFor({ state: 'visible', timeout: this.timeoutMs }).catch(() => {
      throw new Error(`e2e: no text editor is open to type into (${this.timeoutMs} ms)`);
    });
    if ((await this.page.locator('.part.editor .editor-group-container.active .monaco-editor.focused').count()) === 0) {
      await editor.first().locator('.view-lines').click();
    }
    await this.page.keyboard.type(text);
  }

  /** Moves the mouse over the character at 1-based line/column of the active editor; waits for the hover. */
  async hoverAt(line: number, column: number): Promise<string> {
    await this.openQuickInput(`:${line}:${column}`);
    await this.page.keyboard.press('Enter');
    await this.hidden(quickInput, 'the go-to-line box to close');
    const cursor = await this.poll(`the cursor at ${line}:${column}`, this.timeoutMs, () =>
      this.page.locator('.part.editor .editor-group-container.active .monaco-editor.focused .cursors-layer .cursor').first().boundingBox().catch(() => null).then((b) => b ?? undefined),
    );
    // Just right of the caret is the character at `column`.
    return this.hoverPoint(cursor.x + 3, cursor.y + cursor.height / 2, `line ${line}, column ${column}`);
  }

  /** Hovers the nth (0-based) non-blank rendered token of the active editor, in reading order. */
  async hoverToken(n: number): Promise<string> {
    const rects = await this.page.locator('.part.editor .editor-group-container.active .monaco-editor .view-lines .view-line > span > span').evaluateAll((spans: DomElement[]) =>
      spans
        .filter((s) => (s.textContent ?? '').trim() !== '')
        .map((s) => s.getBoundingClientRect())
        .map((r) => ({ x: r.left, y: r.top, w: r.width, h: r.height }))
        .sort((a, b) => a.y - b.y || a.x - b.x),
    );
    const r = rects[n];
    if (!r) throw new Error(`e2e: token ${n} is not rendered (the editor shows ${rects.length} tokens)`);
    return this.hoverPoint(r.x + Math.min(r.w / 2, 4), r.y + r.h / 2, `token ${n}`);
  }

  /** Text of the hover that is showing now ('' if none). */
  async hoverText(): Promise<string> {
    return this.page.locator('.monaco-hover:not(.hidden)').evaluateAll((els: DomElement[]) =>
      els.filter((e) => e.getBoundingClientRect().width > 0).map((e) => e.innerText.trim()).filter((t) => t !== '').join('\n'),
    );
  }

  /** Every status bar item, as its aria label or else its text. */
  async statusBarText(): Promise<string[]> {
    return this.page.locator('.part.statusbar .statusbar-item').evaluateAll((items: DomElement[]) =>
      items.map((i) => (i.getAttribute('aria-label') || i.innerText).trim()).filter((t) => t !== ''),
    );
  }

  /** Messages of the notification toasts on screen. */
  async notifications(): Promise<string[]> {
    return this.page.locator('.notifications-toasts .notification-toast').evaluateAll((toasts: DomElement[]) =>
      toasts.map((t) => (t.querySelector('.notification-list-item-message')?.innerText ?? t.innerText).trim()).filter((m) => m !== ''),
    );
  }

  /**
   * Every notification of the session, from the notification centre (toasts hide after a while, so a
   * notification shown before the test looked is only there). Opens the centre, reads it, closes it.
   */
  async notificationCenter(): Promise<string[]> {
    await this.runCommand('Notifications: Show Notifications');
    const center = '.notifications-center';
    await this.visible(center, 'the notification centre');
    const messages = await this.page.locator(`${center} .notification-list-item-message`).evaluateAll((items: DomElement[]) => items.map((i) => i.innerText.trim()).filter((m) => m !== ''));
    await this.runCommand('Notifications: Hide Notifications');
    await this.hidden(center, 'the notification centre to close');
    return messages;
  }

  /**
   * Polls `probe` until it gives a value (a probe that throws is asked again); the timeout's error names what
   * was awaited, the status bar and notifications on screen, and the probe's last error if it threw.
   */
  waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
    let lastError: unknown;
    const seen = async (): Promise<string> => {
      const statusBar = await this.statusBarText().catch(() => []);
      const notifications = await this.notifications().catch(() => []);
      const error = lastError === undefined ? '' : `; the probe last threw: ${lastError instanceof Error ? lastError.message.split('\n')[0] : String(lastError)}`;
      return `status bar: ${JSON.stringify(statusBar)}; notifications: ${JSON.stringify(notifications)}${error}`;
    };
    return this.poll(what, timeoutMs, () => probe().catch((e: unknown) => ((lastError = e), undefined)), seen);
  }

  /** Title of the quick input on screen ('' when none). */
  quickInputTitle(): Promise<string> {
    return this.page.evaluate(() => {
      const d = (globalThis as unknown as PageGlobals).document;
      const w = d.querySelector('.quick-input-widget');
      if (!w || w.getBoundingClientRect().height === 0) return '';
      return d.querySelector('.quick-input-widget .quick-input-title')?.textContent ?? '';
    });
  }

  /** Waits for a quick input whose title contains `part`. */
  waitForQuickInput(part: string, timeoutMs = 30_000): Promise<true> {
    return this.waitFor(`a quick input titled "${part}"`, async () => ((await this.quickInputTitle()).includes(part) ? true : undefined), timeoutMs);
  }

  /** Waits for the quick input titled `part` to go (it was answered). */
  waitForQuickInputGone(part: string, timeoutMs = 15_000): Promise<true> {
    return this.waitFor(`the quick input "${part}" to be answered`, async () => (!(await this.quickInputTitle()).includes(part) ? true : undefined), timeoutMs);
  }

  /** The content of the webview (panel or view) that has an element matching `selector`, if one is open. */
  async webviewWith(selector: string): Promise<FrameLocator | undefined> {
    const names = await this.page.locator('iframe.webview').evaluateAll((els: DomElement[]) => els.map((e) => e.getAttribute('name') ?? ''));
    for (const name of names) {
      const frame = this.page.frameLocator(`iframe.webview[name="${name}"]`).frameLocator('iframe#active-frame');
      if ((await frame.locator(selector).count().catch(() => 0)) > 0) return frame;
    }
    return undefined;
  }

  /** Text of the editor in the panel (the Output view): the rendered lines (the view is virtual), in screen order. */
  async panelText(): Promise<string> {
    return this.page.locator('.part.panel .monaco-editor .view-lines .view-line').evaluateAll((lines: DomElement[]) =>
      lines
        .map((l) => ({ top: l.getBoundingClientRect().top, text: l.innerText.replace(/\u00a0/g, ' ') }))
        .sort((a, b) => a.top - b.top)
        .map((l) => l.text)
        .join('\n'),
    );
  }

  /** Scrolls the panel's editor (the Output view) to its first line. */
  async scrollPanelToTop(): Promise<void> {
    // Near the editor's top-left corner: its centre can lie under the panel's title toolbar.
    await this.page.locator('.part.panel .monaco-editor').first().click({ position: { x: 40, y: 8 } });
    await this.page.keyboard.press('Control+Home');
  }

  /** Waits until the panel's editor shows `text`; returns the whole panel text. */
  async waitForPanelText(text: string | RegExp, timeoutMs = this.timeoutMs): Promise<string> {
    return this.poll(`the panel to show ${String(text)}`, timeoutMs, async () => {
      const shown = await this.panelText();
      return (typeof text === 'string' ? shown.includes(text) : text.test(shown)) ? shown : undefined;
    }, async () => `panel: ${JSON.stringify(await this.panelText())}; notifications: ${JSON.stringify(await this.notifications())}`);
  }

  async screenshot(file: string): Promise<void> {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await this.page.screenshot({ path: file });
  }

  /** Applies a color theme by its label in "Preferences: Color Theme". */
  async setTheme(themeLabel: string): Promise<void> {
    await this.runCommand('Preferences: Color Theme');
    await this.pickQuickItem(themeLabel);
    await this.hidden(quickInput, `the theme picker to close after choosing "${themeLabel}"`);
  }

  async close(): Promise<void> {
    await this.context.close().catch(() => undefined);
    await fs.rm(this.profile, { recursive: true, force: true, maxRetries: 3 });
  }

  /** F1 opens the command palette ('>' mode); its text replaced by `value` selects another quick access mode. */
  private async openQuickInput(value: string): Promise<void> {
    await this.page.keyboard.press('Escape');
    await this.page.keyboard.press('F1');
    await this.visible(`${quickInput} .quick-input-box input`, 'the command palette');
    await this.page.keyboard.press('Control+A');
    await this.page.keyboard.insertText(value);
  }

  /**
   * Waits for a row of the open quick input whose visible label is `label`, then chooses it (Enter when it
   * is focused, else a click). The visible label leaves out codicons, descriptions and keybindings.
   */
  private async acceptQuickPick(label: string): Promise<void> {
    const read = (): Promise<{ label: string; index: string; focused: boolean }[]> =>
      this.page.locator(`${quickInput} .monaco-list-row`).evaluateAll((els: DomElement[]) =>
        els.map((e) => ({
          label: (e.querySelector('.label-name')?.innerText ?? e.getAttribute('aria-label') ?? '').replace(/\s+/g, ' ').trim(),
          index: e.getAttribute('data-index') ?? '',
          focused: e.className.split(' ').includes('focused'),
        })),
      );
    const row = await this.poll(`"${label}" in the quick pick`, this.timeoutMs, async () => (await read()).find((r) => r.label === label), async () => `rows: ${JSON.stringify((await read()).map((r) => r.label))}`);
    if (row.focused) await this.page.keyboard.press('Enter');
    else await this.page.locator(`${quickInput} .monaco-list-row[data-index="${row.index}"]`).first().click();
  }

  private async hoverPoint(x: number, y: number, what: string): Promise<string> {
    // Leave first: a mouse already there sends no move, and the hover would not come back.
    await this.page.mouse.move(0, 0);
    await this.page.mouse.move(x, y, { steps: 4 });
    // A hover first shows "Loading..." while the providers answer.
    return this.poll(`a hover over ${what}`, this.timeoutMs, async () => {
      const text = await this.hoverText();
      return text !== '' && !/^Loading(\.\.\.|…)$/.test(text) ? text : undefined;
    }, async () => `hover: ${JSON.stringify(await this.hoverText())}`);
  }

  private async visible(selector: string, what: string, timeoutMs = this.timeoutMs): Promise<void> {
    await this.page.locator(selector).first().waitFor({ state: 'visible', timeout: timeoutMs }).catch((e: Error) => {
      throw new Error(`e2e: timed out after ${timeoutMs} ms waiting for ${what} (${selector}): ${e.message.split('\n')[0]}${this.errorsNote()}`);
    });
  }

  private async hidden(selector: string, what: string): Promise<void> {
    await this.page.locator(selector).first().waitFor({ state: 'hidden', timeout: this.timeoutMs }).catch((e: Error) => {
      throw new Error(`e2e: timed out after ${this.timeoutMs} ms waiting for ${what}: ${e.message.split('\n')[0]}`);
    });
  }

  /** Calls `probe` until it gives a value; on timeout the error names `what` and what `state` says was there. */
  private async poll<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, state?: () => Promise<string>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) {
        const seen = state ? await state().catch((e: Error) => `(state unavailable: ${e.message})`) : '';
        throw new Error(`e2e: timed out after ${timeoutMs} ms waiting for ${what}${seen ? `; ${seen}` : ''}${this.errorsNote()}`);
      }
      await this.page.waitForTimeout(100);
    }
  }

  private errorsNote(): string {
    return this.pageErrors.length > 0 ? `\npage errors so far:\n  ${this.pageErrors.slice(-10).join('\n  ')}` : '';
  }
}
