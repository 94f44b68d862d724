// "MoE: Fine-tune Experts…" (issue #10 §5): the training data and what trains (quick picks), then the
// training panel: the plan the engine computes on the data (ESFT scores per layer, the chat mask), edited by
// the user, the run with its live loss curve, Stop (keep what was trained) and Cancel (write nothing), and
// the outcome with the report, the fine-tuned model and the routing difference on the current document.
// The run also shows as a cancellable progress notification, so closing the panel does not lose it.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { EngineClient } from '../../host/engineClient';
import type { FinetuneParams, FinetunePlan, FinetuneResult } from '../../protocol/engineProtocol';
import { MoeError } from '../../protocol/moeError';
import type { ModelInfo } from '../../protocol/modelInfo';
import type { TrainingSettings, TrainingToHost, TrainingViewState } from '../../protocol/trainingPanelProtocol';
import { isFinetuneReport, readReportJson, showFinetuneReportPanel } from '../../webviews/report/finetuneReportPanel';
import { TrainingPanel } from '../../webviews/training/trainingPanel';
import type { OutputLog } from '../log/outputLog';
import type { ModelManager } from '../model/modelManager';
import { pickDataPaths } from '../operations/dataPicker';
import { showOperationError, withEngineProgress } from '../operations/engineProgress';
import { focusOf, promptDocument, type PromptDocument } from '../operations/expertOperationFlow';
import { progressMessage, validateOutputDir } from '../operations/operationInputs';
import { defaultOutputFolder, pathState } from '../operations/outputFolder';
import { revealFile } from '../operations/profileActions';
import { pickWhatTrains, type TrainChoice } from './finetuneInputs';
import { checkSelection, defaultSettings, documentRoutingView, etaMs, finetuneParams, outcomeView, planView, selectionLabel, stepPoint, trainSpecs } from './trainingView';

type Requester = Pick<EngineClient, 'request'>;

export interface FinetuneFlowDeps {
  readonly engine: Requester;
  readonly models: ModelManager;
  /** The loaded MoE model, or undefined after telling the user why there is none. */
  readonly model: () => Promise<ModelInfo | undefined>;
  readonly extensionUri: vscode.Uri;
  readonly log?: OutputLog;
}

export class FinetuneFlow {
  private lastData: readonly string[] | undefined;

  constructor(private readonly deps: FinetuneFlowDeps) {}

  async start(arg?: unknown): Promise<void> {
    const info = await this.deps.model();
    if (!info) return;
    const focus = focusOf(arg, info);
    const data = await pickDataPaths({
      title: 'MoE: Fine-tune Experts (1/3) — training data',
      placeHolder: 'Text to train on: .txt, .md, source code, .jsonl with "text" or chat "messages" (chat records train on the assistant turns)',
      openLabel: 'Train on These',
      dialogTitle: 'Training data',
      ...(this.lastData ? { lastData: this.lastData } : {}),
    });
    if (!data || data.length === 0) return;
    const choice = await pickWhatTrains(info, focus);
    if (!choice) return;
    this.lastData = data;
    // The prompt in front of the user now: the panel will cover it, but its routing difference is wanted.
    const prompt = promptDocument();
    await new FinetuneSession(this.deps, info, data, choice, prompt?.uri).run();
  }
}

/** One panel: plan → setup → run → outcome. */
class FinetuneSession {
  private readonly panel: TrainingPanel;
  private plan: FinetunePlan | undefined;
  private result: FinetuneResult | undefined;
  /** Cancels what is running (the plan or the run); the panel's Cancel and closing it before the run. */
  private abort = new AbortController();
  private finish = new AbortController();
  private phaseDone: (() => void) | undefined;
  private readonly label: string;

  constructor(
    private readonly deps: FinetuneFlowDeps,
    private readonly info: ModelInfo,
    private readonly data: readonly string[],
    private readonly choice: TrainChoice,
    /** The prompt document open when the command started (its text is read again at Start). */
    private readonly promptUri: string | undefined,
  ) {
    this.label = selectionLabel(choice.select, choice.threshold, choice.specs);
    this.panel = new TrainingPanel(deps.extensionUri, `Fine-tune: ${info.name}`, { phase: 'planning', notes: [`Scoring the experts of ${info.name} on ${data.map((d) => path.basename(d)).join(', ')}…`] });
    this.panel.onMessage((m) => this.onMessage(m));
    this.panel.onDidDispose(() => {
      // Closing the panel before the run starts ends the session; a running run goes on under its notification.
      if (this.panel.current.phase !== 'running') this.abort.abort();
      this.phaseDone?.();
    });
  }

