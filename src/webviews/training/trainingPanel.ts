// The training panel (an editor tab): holds the run's whole view state (trainingPanelProtocol.ts) and sends
// it whenever the webview (re)loads, and each step as it comes; turns the webview's messages into events for
// the fine-tuning flow. Scripts by nonce only; the only local resources are the bundled webview files.
import * as vscode from 'vscode';
import { Panels } from '../../features/ids';
import { type HostToTraining, type RunView, type StepPoint, type TrainingToHost, type TrainingViewState, parseTrainingMessage } from '../../protocol/trainingPanelProtocol';
import { trainingHtml } from './trainingHtml';

export class TrainingPanel implements vscode.Disposable {
  private readonly panel: vscode.WebviewPanel;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly messages = new vscode.EventEmitter<TrainingToHost>();
  private readonly disposedEmitter = new vscode.EventEmitter<void>();
  private state: TrainingViewState;
  private disposed = false;
  /** The webview's messages (checked): start, stop, cancel, open report / model, reveal. */
  readonly onMessage = this.messages.event;
  readonly onDidDispose = this.disposedEmitter.event;

  constructor(extensionUri: vscode.Uri, title: string, initial: TrainingViewState) {
    this.state = initial;
    const root = vscode.Uri.joinPath(extensionUri, 'dist', 'webview');
    this.panel = vscode.window.createWebviewPanel(Panels.training, title, { viewColumn: vscode.ViewColumn.Active, preserveFocus: false }, {
      enableScripts: true,
      localResourceRoots: [root],
      // The state is resent on every load, so the webview need not be kept alive while hidden; but a run's
      // chart redrawn from hundreds of points on every tab switch is wasteful, and the panel is one tab.
      retainContextWhenHidden: true,
    });
    this.panel.webview.html = trainingHtml(this.panel.webview, vscode.Uri.joinPath(root, 'training.js'), [vscode.Uri.joinPath(root, 'training.css')]);
    this.disposables.push(
      this.panel.webview.onDidReceiveMessage((m: unknown) => {
        const msg = parseTrainingMessage(m);
        if (!msg) return;
        if (msg.type === 'ready') this.post({ type: 'state', state: this.state });
        this.messages.fire(msg);
      }),
      this.panel.onDidDispose(() => {
        this.disposed = true;
        this.disposedEmitter.fire();
        for (const d of this.disposables) d.dispose();
        this.messages.dispose();
        this.disposedEmitter.dispose();
      }),
    );
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  get current(): TrainingViewState {
    return this.state;
  }

  /** Replaces the state and shows it. */
  setState(state: TrainingViewState): void {
    this.state = state;
    this.post({ type: 'state', state });
  }

  /** Changes the run part of the state (and shows the whole state). */
  updateRun(f: (run: RunView) => RunView): void {
    if (this.state.run) this.setState({ ...this.state, run: f(this.state.run) });
  }

  /** One step of the run: kept in the state (for a reload) and sent alone (the chart appends it). */
  step(point: StepPoint, etaMs: number | undefined): void {
    const run = this.state.run;
    if (!run) return;
    const { stage: _done, ...rest } = run; // a step ends whatever stage came before it
    this.state = { ...this.state, run: { ...rest, points: [...run.points, point], ...(etaMs === undefined ? {} : { etaMs }) } };
    this.post({ type: 'step', point, ...(etaMs === undefined ? {} : { etaMs }) });
  }

  /** What the engine is doing between steps (scoring, evaluating, writing). */
  stage(stage: string): void {
    const run = this.state.run;
    if (run) this.state = { ...this.state, run: { ...run, stage } };
    this.post({ type: 'stage', stage });
  }

  reveal(): void {
    if (!this.disposed) this.panel.reveal(undefined, false);
  }

  private post(msg: HostToTraining): void {
    if (this.disposed) return;
    this.panel.webview.postMessage(msg).then(undefined, () => undefined);
  }

  dispose(): void {
    if (!this.disposed) this.panel.dispose();
  }
}
