// The calibration set of issue #4: files or folders of the user's own text (.txt, .md, source code, and
// .jsonl with a `text` field or chat `messages`), validated in one streaming pass with a content hash, so a
// profile can record exactly which data it was computed on. Texts are read from disk when used, and only as
// far as a caller asks (a token budget), so a large file is never held whole (issue #8).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MoeError } from '../../protocol/moeError';
import { isModelOrToolOutput } from './skipModelOutputs';
import { type JsonlRecordRange, scanCalibrationFile } from './calibrationScan';
import { jsonlRecordSegments, jsonlRecordText } from './jsonlRecord';

export interface CalibrationDocument {
  /** File it came from; for .jsonl also the 1-based line. */
  readonly source: string;
  readonly line?: number;
  /** The whole text, read from disk on each access: for short documents; budgeted readers use `head`. */
  readonly text: string;
  /** The text's first `chars` UTF-16 units (fewer only where it ends), reading no more of the file than that. */
  head(chars: number): string;
  /**
   * A chat record's trained ranges ([start, end) UTF-16 offsets into `text`: its assistant turns' content),
   * read from disk on each call; `hasAssistant` false when it has no assistant turn. Absent: all text trains.
   */
  readonly chat?: () => { readonly ranges: readonly (readonly [number, number])[]; readonly hasAssistant: boolean } | undefined;
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
  let characters = 0;
  for (const f of files) {
    hash.update(f).update('\0');
    const scan = scanCalibrationFile(f, hash);
    hash.update('\0');
    characters += scan.characters;
    // One push per record: spreading a million records into push() would overflow the call stack.
    if (f.endsWith('.jsonl')) for (const r of scan.records) documents.push(jsonlDocument(f, r));
    else if (scan.hasText) documents.push(textDocument(f, scan.size));
  }
  if (documents.length === 0) throw new MoeError('E_INPUT', `the calibration set is empty: no text in ${paths.join(', ')} (supported: .txt, .md, source code, .jsonl with "text" or "messages")`);
  return { documents, files, sha256: hash.digest('hex'), characters };
}

function textDocument(file: string, size: number): CalibrationDocument {
  const head = (chars: number): string => {
    // A UTF-16 unit takes at most 3 UTF-8 bytes (a 4-byte sequence gives 2 units): 3n + 4 bytes hold n units.
    const want = Math.min(size, Number.isFinite(chars) ? chars * 3 + 4 : size);
    const bytes = readBytes(file, 0, want);
    return new TextDecoder('utf-8').decode(bytes, { stream: want < size }).slice(0, chars);
  };
  return {
    source: file,
    get text() {
      return head(Infinity);
    },
    head,
  };
}

function jsonlDocument(file: string, r: JsonlRecordRange): CalibrationDocument {
  const raw = (): string => new TextDecoder('utf-8').decode(readBytes(file, r.begin, r.end - r.begin));
  const text = (): string => jsonlRecordText(raw(), file, r.line);
  return {
    source: file,
    line: r.line,
    get text() {
      return text();
    },
    head: (chars) => text().slice(0, chars),
    chat: () => {
      const rec = jsonlRecordSegments(raw(), file, r.line);
      if (!rec.chat) return undefined;
      const ranges: [number, number][] = [];
      let at = 0;
      for (const s of rec.segments) {
        if (s.trained && s.text.length > 0) ranges.push([at, at + s.text.length]);
        at += s.text.length;
      }
      return { ranges, hasAssistant: rec.hasAssistant };
    },
  };
}

function readBytes(file: string, position: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  const fd = fs.openSync(file, 'r');
  try {
    let done = 0;
    while (done < length) {
      const n = fs.readSync(fd, buf, done, length - done, position + done);
      if (n === 0) throw new MoeError('E_INPUT', `${file} changed while it was being read (it is shorter than when it was hashed)`, file);
      done += n;
    }
    return buf;
  } finally {
    fs.closeSync(fd);
  }
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
      if (!name.startsWith('.') && !isModelOrToolOutput(p, name)) collect(path.join(p, name), out, false);
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
