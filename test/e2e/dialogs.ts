// The quick-input dialogs a command asks through, answered as a person does: an input box with a typed value
// (or its default), a quick pick by its label, and the value an input box offers. For e2e tests.
import type { PageGlobals } from './playwright';
import type { Workbench } from './workbench';

const focusInQuickInput = (wb: Workbench): Promise<true> =>
  wb.waitFor('the focus in the input box', () => wb.page.evaluate(() => ((globalThis as unknown as PageGlobals).document.activeElement?.closest('.quick-input-widget .quick-input-box') ? true : undefined)));

/** The value in the open quick input's box ('' when none is open). */
export function inputBoxValue(wb: Workbench): Promise<string> {
  return wb.page.evaluate(() => ((globalThis as unknown as PageGlobals).document.querySelector('.quick-input-widget .quick-input-box input') as unknown as { value: string } | null)?.value ?? '');
}

/** Answers the input box whose title contains `part` with `value` (or its default), then waits for it to go. */
export async function answerInput(wb: Workbench, part: string, value?: string): Promise<void> {
  await wb.waitForQuickInput(part);
  await focusInQuickInput(wb);
  if (value !== undefined) {
    await wb.page.keyboard.press('Control+A');
    await wb.page.keyboard.insertText(value);
  }
  await wb.page.waitForTimeout(300); // validation runs on every change
  await wb.page.keyboard.press('Enter');
  await wb.waitForQuickInputGone(part);
}

/** Picks `label` in the quick pick whose title contains `part`, then waits for it to go. */
export async function pickItem(wb: Workbench, part: string, label: string): Promise<void> {
  await wb.waitForQuickInput(part);
  await wb.pickQuickItem(label);
  await wb.waitForQuickInputGone(part);
}
