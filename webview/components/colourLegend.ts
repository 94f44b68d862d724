// <moe-colour-legend>: the key to the editor's token colours in the current colour mode (legendData.ts).
// Swatches use the same theme colours as the decorations, so the key follows the theme.
import { define, el, ShadowElement, sheet } from '../explorer/dom';
import { legendData, type LegendInput } from '../explorer/legendData';

const styles = sheet(`
  :host { display: block; padding: 0 8px 6px; font-size: 11px; color: var(--vscode-descriptionForeground); }
  .title { margin-bottom: 3px; }
  .swatches { display: flex; flex-wrap: wrap; gap: 3px 6px; margin: 0; padding: 0; list-style: none; }
  .swatches li { display: inline-flex; align-items: center; gap: 3px; font-variant-numeric: tabular-nums; color: var(--vscode-foreground); }
  .sw { width: 12px; height: 12px; border-radius: 2px; box-sizing: border-box; box-shadow: inset 0 0 0 1px var(--moe-border); }
  .sw.outline { background: transparent !important; box-shadow: none; border: 1px solid; }
  .note { margin-top: 3px; }
`);

export class ColourLegend extends ShadowElement {
  private readonly heading = el('div', { className: 'title' });
  private readonly list = el('ul', { className: 'swatches' });
  private readonly note = el('div', { className: 'note' });
  private key = '';

  constructor() {
    super([styles]);
    this.setAttribute('role', 'group');
    this.root.append(this.heading, this.list, this.note);
  }

  update(input: LegendInput): void {
    const data = legendData(input);
    // Rebuilt only when its content changes (state pushes are frequent during annotation).
    const key = JSON.stringify(data);
    if (key === this.key) return;
    this.key = key;
    this.setAttribute('aria-label', data.title);
    this.heading.textContent = data.title;
    this.note.textContent = data.note;
    this.list.replaceChildren(
      ...data.swatches.map((s) => {
        const sw = el('span', { className: s.outline ? 'sw outline' : 'sw', attrs: { 'aria-hidden': 'true' } });
        if (s.outline) sw.style.borderColor = s.colour;
        else sw.style.backgroundColor = s.colour;
        return el('li', {}, [sw, s.label]);
      }),
    );
  }
}

define('moe-colour-legend', ColourLegend);
