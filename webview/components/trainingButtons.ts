// Buttons of the training panel: vscode-button's `disabled` is mirrored as aria-disabled, which assistive
// technology and the e2e tests read on a custom element (its native disabled state is not exposed).
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { VscodeButton } from '@vscode-elements/elements/dist/vscode-button/vscode-button.js';
import { el } from '../explorer/dom';

export function setEnabled(button: VscodeButton, enabled: boolean): void {
  button.disabled = !enabled;
  button.setAttribute('aria-disabled', String(!enabled));
}

/** A button that calls `onClick` only while enabled. */
export function actionButton(id: string, text: string, onClick: () => void, secondary = false): VscodeButton {
  const b = el('vscode-button', { text, attrs: { id, ...(secondary ? { secondary: '' } : {}) } });
  b.addEventListener('click', () => {
    if (!b.disabled) onClick();
  });
  return b;
}
