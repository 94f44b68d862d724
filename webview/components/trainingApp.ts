// The training panel: one state from the host (trainingPanelProtocol.ts) shown by phase — planning (the
// experts being scored), setup (the plan, editable), running (live chart and figures), done (the outcome
// under the final chart), failed / cancelled (the message and the chart so far). Steps and stages arrive
// between states and are applied to the panel's copy of the run. The root carries data-phase, and only the
// current phase's parts are in the document (so #start, #stop, #open-report exist only when they apply).
import type { HostToTraining, RunView, StepPoint, TrainingToHost, TrainingViewState } from '../../src/protocol/trainingPanelProtocol';
import { el } from '../explorer/dom';
import { assertNever } from '../explorer/assertNever';
import { TrainingLossChart } from './trainingLossChart';
import { TrainingOutcome } from './trainingOutcome';
import { TrainingPlan } from './trainingPlan';
import { TrainingRun } from './trainingRun';

/** Notes shown (the output channel has them all). */
const NOTES = 8;

/** What the app needs from its surroundings (the VS Code webview API in production). */
export interface TrainingHost {
  post(msg: TrainingToHost): void;
}

export class TrainingApp {
  private readonly title = el('h1', { text: 'Fine-tune experts', attrs: { id: 'title' } });
  private readonly planning = el('section', { className: 'planning', attrs: { id: 'planning', role: 'status' } });
  private readonly planningStage = el('p', { className: 'stage' });
  private readonly plan: TrainingPlan;
  private readonly run: TrainingRun;
  private readonly chart = new TrainingLossChart();
  private readonly outcome: TrainingOutcome;
  private readonly message = el('p', { className: 'message', attrs: { id: 'message', role: 'alert' } });
  private readonly notes = el('ol', { className: 'notes' });
  private readonly notesBox = el('details', { className: 'notes-box', attrs: { id: 'notes' } }, [el('summary', { text: 'Log' }), this.notes]);
  private state: TrainingViewState | undefined;
  /** The run the chart shows (its startedAt), so a state about the same run does not reset the view. */
  private chartRun: number | undefined;
  private clock = 0;

  constructor(private readonly root: HTMLElement, host: TrainingHost) {
    this.plan = new TrainingPlan(({ selection, settings }) => host.post({ type: 'start', selection, settings }));
    this.run = new TrainingRun(() => host.post({ type: 'stop' }), () => host.post({ type: 'cancel' }));
    this.outcome = new TrainingOutcome({
      openReport: () => host.post({ type: 'openReport' }),
      openModel: () => host.post({ type: 'openModel' }),
      revealOutput: () => host.post({ type: 'revealOutput' }),
    });
    this.planning.append(el('p', { className: 'lead', text: 'Scoring the experts on your data…' }), this.planningStage);
    this.show(undefined);
  }

  handle(msg: HostToTraining): void {
    switch (msg.type) {
      case 'state':
        this.setState(msg.state);
        return;
      case 'step':
        this.step(msg.point, msg.etaMs);
        return;
      case 'stage':
        this.stage(msg.stage);
        return;
      default:
        assertNever(msg, 'message');
    }
  }

  private setState(state: TrainingViewState): void {
    this.state = state;
    if (state.plan) {
      this.title.textContent = `Fine-tune ${state.plan.modelName}`;
      this.planningStage.textContent = '';
    }
    if (state.phase === 'setup') this.plan.update(state);
    if (state.run) {
      if (this.chartRun !== state.run.startedAt || state.run.points.length !== this.chart.points) this.chart.setPoints(state.run.points);
      this.chartRun = state.run.startedAt;
      this.run.update(state.run, state.phase === 'running');
    }
    if (state.outcome) this.outcome.update(state.outcome);
    this.show(state);
  }

  private step(point: StepPoint, etaMs: number | undefined): void {
    const s = this.state;
    if (!s?.run) return;
    const { stage: _ended, ...rest } = s.run; // a step ends whatever stage came before it (as the host does)
    const run: RunView = { ...rest, points: [...s.run.points, point], ...(etaMs === undefined ? {} : { etaMs }) };
    this.state = { ...s, run };
    this.chart.append(point);
    this.run.update(run, s.phase === 'running');
  }

  private stage(stage: string): void {
    const s = this.state;
    if (s?.run) {
      const run = { ...s.run, stage };
      this.state = { ...s, run };
      this.run.update(run, s.phase === 'running');
    } else {
      this.planningStage.textContent = stage;
    }
  }

  private show(state: TrainingViewState | undefined): void {
    const phase = state?.phase;
    this.root.dataset['phase'] = phase ?? 'loading';
    const ended = phase === 'failed' || phase === 'cancelled';
    const message = ended ? (state?.error ?? (phase === 'cancelled' ? 'Cancelled: nothing was written.' : 'The run failed.')) : '';
    this.message.textContent = message;
    this.message.className = `message ${phase ?? ''}`;
    const notes = state?.notes ?? [];
    this.notes.replaceChildren(...notes.slice(-NOTES).map((n) => el('li', { text: n })));
    const hasRun = state?.run !== undefined;
    const parts = [
      this.title,
      ...(phase === 'planning' ? [this.planning] : []),
      ...(phase === 'setup' && state?.plan ? [this.plan.element] : []),
      ...(ended ? [this.message] : []),
      ...(hasRun && (phase === 'running' || ended) ? [this.run.element] : []),
      ...(state?.outcome && phase === 'done' ? [this.outcome.element] : []),
      ...(hasRun && (phase === 'running' || phase === 'done' || ended) ? [this.chart.element] : []),
      ...(notes.length > 0 ? [this.notesBox] : []),
    ];
    // Only when the parts change: moving nodes would drop the focus and restart the chart's observer.
    const current = [...this.root.children];
    if (current.length !== parts.length || current.some((c, i) => c !== parts[i])) this.root.replaceChildren(...parts);
    if (phase === 'running' && !this.clock) this.clock = window.setInterval(() => this.run.tick(), 1000);
    if (phase !== 'running' && this.clock) {
      window.clearInterval(this.clock);
      this.clock = 0;
    }
  }
}
