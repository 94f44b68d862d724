// The running phase's figures and controls: step k of N with a progress bar, tokens/s, elapsed time, ETA,
// what the engine is doing, the latest losses, and Stop (keep the model trained so far) / Cancel (write
// nothing). After Stop the run finishes the step in progress, so Stop is disabled and says so.
import type { RunView } from '../../src/protocol/trainingPanelProtocol';
import { el } from '../explorer/dom';
import { etaText, formatDuration, lossText, progressPercent, speedText, stepText } from '../training/format';
import { actionButton, setEnabled } from './trainingButtons';

export class TrainingRun {
  readonly element = el('section', { className: 'run-status', attrs: { id: 'run-status', 'aria-label': 'Progress of the run' } });
  private readonly step = el('span', { className: 'step', attrs: { id: 'run-step' } });
  private readonly fill = el('div', { className: 'fill' });
  private readonly bar = el('div', { className: 'progress', attrs: { id: 'run-progress', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-label': 'Steps done' } }, [this.fill]);
  private readonly stage = el('p', { className: 'stage', attrs: { id: 'run-stage', role: 'status' } });
  private readonly speed = el('dd', { attrs: { id: 'run-speed' } });
  private readonly elapsed = el('dd', { attrs: { id: 'run-elapsed' } });
  private readonly eta = el('dd', { attrs: { id: 'run-eta' } });
  /** The figures about time to come, shown only while the run is live. */
  private readonly liveOnly: readonly HTMLElement[];
  private readonly loss = el('dd', { attrs: { id: 'run-loss' } });
  private readonly evalLoss = el('dd', { attrs: { id: 'run-eval-loss' } });
  private readonly stopping = el('p', { className: 'stopping', attrs: { id: 'stopping', role: 'status' } });
  private readonly stop: ReturnType<typeof actionButton>;
  private readonly cancel: ReturnType<typeof actionButton>;
  private readonly controls: HTMLElement;
  private run: RunView | undefined;
  /** Local time at which run.etaMs was the host's estimate. */
  private etaAt = 0;
  /** Stop was pressed; the host's `stopping` confirms it. */
  private stopPressed = false;
  private live = false;

  constructor(onStop: () => void, onCancel: () => void) {
    this.stop = actionButton('stop', 'Stop and keep the model trained so far', () => {
      this.stopPressed = true;
      this.render(Date.now());
      onStop();
    });
    this.cancel = actionButton('cancel', 'Cancel: write nothing', onCancel, true);
    this.controls = el('div', { className: 'actions' }, [this.stop, this.cancel]);
    const fig = (term: string, dd: HTMLElement): HTMLElement[] => [el('dt', { text: term }), dd];
    const elapsed = fig('Elapsed', this.elapsed);
    const remaining = fig('Remaining', this.eta);
    // A failed or cancelled run's clock has stopped: no elapsed time, ETA or stage for it.
    this.liveOnly = [...elapsed, ...remaining, this.stage];
    this.element.append(
      el('div', { className: 'step-line' }, [this.step, this.bar]),
      this.stage,
      el('dl', { className: 'figures' }, [...fig('Speed', this.speed), ...elapsed, ...remaining, ...fig('Train loss', this.loss), ...fig('Held-out loss', this.evalLoss)]),
      this.stopping,
      this.controls,
    );
  }

  /** A new view of the run (a state or a step); `live`: the run is in progress (controls shown). */
  update(run: RunView, live: boolean): void {
    const newRun = this.run?.startedAt !== run.startedAt;
    if (newRun) this.stopPressed = false;
    // A new estimate counts down from now; a state that repeats the last one keeps counting.
    if (newRun || run.etaMs !== this.run?.etaMs) this.etaAt = Date.now();
    this.run = run;
    // Stop and Cancel exist only while the run does (so a finished panel has no #stop).
    if (live && !this.controls.isConnected) this.element.append(this.controls);
    if (!live) this.controls.remove();
    this.live = live;
    for (const e of this.liveOnly) e.hidden = !live;
    this.render(Date.now());
  }

  /** Redraws the clock figures (called every second while running). */
  tick(): void {
    this.render(Date.now());
  }

  private render(now: number): void {
    const run = this.run;
    if (!run) return;
    const last = run.points[run.points.length - 1];
    const done = last?.step ?? 0;
    this.step.textContent = stepText(done, run.totalSteps);
    const pct = progressPercent(done, run.totalSteps);
    this.fill.style.width = `${pct}%`; // CSSOM: allowed by the CSP
    this.bar.setAttribute('aria-valuenow', String(pct));
    this.stage.textContent = run.stage ?? (last ? 'Training' : 'Preparing the first step…');
    this.speed.textContent = speedText(last?.tokensPerSecond);
    // The host's clock set startedAt; a remote webview's clock may differ a little, never below zero.
    this.elapsed.textContent = formatDuration(Math.max(0, now - run.startedAt));
    this.eta.textContent = etaText(run.etaMs, now - this.etaAt);
    this.loss.textContent = last ? lossText(last.loss) : '—';
    const ev = [...run.points].reverse().find((p) => p.evalLoss !== undefined);
    this.evalLoss.textContent = ev ? `${lossText(ev.evalLoss)} (step ${ev.step})` : 'not measured yet';
    const stopping = this.live && (run.stopping === true || this.stopPressed);
    this.stopping.textContent = stopping ? 'Stopping after the step in progress…' : '';
    this.stopping.hidden = !stopping;
    setEnabled(this.stop, !stopping);
  }
}
