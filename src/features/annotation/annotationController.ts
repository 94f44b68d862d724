// Which documents are annotated, running the engine on them (debounced, latest version wins, cancelled on
// change or close, long documents visible-range-first), and the resulting DocumentRouting per document.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as vscode from 'vscode';
import type { EngineClient } from '../../host/engineClient';
import { QUEUED_STAGE, type Progress, type RequestPriority, type TokenSpan } from '../../protocol/engineProtocol';
import { MoeError } from '../../protocol/moeError';
import { PROMPT_LANGUAGE, Settings } from '../ids';
import type { ModelManager } from '../model/modelManager';
import { planChunks } from './chunkPlan';
import type { DocLayerRouting, DocumentRouting } from './documentRouting';
import { shiftRange, shiftRouting } from './shiftRouting';

/** Documents beyond this many characters are refused: tokenising them would take the engine too long. */
const MAX_CHARS = 2_000_000;

/** What the annotation side of the engine is doing, for the status bar. */
export interface AnnotationActivity {
  /** Annotations in progress. */
  readonly running: number;
  /** Why an annotation is waiting for the engine (e.g. a profile is running), when one is. */
  readonly waiting?: string;
}

interface Entry {
  enabled: boolean;
  /** Offsets of the annotated selection; undefined = the whole document. */
  range?: { start: number; end: number };
  routing?: DocumentRouting;
  run?: AbortController;
  timer?: ReturnType<typeof setTimeout>;
}

