// One .jsonl calibration record: {"text": "..."} or {"messages": [{"role": "...", "content": "..."}, ...]}.
import { MoeError } from '../../protocol/moeError';

/** A piece of a record's text; `trained`: a fine-tuning target (an assistant turn's content, or a plain text). */
export interface TextSegment {
  readonly text: string;
  readonly trained: boolean;
}

export interface JsonlRecordSegments {
  readonly segments: readonly TextSegment[];
  /** A chat record ("messages"): only assistant content is trained. */
  readonly chat: boolean;
  /** Chat: whether any message has the role "assistant". */
  readonly hasAssistant: boolean;
}

/** The record's text; throws E_INPUT naming the file and 1-based line when the record is malformed. */
export function jsonlRecordText(raw: string, file: string, line: number): string {
  return jsonlRecordSegments(raw, file, line).segments.map((s) => s.text).join('');
}

/**
 * The record's text in pieces, joined as jsonlRecordText joins them. Without the model's chat template,
 * turns are "role: content" lines; of a chat record only the assistant turns' content is trained.
 */
export function jsonlRecordSegments(raw: string, file: string, line: number): JsonlRecordSegments {
  let rec: unknown;
  try {
    rec = JSON.parse(raw);
  } catch (e) {
    throw new MoeError('E_INPUT', `${file}:${line}: not valid JSON: ${(e as Error).message}`, file);
  }
  const r = rec as { text?: unknown; messages?: unknown };
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) throw new MoeError('E_INPUT', `${file}:${line}: expected a JSON object with "text" or "messages"`, file);
  if (typeof r.text === 'string') return { segments: [{ text: r.text, trained: true }], chat: false, hasAssistant: false };
  if (Array.isArray(r.messages)) {
    const segments: TextSegment[] = [];
    let hasAssistant = false;
    r.messages.forEach((m: unknown, j: number) => {
      const msg = m as { role?: unknown; content?: unknown };
      if (typeof m !== 'object' || m === null || typeof msg.role !== 'string' || typeof msg.content !== 'string') {
        throw new MoeError('E_INPUT', `${file}:${line}: messages[${j}] must be {"role": string, "content": string}`, file);
      }
      const assistant = msg.role === 'assistant';
      hasAssistant ||= assistant;
      segments.push({ text: `${j > 0 ? '\n' : ''}${msg.role}: `, trained: false }, { text: msg.content, trained: assistant });
    });
    return { segments, chat: true, hasAssistant };
  }
  throw new MoeError('E_INPUT', `${file}:${line}: a record needs a string "text" or a "messages" list`, file);
}
