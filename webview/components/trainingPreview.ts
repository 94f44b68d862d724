// The first tokens of the first training sequence, as the model reads them. Chat prompt tokens (masked out
// of the loss) are dimmed and struck through, each run of them labelled "not trained on: prompt", so the
// mask the run uses is visible before it starts.
import type { PreviewToken } from '../../src/protocol/trainingPanelProtocol';
import { el } from '../explorer/dom';
import { maskRuns } from '../training/previewRuns';

export const MASK_LABEL = 'not trained on: prompt';

export function trainingPreview(tokens: readonly PreviewToken[]): HTMLElement {
  const masked = tokens.some((t) => t.masked);
  const text = el(
    'div',
    { className: 'preview-text', attrs: { id: 'preview', tabindex: '0', 'aria-label': 'Preview of the first training sequence' } },
    maskRuns(tokens).map((r) =>
      r.masked
        ? el('span', { className: 'masked', attrs: { title: MASK_LABEL } }, [el('span', { className: 'mask-label', text: MASK_LABEL }), el('s', { text: r.text })])
        : el('span', { className: 'trained', text: r.text }),
    ),
  );
  const legend = masked
    ? el('p', { className: 'help' }, ['Struck-through, dimmed text is a chat prompt: ', el('span', { className: 'masked-sample', text: MASK_LABEL }), '. The loss is on the assistant turns only.'])
    : el('p', { className: 'help', text: 'Every next token of this text is trained on.' });
  return el('div', { className: 'preview' }, [legend, text]);
}