  async run(): Promise<void> {
    const { engine, log } = this.deps;
    const c = this.choice;
    try {
      this.plan = await engine.request(
        'finetunePlan',
        { data: this.data, train: c.specs, ...(c.select ? { select: c.select } : {}), ...(c.threshold !== undefined ? { threshold: c.threshold } : {}) },
        { signal: this.abort.signal, timeoutMs: 0, onProgress: (p) => this.panel.stage(progressMessage(p)) },
      );
    } catch (e) {
      const err = MoeError.from(e);
      if (err.code === 'E_CANCELLED') return;
      log?.failed('fine-tuning plan', err.code, err.message);
      this.panel.setState({ phase: 'failed', error: `The data could not be prepared for training: ${err.message}` });
      return;
    }
    const out = defaultOutputFolder(this.info, { operation: 'finetune' }, this.deps.extensionUri.fsPath);
    this.panel.setState({ phase: 'setup', plan: planView(this.info, this.plan, defaultSettings(this.plan, out), this.label) });
    // The rest happens in onMessage (Start, then the run); this resolves when the panel closes.
    await new Promise<void>((resolve) => (this.phaseDone = resolve));
  }

  private onMessage(m: TrainingToHost): void {
    switch (m.type) {
      case 'ready':
        return;
      case 'start':
        if (this.panel.current.phase === 'setup') void this.startRun(m.selection, m.settings);
        return;
      case 'stop':
        if (this.panel.current.phase === 'running' && !this.finish.signal.aborted) {
          this.finish.abort();
          this.panel.updateRun((r) => ({ ...r, stopping: true }));
          this.deps.log?.line('finetune: Stop requested — the run ends after the step in progress and writes the model trained so far');
        }
        return;
      case 'cancel':
        if (this.panel.current.phase === 'running' || this.panel.current.phase === 'planning') this.abort.abort();
        return;
      case 'openReport':
        this.openReport();
        return;
      case 'openModel':
        if (this.result?.checkpointDir) void this.deps.models.open(this.result.checkpointDir).catch(() => undefined);
        return;
      case 'revealOutput': {
        const r = this.result;
        if (r) void revealFile(path.join(r.checkpointDir ?? r.adapterDir, r.checkpointDir ? 'config.json' : 'moe_workbench_adapter.json')).catch(() => undefined);
        return;
      }
      default: {
        const never: never = m;
        void never;
      }
    }
  }

  private refuse(error: string, errorField: TrainingViewState['errorField']): void {
    this.panel.setState({ ...this.panel.current, error, ...(errorField ? { errorField } : {}) });
  }

