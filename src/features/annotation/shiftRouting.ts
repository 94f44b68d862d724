// Keeps annotations on the right text while the user types, until the re-annotation arrives: spans after
// an edit move with it, tokens the edit touches lose their routing (known = 0).
import type { DocumentRouting } from './documentRouting';

/** One edit, in offsets of the document before the event (as vscode.TextDocumentContentChangeEvent). */
export interface TextChange {
  readonly rangeOffset: number;
  readonly rangeLength: number;
  readonly text: string;
}

/** Moves an offset range through edits; undefined when an edit swallows it entirely. */
export function shiftRange(start: number, end: number, changes: readonly TextChange[]): { start: number; end: number } {
  let s = start;
  let e = end;
  for (const c of [...changes].sort((a, b) => b.rangeOffset - a.rangeOffset)) {
    const cs = c.rangeOffset;
    const ce = cs + c.rangeLength;
    const delta = c.text.length - c.rangeLength;
    if (ce <= s) {
      s += delta;
      e += delta;
    } else if (cs < e || (cs === e && cs > s)) {
      // An edit inside (or at the end of) the range grows or shrinks it.
      e = Math.max(s, e + delta);
    }
  }
  return { start: s, end: e };
}

export function shiftRouting(doc: DocumentRouting, changes: readonly TextChange[], version: number): DocumentRouting {
  const known = doc.known.slice();
  const tokens = doc.tokens.map((t) => ({ ...t }));
  // Changes of one event do not overlap and refer to the old text: apply from the last to the first.
  for (const c of [...changes].sort((a, b) => b.rangeOffset - a.rangeOffset)) {
    const cs = c.rangeOffset;
    const ce = cs + c.rangeLength;
    const delta = c.text.length - c.rangeLength;
    tokens.forEach((t, i) => {
      if (t.end <= cs && !(t.start === t.end && t.start === cs && c.rangeLength > 0)) return; // before the edit
      if (t.start >= ce && !(t.start === cs && c.rangeLength === 0 && t.end > t.start)) {
        t.start += delta;
        t.end += delta;
        return;
      }
      if (t.start === cs && c.rangeLength === 0 && t.end > t.start) {
        // Insertion right before a token: it moves, and its tokenisation may change.
        t.start += delta;
        t.end += delta;
        known[i] = 0;
        return;
      }
      known[i] = 0;
      t.start = Math.min(t.start, cs);
      t.end = t.start;
    });
  }
  return { ...doc, version, tokens, known };
}
