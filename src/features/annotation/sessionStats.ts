// Per layer and expert, the tokens seen so far in this session: the latest complete annotation of every
// document annotated (closed documents keep their last counts).
import * as vscode from 'vscode';
import type { AnnotationController } from './annotationController';

export class SessionStats implements vscode.Disposable {
  /** uri -> layer -> per-expert counts. */
  private readonly byDoc = new Map<string, Map<number, number[]>>();
  private readonly tokensByDoc = new Map<string, number>();
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.emitter.event;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly annotations: AnnotationController) {
    this.subscription = annotations.onDidChange((uri) => this.update(uri));
  }

  private update(uri: string): void {
    const doc = this.annotations.get(uri);
    if (!doc?.complete) return;
    const k = doc.topK;
    const layers = new Map<number, number[]>();
    for (const l of doc.layers) {
      const counts = new Array<number>(doc.numExperts).fill(0);
      for (let t = 0; t < doc.tokens.length; t++) {
        if (!doc.known[t]) continue;
        for (let j = 0; j < k; j++) counts[l.experts[t * k + j]!]!++;
      }
      layers.set(l.layer, counts);
    }
    this.byDoc.set(uri, layers);
    this.tokensByDoc.set(uri, doc.known.reduce((a, b) => a + b, 0));
    this.emitter.fire();
  }

  /** Tokens seen this session (each counted once, whatever k). */
  get tokens(): number {
    let n = 0;
    for (const v of this.tokensByDoc.values()) n += v;
    return n;
  }

  /** Per-expert selection counts of a layer over the session. */
  counts(layer: number, numExperts: number): number[] {
    const out = new Array<number>(numExperts).fill(0);
    for (const layers of this.byDoc.values()) layers.get(layer)?.forEach((c, e) => (out[e] = (out[e] ?? 0) + c));
    return out;
  }

  /** Forget everything (a different model was opened). */
  reset(): void {
    this.byDoc.clear();
    this.tokensByDoc.clear();
    this.emitter.fire();
  }

  dispose(): void {
    this.subscription.dispose();
    this.emitter.dispose();
  }
}