  private async startRun(selection: readonly (readonly [number, readonly number[]])[], settings: TrainingSettings): Promise<void> {
    const plan = this.plan!;
    const { log } = this.deps;
    const outDir = settings.outDir.trim();
    const outError = validateOutputDir(outDir, this.info.path, pathState);
    if (outError) return this.refuse(outError, 'outDir');
    const selError = checkSelection(selection, this.info, plan.otherParameters);
    if (selError) return this.refuse(`Selection: ${selError}`, 'selection');
    if (settings.warmup >= settings.steps) return this.refuse(`Warm-up (${settings.warmup} steps) must be shorter than the run (${settings.steps} steps)`, 'warmup');
    const s: TrainingSettings = { ...settings, outDir: path.resolve(outDir) };
    // Everything but routed experts (routers, shared experts) comes from the choice, unedited.
    // new-experts resolves to routed experts, which the plan lists and the user may have edited.
    const other = this.choice.specs.filter((x) => !x.startsWith('experts') && x !== 'new-experts');
    const specs = trainSpecs(selection, other);
    const doc = this.promptAtStart();
    const params: FinetuneParams = finetuneParams(this.data, specs, s, plan.seqLen, doc?.text);
    const state = this.panel.current;
    this.abort = new AbortController();
    this.finish = new AbortController();
    const startedAt = Date.now();
    this.panel.setState({ phase: 'running', ...(state.plan ? { plan: { ...state.plan, settings: s } } : {}), run: { totalSteps: s.steps, outDir: s.outDir, startedAt, points: [] } });
    log?.started('finetune', { model: this.info.path, data: [...this.data], train: specs, steps: s.steps, lr: s.lr, optimizer: s.optimizer, schedule: s.schedule, warmup: s.warmup, batchTokens: s.batchTokens, seed: s.seed, out: s.outDir, adapterOnly: s.adapterOnly, ...(doc ? { document: doc.uri } : {}) });
    let result: FinetuneResult;
    try {
      result = await withEngineProgress(`MoE: Fine-tuning ${this.info.name}`, (step) =>
        this.deps.engine.request('finetune', params, {
          signal: AbortSignal.any([step.signal, this.abort.signal]),
          finish: this.finish.signal,
          timeoutMs: 0,
          onProgress: (p) => {
            step.onProgress(p);
            const point = stepPoint(p);
            if (point) {
              this.panel.step(point, etaMs(point.step, s.steps, Date.now() - startedAt));
              if (point.evalLoss !== undefined) log?.line(`finetune: step ${point.step}/${s.steps} loss ${point.loss.toFixed(4)} held-out ${point.evalLoss.toFixed(4)} (${point.tokensPerSecond.toFixed(0)} tok/s)`);
            } else this.panel.stage(progressMessage(p));
          },
        }),
      );
    } catch (e) {
      const err = MoeError.from(e);
      const run = this.panel.current.run;
      if (err.code === 'E_CANCELLED') {
        log?.cancelled('finetune');
        this.panel.setState({ ...this.panel.current, phase: 'cancelled', error: 'Cancelled: nothing was written, the source model is unchanged.', ...(run ? { run } : {}) });
      } else {
        showOperationError(`fine-tuning ${this.info.name}`, err, log);
        this.panel.setState({ ...this.panel.current, phase: 'failed', error: err.message, ...(run ? { run } : {}) });
      }
      if (this.panel.isDisposed) this.phaseDone?.();
      return;
    }
    this.result = result;
    const docView = doc && result.document ? documentRoutingView(vscode.workspace.asRelativePath(vscode.Uri.parse(doc.uri)), result.document) : undefined;
    const docNote = doc ? (result.document ? undefined : 'The engine did not compare the document.') : 'No prompt document was open: open a .prompt file before Start to see how the fine-tuned model routes it differently.';
    const outcome = outcomeView(result, s.steps, docView, docNote);
    this.panel.setState({ ...this.panel.current, phase: 'done', outcome });
    const where = result.checkpointDir ?? result.adapterDir;
    log?.done(
      'finetune',
      `${result.steps}${result.stoppedAt !== undefined ? ` of ${s.steps} (stopped by the user)` : ''} steps, ${result.trainableParameters.toLocaleString('en-US')} of ${result.totalParameters.toLocaleString('en-US')} parameters trained; held-out loss ${result.evalBefore?.toFixed(4) ?? 'n/a'} → ${result.evalAfter?.toFixed(4) ?? 'n/a'}; ${result.tokensPerSecond.toFixed(0)} tok/s; wrote ${where}`,
      result.seconds * 1000,
    );
    if (this.panel.isDisposed) {
      // The panel was closed during the run: say where the result is.
      const open = 'Open Fine-tuned Model';
      const report = 'Open Report';
      const pick = await vscode.window.showInformationMessage(`MoE Workbench: fine-tuning wrote ${where}.`, report, ...(result.checkpointDir ? [open] : []));
      if (pick === open && result.checkpointDir) await this.deps.models.open(result.checkpointDir).catch(() => undefined);
      else if (pick === report) this.openReport();
      this.phaseDone?.();
    }
  }

  /** A prompt visible now, else the one open when the command started (if it is still open and not empty). */
  private promptAtStart(): PromptDocument | undefined {
    const visible = promptDocument();
    if (visible) return visible;
    const d = this.promptUri ? vscode.workspace.textDocuments.find((t) => t.uri.toString() === this.promptUri && !t.isClosed) : undefined;
    return d && d.getText().trim() !== '' ? { uri: d.uri.toString(), text: d.getText() } : undefined;
  }

  /** The run's report.json: in the checkpoint folder, or the adapter folder of an adapter-only run. */
  private openReport(): void {
    const dir = this.result ? (this.result.checkpointDir ?? this.result.adapterDir) : undefined;
    if (!dir) return;
    try {
      const { file, raw } = readReportJson(dir);
      if (!isFinetuneReport(raw)) throw new MoeError('E_INPUT', `${file} is not a fine-tuning report`, file);
      showFinetuneReportPanel(raw, file);
    } catch (e) {
      showOperationError(`opening the report of ${dir}`, e, this.deps.log);
    }
  }
}
