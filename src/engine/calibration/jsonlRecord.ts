// One .jsonl calibration record: {"text": "..."} or {"messages": [{"role": "...", "content": "..."}, ...]}.
import { MoeError } from '../../protocol/moeError';

/** The record's text; throws E_INPUT naming the file and 1-based line when the record is malformed. */
export function jsonlRecordText(raw: string, file: string, line: number): string {
  let rec: unknown;
  try {
    rec = JSON.parse(raw);
  } catch (e) {
    throw new MoeError('E_INPUT', `${file}:${line}: not valid JSON: ${(e as Error).message}`, file);
  }
  const r = rec as { text?: unknown; messages?: unknown };
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) throw new MoeError('E_INPUT', `${file}:${line}: expected a JSON object with "text" or "messages"`, file);
  if (typeof r.text === 'string') return r.text;
  if (Array.isArray(r.messages)) {
    // Without the model's chat template, turns are joined as "role: content" lines.
    const turns = r.messages.map((m: unknown, j: number) => {
      const msg = m as { role?: unknown; content?: unknown };
      if (typeof m !== 'object' || m === null || typeof msg.role !== 'string' || typeof msg.content !== 'string') {
        throw new MoeError('E_INPUT', `${file}:${line}: messages[${j}] must be {"role": string, "content": string}`, file);
      }
      return `${msg.role}: ${msg.content}`;
    });
    return turns.join('\n');
  }
  throw new MoeError('E_INPUT', `${file}:${line}: a record needs a string "text" or a "messages" list`, file);
}
