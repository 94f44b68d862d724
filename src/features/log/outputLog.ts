// The lines of the "MoE Workbench" output channel: model loads and load errors, every operation with its
// parameters, writes, evaluations, cancellations and failures, and the annotation timings — each stamped
// with the time, so a user (or a bug report) can see what ran when. No vscode import: the channel is only a
// sink, and the formatting is unit-tested in plain Node.
import type { EvalReport, WrittenCheckpoint } from '../../protocol/expertOps';
import type { ModelInfo } from '../../protocol/modelInfo';
import { formatBytes, formatInteger, formatPercent, formatPerplexity } from '../../report/formatNumbers';

export type LogSink = (line: string) => void;

/** A parameter value as the log shows it: lists joined, absent values left out by the caller. */
export type LogValue = string | number | boolean | readonly string[];

/** "12:03:04.567": local wall-clock time to the millisecond. */
export function timeStamp(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** Seconds with one decimal below a minute, else "2 min 05 s". */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** `key=value` pairs; strings with spaces or separators are quoted as JSON so a path stays one value. */
export function formatParams(params: Readonly<Record<string, LogValue | undefined>>): string {
  const one = (v: string | number | boolean): string => (typeof v === 'string' && (v === '' || /[\s,=\[\]"]/.test(v)) ? JSON.stringify(v) : String(v));
  return Object.entries(params)
    .filter((e): e is [string, LogValue] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? `[${(v as readonly string[]).map(one).join(', ')}]` : one(v as string | number | boolean)}`)
    .join(' ');
}

export function formatModelLoaded(info: ModelInfo, ms: number | undefined): string {
  const shape = info.moeLayers.length > 0 ? `${info.numExperts} experts × ${info.moeLayers.length} MoE layers, top-${info.topK}` : 'dense';
  const notes = [info.untrained ? 'untrained' : '', info.expertOrigins ? `${info.expertOrigins.operation === 'merge' ? 'merged' : 'pruned'} from ${info.expertOrigins.source}` : ''].filter(Boolean);
  return (
    `model loaded: ${info.path}${ms !== undefined ? ` in ${duration(ms)}` : ''} · ${info.modelType} (${shape}) · ${formatInteger(info.totalParams)} parameters · ` +
    `${formatBytes(info.bytesOnDisk)} on disk (${info.dtypes.join('/')})${notes.length ? ` · ${notes.join(', ')}` : ''}`
  );
}

export function formatWritten(w: WrittenCheckpoint): string {
  const extra = [w.skipped?.length ? `${w.skipped.length} source file(s) skipped` : '', w.removedStale?.length ? `removed ${w.removedStale.length} stale staging folder(s)` : ''].filter(Boolean);
  return `wrote ${w.dir}: ${w.files.length} files, ${formatBytes(w.bytes)} (${w.files.join(', ')})${extra.length ? ` · ${extra.join(', ')}` : ''}`;
}

export function formatEvaluation(e: EvalReport): string {
  const doc = e.document ? ` · document: ${formatInteger(e.document.changedPredictions)} of ${formatInteger(e.document.tokens)} predictions changed` : '';
  return (
    `evaluated ${e.candidate.name} against ${e.baseline.name} on ${formatInteger(e.tokens)} tokens (${formatInteger(e.chunks)} chunks) in ${duration(e.runMs)}: ` +
    `perplexity ${formatPerplexity(e.baseline.perplexity)} → ${formatPerplexity(e.candidate.perplexity)}, top-1 agreement ${formatPercent(e.top1Agreement)}, ` +
    `mean KL ${Number.isFinite(e.meanKl) ? e.meanKl.toFixed(4) : 'n/a'} nats, size ${formatBytes(e.baseline.bytesOnDisk)} → ${formatBytes(e.candidate.bytesOnDisk)}${doc}`
  );
}

/** The output channel's writer. Every method writes one stamped line. */
export class OutputLog {
  constructor(
    private readonly sink: LogSink,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  line(text: string): void {
    // One entry per line: a message with line breaks (an engine error) is indented under its stamp.
    this.sink(`[${timeStamp(this.clock())}] ${text.replace(/\r?\n/g, '\n    ')}`);
  }

  modelLoading(dir: string): void {
    this.line(`loading model ${dir}`);
  }

  modelLoaded(info: ModelInfo, ms?: number): void {
    this.line(formatModelLoaded(info, ms));
    for (const w of info.warnings ?? []) this.line(`warning: ${w}`);
  }

  modelLoadFailed(dir: string, message: string, ms?: number): void {
    this.line(`model load failed: ${dir}${ms !== undefined ? ` after ${duration(ms)}` : ''}: ${message}`);
  }

  modelClosed(): void {
    this.line('model closed');
  }

  /** An operation starts: its name and every parameter the user chose. */
  started(operation: string, params: Readonly<Record<string, LogValue | undefined>>): void {
    this.line(`${operation}: ${formatParams(params)}`);
  }

  done(operation: string, summary: string, ms?: number): void {
    this.line(`${operation} done${ms !== undefined ? ` in ${duration(ms)}` : ''}: ${summary}`);
  }

  wrote(w: WrittenCheckpoint): void {
    this.line(formatWritten(w));
  }

  evaluated(e: EvalReport): void {
    this.line(formatEvaluation(e));
  }

  cancelled(operation: string): void {
    this.line(`${operation} cancelled by the user`);
  }

  failed(operation: string, code: string, message: string): void {
    this.line(`${operation} failed (${code}): ${message}`);
  }
}
