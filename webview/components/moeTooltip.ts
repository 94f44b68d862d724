// <moe-tooltip>: one floating hover card per component, positioned next to an anchor rectangle. It repeats
// what the anchor's aria-label already says, so it is hidden from assistive technology.
import { define, el, ShadowElement, sheet } from '../explorer/dom';
import type { TooltipLine } from '../explorer/heatmapData';

const styles = sheet(`
  :host { position: fixed; z-index: 100; pointer-events: none; display: none; max-width: min(280px, calc(100vw - 16px)); }
  :host([open]) { display: block; }
  .card {
    background: var(--vscode-editorHoverWidget-background);
    color: var(--vscode-editorHoverWidget-foreground, var(--vscode-foreground));
    border: 1px solid var(--vscode-editorHoverWidget-border, var(--vscode-widget-border, transparent));
    box-shadow: 0 2px 8px var(--vscode-widget-shadow, transparent);
    border-radius: 3px; padding: 4px 8px; font-size: 12px; line-height: 18px;
  }
  .line { white-space: pre; overflow: hidden; text-overflow: ellipsis; }
  .line.head { font-family: var(--vscode-editor-font-family); font-weight: 600; }
  .line.dim { color: var(--vscode-descriptionForeground); }
`);

const GAP = 6;

export class MoeTooltip extends ShadowElement {
  private readonly card = el('div', { className: 'card' });

  constructor() {
    super([styles]);
    this.setAttribute('aria-hidden', 'true');
    this.root.append(this.card);
  }

  show(anchor: DOMRect, lines: readonly TooltipLine[]): void {
    this.card.replaceChildren(...lines.map((l) => el('div', { className: l.kind ? `line ${l.kind}` : 'line', text: l.text })));
    this.setAttribute('open', '');
    const box = this.getBoundingClientRect();
    const below = anchor.bottom + GAP + box.height <= window.innerHeight;
    const top = below ? anchor.bottom + GAP : Math.max(0, anchor.top - GAP - box.height);
    const left = Math.max(4, Math.min(window.innerWidth - box.width - 4, anchor.left + anchor.width / 2 - box.width / 2));
    this.style.top = `${Math.round(top)}px`;
    this.style.left = `${Math.round(left)}px`;
  }

  hide(): void {
    this.removeAttribute('open');
  }
}

define('moe-tooltip', MoeTooltip);
