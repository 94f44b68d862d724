// The calibration set of issue #4: files or folders of the user's own text (.txt, .md, source code, and
// .jsonl with a `text` field or chat `messages`), read defensively into documents with a content hash,
// so a profile can record exactly which data it was computed on.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MoeError } from '../../protocol/moeError';

export interface CalibrationDocument {
  /** File it came from; for .jsonl also the 1-based line. */
  readonly source: string;
  readonly line?: number;
  readonly text: string;
}

export interface CalibrationSet {
  readonly documents: readonly CalibrationDocument[];
  readonly files: readonly string[];
  /** sha256 over the files' paths and bytes, in order: the data's identity in a profile. */
  readonly sha256: string;
  readonly characters: number;
}

const TEXT_EXTENSIONS = new Set(['.txt', '.md', '.markdown', '.rst', '.prompt', '.py', '.ts', '.tsx', '.js', '.jsx', '.mjs', '.cjs', '.java', '.c', '.h', '.cc', '.cpp', '.hpp', '.rs', '.go', '.rb', '.php', '.cs', '.swift', '.kt', '.scala', '.sh', '.sql', '.html', '.css', '.json', '.yaml', '.yml', '.toml', '.tex']);
const SKIP_DIRS = new Set(['node_modules', '.git', '.hg', '.svn', '__pycache__', '.venv', 'dist', 'out', '.cache']);
/** Files larger than this are refused: calibration wants many samples, not one giant file. */
export const MAX_FILE_BYTES = 256 * 1024 * 1024;

/** Reads every supported file under `paths` (files or folders, recursively, in sorted order). */
export function readCalibrationSet(paths: readonly string[]): CalibrationSet {
  if (paths.length === 0) throw new MoeError('E_INPUT', 'no calibration data given: pass files or folders');
  const files: string[] = [];
  for (const p of paths) collect(path.resolve(p), files, true);
  const hash = createHash('sha256');
  const documents: CalibrationDocument[] = [];
  for (const f of files) {
    const bytes = fs.readFileSync(f);
    hash.update(f).update('\0').update(bytes).update('\0');
    const text = decodeUtf8(bytes, f);
    if (f.endsWith('.jsonl')) documents.push(...parseJsonl(text, f));
    else if (text.trim() !== '') documents.push({ source: f, text });
  }
  if (documents.length === 0) throw new MoeError('E_INPUT', `the calibration set is empty: no text in ${paths.join(', ')} (supported: .txt, .md, source code, .jsonl with "text" or "messages")`);
  return { documents, files, sha256: hash.digest('hex'), characters: documents.reduce((n, d) => n + d.text.length, 0) };
}

function collect(p: string, out: string[], explicit: boolean): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    throw new MoeError('E_INPUT', `calibration data not found: ${p}`, p);
  }
  if (st.isDirectory()) {
    if (!explicit && SKIP_DIRS.has(path.basename(p))) return;
    for (const name of fs.readdirSync(p).sort()) {
      if (!name.startsWith('.')) collect(path.join(p, name), out, false);
    }
    return;
  }
  if (!st.isFile()) return;
  const ext = path.extname(p).toLowerCase();
  if (ext !== '.jsonl' && !TEXT_EXTENSIONS.has(ext)) {
    if (explicit) throw new MoeError('E_INPUT', `${p}: unsupported calibration file type "${ext || '(none)'}" (supported: .txt, .md, source code, .jsonl)`, p);
    return;
  }
  if (st.size > MAX_FILE_BYTES) throw new MoeError('E_INPUT', `${p} is ${st.size} bytes; calibration files are limited to ${MAX_FILE_BYTES} bytes each: split it`, p);
  out.push(p);
}

function decodeUtf8(bytes: Buffer, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new MoeError('E_INPUT', `${file} is not UTF-8 text`, file);
  }
}

/** One record per line: {"text": "..."} or {"messages": [{"role": "...", "content": "..."}, ...]}. */
function parseJsonl(text: string, file: string): CalibrationDocument[] {
  const docs: CalibrationDocument[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let rec: unknown;
    try {
      rec = JSON.parse(raw);
    } catch (e) {
      throw new MoeError('E_INPUT', `${file}:${line}: not valid JSON: ${(e as Error).message}`, file);
    }
    const r = rec as { text?: unknown; messages?: unknown };
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) throw new MoeError('E_INPUT', `${file}:${line}: expected a JSON object with "text" or "messages"`, file);
    if (typeof r.text === 'string') {
      docs.push({ source: file, line, text: r.text });
      return;
    }
    if (Array.isArray(r.messages)) {
      // Without the model's chat template, turns are joined as "role: content" lines.
      const turns = r.messages.map((m: unknown, j: number) => {
        const msg = m as { role?: unknown; content?: unknown };
        if (typeof m !== 'object' || m === null || typeof msg.role !== 'string' || typeof msg.content !== 'string') {
          throw new MoeError('E_INPUT', `${file}:${line}: messages[${j}] must be {"role": string, "content": string}`, file);
        }
        return `${msg.role}: ${msg.content}`;
      });
      docs.push({ source: file, line, text: turns.join('\n') });
      return;
    }
    throw new MoeError('E_INPUT', `${file}:${line}: a record needs a string "text" or a "messages" list`, file);
  });
  return docs;
}

/** Splits token ids into chunks of at most `length` (the last may be shorter; chunks under 2 tokens are dropped: they predict nothing). */
export function chunkTokens(ids: readonly number[], length: number): number[][] {
  if (!Number.isInteger(length) || length < 2) throw new MoeError('E_INPUT', `chunk length must be an integer >= 2, got ${length}`);
  const out: number[][] = [];
  for (let s = 0; s < ids.length; s += length) {
    const c = ids.slice(s, s + length);
    if (c.length >= 2) out.push(c);
  }
  return out;
}
