// The quick-input dialogs a command asks through, answered as a person does: an input box with a typed value
// (or its default), a quick pick by its label, the value an input box offers, and code-server's file dialog
// (a quick input too) given a folder; and an item of a context menu. For e2e tests.
import type { PageGlobals } from './playwright';
import type { Workbench } from './workbench';

const focusInQuickInput = (wb: Workbench): Promise<true> =>
  wb.waitFor('the focus in the input box', () => wb.page.evaluate(() => ((globalThis as unknown as PageGlobals).document.activeElement?.closest('.quick-input-widget .quick-input-box') ? true : undefined)));

/** The value in the open quick input's box ('' when none is open). */
export function inputBoxValue(wb: Workbench): Promise<string> {
  return wb.page.evaluate(() => ((globalThis as unknown as PageGlobals).document.querySelector('.quick-input-widget .quick-input-box input') as unknown as { value: string } | null)?.value ?? '');
}

/**
 * Answers the input box whose title contains `part` with `value` (or its default), then waits for it to go
 * (`goneMs`, default Workbench.waitForQuickInputGone's).
 */
export async function answerInput(wb: Workbench, part: string, value?: string, goneMs?: number): Promise<void> {
  await wb.waitForQuickInput(part);
  await focusInQuickInput(wb);
  if (value !== undefined) {
    await wb.page.keyboard.press('Control+A');
    await wb.page.keyboard.insertText(value);
  }
  await wb.page.waitForTimeout(300); // validation runs on every change
  await wb.page.keyboard.press('Enter');
  await wb.waitForQuickInputGone(part, goneMs);
}

/** Picks `label` in the quick pick whose title contains `part`, then waits for it to go (`goneMs`, as answerInput). */
export async function pickItem(wb: Workbench, part: string, label: string, goneMs?: number): Promise<void> {
  await wb.waitForQuickInput(part);
  await wb.pickQuickItem(label);
  await wb.waitForQuickInputGone(part, goneMs);
}

/**
 * Answers code-server's file dialog (a quick input whose box holds a path) with the folder `dir`, then presses
 * its first button (the command's "Open Model", "Profile on These", "Open Report").
 */
export async function answerFolderDialog(wb: Workbench, dir: string): Promise<void> {
  // The dialog fills its box with the current folder first; type only after that.
  await wb.waitFor('the file dialog', async () => ((await inputBoxValue(wb)).startsWith('/') ? true : undefined));
  await wb.page.waitForTimeout(500);
  await wb.page.keyboard.press('Control+A');
  await wb.page.keyboard.insertText(`${dir}/`); // a trailing slash navigates into the folder
  await wb.waitFor(`the dialog in ${dir}`, async () => ((await inputBoxValue(wb)).replace(/\/$/, '') === dir ? true : undefined));
  await wb.page.waitForTimeout(500);
  await wb.page.locator('.quick-input-widget .monaco-button').first().click();
}

/** Clicks the item `label` of the context menu a right click opened, once the menu has settled. */
export async function clickMenuItem(wb: Workbench, label: string): Promise<void> {
  const item = wb.page.locator('.monaco-menu .action-item').filter({ hasText: label }).first();
  await item.waitFor({ state: 'visible', timeout: 15_000 });
  // The menu ignores a click that comes while it is still opening (such a click goes nowhere): let it settle.
  await wb.page.waitForTimeout(500);
  await item.click();
}