export class AnnotationController implements vscode.Disposable {
  private readonly entries = new Map<string, Entry>();
  private readonly changed = new vscode.EventEmitter<string>();
  /** Fires the URI of a document whose routing changed (new result, shifted by an edit, removed). */
  readonly onDidChange = this.changed.event;
  private readonly runningEmitter = new vscode.EventEmitter<AnnotationActivity>();
  readonly onDidChangeRunning = this.runningEmitter.event;
  private running = 0;
  /** Per running annotation, why its current engine request waits (QUEUED_STAGE progress). */
  private readonly waiting = new Map<AbortController, string>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly engine: EngineClient,
    private readonly models: ModelManager,
    /** One line per finished annotation: timings and the extension host's longest event-loop stall. */
    private readonly log: (line: string) => void = () => undefined,
  ) {
    this.disposables.push(
      vscode.workspace.onDidOpenTextDocument((d) => this.autoEnable(d)),
      vscode.workspace.onDidChangeTextDocument((e) => this.onEdit(e)),
      vscode.workspace.onDidCloseTextDocument((d) => this.forget(d.uri.toString())),
      models.onDidChange((s) => {
        if (s.kind === 'ready') this.rerunAll();
        if (s.kind === 'none') this.clearAll();
      }),
    );
    for (const d of vscode.workspace.textDocuments) this.autoEnable(d);
  }

  get(uri: vscode.Uri | string): DocumentRouting | undefined {
    return this.entries.get(uri.toString())?.routing;
  }

  all(): DocumentRouting[] {
    return [...this.entries.values()].flatMap((e) => (e.routing ? [e.routing] : []));
  }

  isEnabled(doc: vscode.TextDocument): boolean {
    return this.entries.get(doc.uri.toString())?.enabled ?? false;
  }

  /** Annotates a document (or only `range` of it) now, and keeps it annotated while it is edited. */
  annotate(doc: vscode.TextDocument, range?: vscode.Range): void {
    const e = this.entry(doc);
    e.enabled = true;
    if (range && !range.isEmpty) e.range = { start: doc.offsetAt(range.start), end: doc.offsetAt(range.end) };
    else delete e.range;
    this.schedule(doc, 0);
  }

  toggle(doc: vscode.TextDocument): boolean {
    if (this.isEnabled(doc)) {
      this.forget(doc.uri.toString(), true);
      return false;
    }
    this.annotate(doc);
    return true;
  }

  private autoEnable(doc: vscode.TextDocument): void {
    if (doc.languageId === PROMPT_LANGUAGE && !this.entries.has(doc.uri.toString())) this.annotate(doc);
  }

  private entry(doc: vscode.TextDocument): Entry {
    const key = doc.uri.toString();
    let e = this.entries.get(key);
    if (!e) {
      e = { enabled: false };
      this.entries.set(key, e);
    }
    return e;
  }

  private onEdit(ev: vscode.TextDocumentChangeEvent): void {
    const e = this.entries.get(ev.document.uri.toString());
    if (!e?.enabled || ev.contentChanges.length === 0) return;
    e.run?.abort();
    if (e.range) e.range = shiftRange(e.range.start, e.range.end, ev.contentChanges);
    if (e.routing) {
      e.routing = shiftRouting(e.routing, ev.contentChanges, ev.document.version);
      this.changed.fire(ev.document.uri.toString());
    }
    this.schedule(ev.document, this.setting(Settings.debounceMs, 300));
  }

  private schedule(doc: vscode.TextDocument, delayMs: number): void {
    const e = this.entry(doc);
    if (e.timer) clearTimeout(e.timer);
    e.timer = setTimeout(() => {
      delete e.timer;
      void this.run(doc, e);
    }, delayMs);
  }

  private async run(doc: vscode.TextDocument, e: Entry): Promise<void> {
    e.run?.abort();
    const abort = new AbortController();
    e.run = abort;
    const version = doc.version;
    const uri = doc.uri.toString();
    const base = e.range?.start ?? 0;
    const text = e.range ? doc.getText().slice(e.range.start, e.range.end) : doc.getText();
    const stale = (): boolean => abort.signal.aborted || doc.isClosed || doc.version !== version || this.entries.get(uri) !== e;
    this.setRunning(+1);
    const t0 = performance.now();
    let firstMs = 0;
    // How long the extension host's event loop stalls while we annotate (the work is in the worker).
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    try {
      const info = await this.models.ensureLoaded();
      if (!info || stale()) return;
      if (text.length > MAX_CHARS) throw new MoeError('E_INPUT', `${doc.fileName} has ${text.length} characters; MoE Workbench annotates at most ${MAX_CHARS}. Annotate a selection instead.`);
      if (text.length === 0) {
        e.routing = { uri, version, tokens: [], layers: [], numExperts: info.numExperts, topK: info.topK, complete: true, known: new Uint8Array(0) };
        this.changed.fire(uri);
        return;
      }
      // The text on screen is what the person waits for; other documents and later passes may wait.
      const visible = vscode.window.visibleTextEditors.some((ed) => ed.document === doc);
      const request = (priority: RequestPriority) => ({ signal: abort.signal, priority, onProgress: (p: Progress) => this.setWaiting(abort, p.stage === QUEUED_STAGE ? p.message : undefined) });
      const spans = (await this.engine.request('tokenize', { text }, request(visible ? 'interactive' : 'background'))).map((t): TokenSpan => ({ ...t, start: t.start + base, end: t.end + base }));
      this.setWaiting(abort, undefined);
      if (stale()) return;
      const T = spans.length;
      const k = info.topK;
      const layers: DocLayerRouting[] = info.moeLayers.map((layer) => ({ layer, experts: new Int32Array(T * k), weights: new Float32Array(T * k), entropy: new Float32Array(T) }));
      const known = new Uint8Array(T);
      const perPass = Math.max(1, Math.min(this.setting(Settings.tokensPerPass, 2048), info.contextLength));
      const chunks = planChunks(T, perPass, this.visibleTokenRanges(doc, spans));
      for (const [n, c] of chunks.entries()) {
        const ids = spans.slice(c.start, c.end).map((t) => t.id);
        const { result } = await this.engine.request('forward', { input: { ids }, capture: { routing: true, hidden: false, logits: false } }, request(visible && n === 0 ? 'interactive' : 'background'));
        this.setWaiting(abort, undefined);
        if (stale()) return;
        for (const r of result.routing) {
          const dst = layers.find((l) => l.layer === r.layer);
          if (!dst) continue;
          dst.experts.set(r.experts.data, c.start * k);
          dst.weights.set(r.weights.data, c.start * k);
          dst.entropy.set(r.entropy, c.start);
        }
        known.fill(1, c.start, c.end);
        // Publish after every pass: what the user sees fills in first.
        e.routing = { uri, version, tokens: spans, layers, numExperts: info.numExperts, topK: k, complete: n === chunks.length - 1, known: known.slice() };
        this.changed.fire(uri);
        if (n === 0) firstMs = performance.now() - t0;
      }
      loop.disable();
      this.log(
        `annotated ${vscode.workspace.asRelativePath(doc.uri)} v${version}: ${T} tokens in ${chunks.length} pass(es), ` +
          `first decorations after ${firstMs.toFixed(0)} ms, all after ${(performance.now() - t0).toFixed(0)} ms; ` +
          `extension host longest event-loop stall ${(loop.max / 1e6).toFixed(1)} ms`,
      );
    } catch (err) {
      const me = MoeError.from(err);
      if (me.code === 'E_CANCELLED' || stale()) return;
      this.log(`annotating ${vscode.workspace.asRelativePath(doc.uri)} v${version} failed (${me.code}): ${me.message}`);
      void vscode.window.showErrorMessage(`MoE Workbench could not annotate ${vscode.workspace.asRelativePath(doc.uri)}: ${me.message}`);
    } finally {
      loop.disable();
      if (e.run === abort) delete e.run;
      this.waiting.delete(abort);
      this.setRunning(-1);
    }
  }

  /** Token index ranges visible in editors showing this document. */
  private visibleTokenRanges(doc: vscode.TextDocument, spans: readonly TokenSpan[]): { start: number; end: number }[] {
    const out: { start: number; end: number }[] = [];
    for (const ed of vscode.window.visibleTextEditors) {
      if (ed.document !== doc) continue;
      for (const r of ed.visibleRanges) {
        const a = doc.offsetAt(r.start);
        const b = doc.offsetAt(r.end);
        const first = spans.findIndex((t) => t.end > a);
        if (first < 0) continue;
        let last = first;
        while (last < spans.length && spans[last]!.start < b) last++;
        out.push({ start: first, end: last });
      }
    }
    return out;
  }

  private rerunAll(): void {
    for (const d of vscode.workspace.textDocuments) {
      const e = this.entries.get(d.uri.toString());
      if (e?.enabled) this.schedule(d, 0);
    }
  }

  private clearAll(): void {
    for (const [uri, e] of this.entries) {
      e.run?.abort();
      if (e.routing) {
        delete e.routing;
        this.changed.fire(uri);
      }
    }
  }

  private forget(uri: string, keepEntry = false): void {
    const e = this.entries.get(uri);
    if (!e) return;
    e.run?.abort();
    if (e.timer) clearTimeout(e.timer);
    if (keepEntry) {
      e.enabled = false;
      delete e.routing;
      delete e.range;
    } else this.entries.delete(uri);
    this.changed.fire(uri);
  }

  private setRunning(delta: number): void {
    this.running += delta;
    this.fireActivity();
  }

  private setWaiting(run: AbortController, reason: string | undefined): void {
    if (reason === this.waiting.get(run)) return;
    if (reason === undefined) this.waiting.delete(run);
    else this.waiting.set(run, reason);
    this.fireActivity();
  }

  private fireActivity(): void {
    const waiting = this.waiting.values().next().value;
    this.runningEmitter.fire(waiting === undefined ? { running: this.running } : { running: this.running, waiting });
  }

  private setting(key: string, def: number): number {
    return vscode.workspace.getConfiguration(Settings.section).get<number>(key, def);
  }

  dispose(): void {
    for (const e of this.entries.values()) {
      e.run?.abort();
      if (e.timer) clearTimeout(e.timer);
    }
    this.changed.dispose();
    this.runningEmitter.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
