// The live loss chart (uPlot): train loss per step, held-out loss at the steps it was evaluated (points and
// a line across the gaps), the learning rate on its own axis. A step appends to the columns and calls
// setData; the chart is built once, when its container first has a width, and follows the container's
// size. Colours are read from the theme's CSS variables at every draw, so a theme change only redraws.
// uPlot styles its elements through the CSSOM (element.style), which the CSP allows; nothing here writes
// a style attribute or HTML. The container mirrors the number of plotted steps as data-points, and a
// visually hidden table of the last steps is the chart's text alternative.
import uPlot from 'uplot';
import type { StepPoint } from '../../src/protocol/trainingPanelProtocol';
import { formatInteger } from '../../src/report/formatNumbers';
import { el } from '../explorer/dom';
import { chartPalette, type ChartPalette } from '../training/chartPalette';
import { lossText, lrText } from '../training/format';
import { appendPoint, emptySeries, lastEval, pointCount, recentRows, seriesFromPoints, type LossSeries } from '../training/lossSeries';

/** Steps in the text alternative. */
const TABLE_ROWS = 5;
const MIN_HEIGHT = 180;
const MAX_HEIGHT = 340;

function readPalette(): ChartPalette {
  const css = getComputedStyle(document.documentElement);
  return chartPalette((name) => css.getPropertyValue(name));
}

export class TrainingLossChart {
  readonly element: HTMLElement;
  private readonly plotHost = el('div', { className: 'plot' });
  private readonly summary = el('p', { className: 'chart-summary', attrs: { id: 'loss-summary' } });
  private readonly tableBody = el('tbody');
  private series: LossSeries = emptySeries();
  private plot: uPlot | undefined;
  private palette: ChartPalette = readPalette();
  private readonly resize: ResizeObserver;
  private readonly theme: MutationObserver;
  private frame = 0;

  constructor() {
    const table = el('table', { className: 'sr-only', attrs: { 'aria-label': `Loss of the last ${TABLE_ROWS} steps` } }, [
      el('thead', {}, [el('tr', {}, ['Step', 'Train loss', 'Held-out loss'].map((h) => el('th', { text: h, attrs: { scope: 'col' } })))]),
      this.tableBody,
    ]);
    this.element = el('figure', { className: 'loss-chart', attrs: { id: 'loss-chart', 'data-points': '0', role: 'group', 'aria-label': 'Loss per step', 'aria-describedby': 'loss-summary' } }, [
      el('figcaption', { text: 'Loss per step' }),
      this.plotHost,
      this.summary,
      table,
    ]);
    this.resize = new ResizeObserver(() => this.scheduleFit());
    this.resize.observe(this.plotHost);
    this.theme = new MutationObserver(() => this.plot?.redraw(false, true));
    this.theme.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
    this.theme.observe(document.body, { attributes: true, attributeFilter: ['class'] });
    this.renderText();
  }

  /** Replaces every point (a state from the host). */
  setPoints(points: readonly StepPoint[]): void {
    this.series = seriesFromPoints(points);
    this.refresh();
  }

  /** One more step (or a held-out loss for a step already shown). */
  append(point: StepPoint): void {
    appendPoint(this.series, point);
    this.refresh();
  }

  get points(): number {
    return pointCount(this.series);
  }

  private refresh(): void {
    this.plot?.setData(this.data());
    this.renderText();
  }

  private data(): uPlot.AlignedData {
    const s = this.series;
    return [s.steps, s.train, s.evalLoss, s.lr];
  }

  private renderText(): void {
    const s = this.series;
    this.element.dataset['points'] = String(pointCount(s));
    const n = pointCount(s);
    if (n === 0) {
      this.summary.textContent = 'No step yet.';
    } else {
      const ev = lastEval(s);
      this.summary.textContent = `${formatInteger(n)} step${n === 1 ? '' : 's'}; at step ${formatInteger(s.steps[n - 1]!)} train loss ${lossText(s.train[n - 1] ?? Number.NaN)}${ev ? `; held-out loss ${lossText(ev.loss)} at step ${formatInteger(ev.step)}` : ''}.`;
    }
    this.tableBody.replaceChildren(
      ...recentRows(s, TABLE_ROWS).map((r) => el('tr', {}, [el('td', { text: formatInteger(r.step) }), el('td', { text: r.train === null ? '—' : lossText(r.train) }), el('td', { text: r.evalLoss === null ? '—' : lossText(r.evalLoss) })])),
    );
  }

  /**
   * Sizes (or builds) the chart in the next frame: done inside the ResizeObserver callback, the chart's own
   * height change would be reported again in the same frame ("ResizeObserver loop" errors).
   */
  private scheduleFit(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      const width = Math.floor(this.plotHost.clientWidth);
      if (width <= 0) return; // hidden: keep the chart as it is until it is shown again
      const size = { width, height: Math.round(Math.max(MIN_HEIGHT, Math.min(MAX_HEIGHT, width * 0.4))) };
      if (!this.plot) this.plot = new uPlot(this.options(size), this.data(), this.plotHost);
      else if (size.width !== this.plot.width || size.height !== this.plot.height) this.plot.setSize(size);
    });
  }

  private options(size: { width: number; height: number }): uPlot.Options {
    const p = (): ChartPalette => this.palette;
    const font = `11px ${this.palette.font}`;
    const axis = (extra: Partial<uPlot.Axis>): uPlot.Axis => ({
      stroke: () => p().axis,
      grid: { stroke: () => p().grid, width: 1 },
      ticks: { stroke: () => p().grid, width: 1 },
      font,
      labelFont: font,
      ...extra,
    });
    return {
      ...size,
      scales: { x: { time: false }, loss: { auto: true }, lr: { auto: true } },
      series: [
        { label: 'Step', value: (_u, v) => (v === null ? '—' : formatInteger(v)) },
        { label: 'Train loss', scale: 'loss', stroke: () => p().train, width: 1.5, points: { size: 4, stroke: () => p().train, fill: () => p().train }, value: (_u, v) => (v === null ? '—' : lossText(v)) },
        {
          label: 'Held-out loss',
          scale: 'loss',
          stroke: () => p().evalLoss,
          width: 2,
          spanGaps: true,
          points: { show: true, size: 7, stroke: () => p().evalLoss, fill: () => p().evalLoss },
          value: (_u, v) => (v === null ? '—' : lossText(v)),
        },
        { label: 'Learning rate', scale: 'lr', stroke: () => p().lr, width: 1, dash: [4, 4], points: { show: false }, value: (_u, v) => (v === null ? '—' : lrText(v)) },
      ],
      axes: [
        axis({ label: 'step', values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? formatInteger(v) : '')) }),
        axis({ scale: 'loss', label: 'loss', size: 56 }),
        axis({ scale: 'lr', label: 'learning rate', side: 1, size: 64, grid: { show: false }, values: (_u, splits) => splits.map((v) => lrText(v)) }),
      ],
      legend: { show: true, live: true },
      cursor: { drag: { x: true, y: false } },
      hooks: {
        // Once per draw, before the axes and series ask for their colours.
        drawClear: [
          () => {
            this.palette = readPalette();
          },
        ],
      },
    };
  }
}
