// The routing of one document version, as the editor features (decorations, hover, explorer, tree)
// consume it. Plain data: no vscode types, so it is unit-testable and can be sent to webviews.
import type { TokenSpan } from '../../protocol/engineProtocol';

export interface DocLayerRouting {
  /** Decoder layer index. */
  readonly layer: number;
  /** [T * k] chosen experts per token, rank order. */
  readonly experts: Int32Array;
  /** [T * k] applied gate weights, same order. */
  readonly weights: Float32Array;
  /** [T] router entropy in nats. */
  readonly entropy: Float32Array;
}

export interface DocumentRouting {
  /** Document URI (string form). */
  readonly uri: string;
  readonly version: number;
  /** Tokens with UTF-16 offsets into the document text at `version`. */
  readonly tokens: readonly TokenSpan[];
  /** MoE layers, ascending. Token t of layer l: experts[t*k .. t*k+k). */
  readonly layers: readonly DocLayerRouting[];
  readonly numExperts: number;
  readonly topK: number;
  /** False while a long document is still being annotated chunk by chunk (missing tokens have no routing yet). */
  readonly complete: boolean;
  /** Per token: whether its routing is known (long documents fill in progressively). */
  readonly known: Uint8Array;
}

/** Index of the token whose span contains `offset` (or starts at it), or -1. Binary search over spans. */
export function tokenAt(doc: Pick<DocumentRouting, 'tokens'>, offset: number): number {
  const toks = doc.tokens;
  let lo = 0;
  let hi = toks.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const t = toks[mid]!;
    if (t.start <= offset) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  // Several tokens can share a span (bytes of one character): prefer the first of them.
  while (found > 0 && toks[found - 1]!.start === toks[found]!.start && toks[found - 1]!.end === toks[found]!.end) found--;
  if (found < 0) return -1;
  const t = toks[found]!;
  return offset >= t.start && offset < t.end ? found : -1;
}
