// One streaming pass over a calibration file: its bytes go into the data's hash, its text is checked to be
// UTF-8 and, for .jsonl, every record is validated and located by byte range. Only counts and ranges are
// kept, so a 100 MB file costs a 1 MiB buffer, not a 100 MB string (issue #8).
import type { Hash } from 'node:crypto';
import * as fs from 'node:fs';
import { MoeError } from '../../protocol/moeError';
import { jsonlRecordText } from './jsonlRecord';

/** A non-blank .jsonl line: its 1-based number and byte range (without the newline). */
export interface JsonlRecordRange {
  readonly line: number;
  readonly begin: number;
  readonly end: number;
}

export interface ScannedFile {
  readonly size: number;
  /** UTF-16 units of the text (of the records' texts, for .jsonl). */
  readonly characters: number;
  /** Plain text: whether there is anything but whitespace. */
  readonly hasText: boolean;
  /** .jsonl: the non-blank lines, each a valid record. */
  readonly records: readonly JsonlRecordRange[];
}

const READ_BYTES = 1 << 20;
const NEWLINE = 0x0a; // never part of a multi-byte UTF-8 sequence, so lines can be cut in bytes

export function notUtf8(file: string): MoeError {
  return new MoeError('E_INPUT', `${file} is not UTF-8 text`, file);
}

/** Feeds the file's bytes to `hash` and validates it; throws E_INPUT naming the file (and line). */
export function scanCalibrationFile(file: string, hash: Hash): ScannedFile {
  const jsonl = file.endsWith('.jsonl');
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const records: JsonlRecordRange[] = [];
  let characters = 0;
  let hasText = false;
  let lineNo = 1;
  let lineStart = 0;
  let pending: Buffer[] = [];
  const endLine = (bytes: Buffer, end: number): void => {
    let raw: string;
    try {
      raw = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw notUtf8(file);
    }
    if (raw.trim() !== '') {
      characters += jsonlRecordText(raw, file, lineNo).length;
      records.push({ line: lineNo, begin: lineStart, end });
    }
    lineNo++;
    lineStart = end + 1;
  };
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(READ_BYTES);
    let pos = 0;
    for (let n = fs.readSync(fd, buf, 0, READ_BYTES, pos); n > 0; n = fs.readSync(fd, buf, 0, READ_BYTES, pos)) {
      const chunk = buf.subarray(0, n);
      hash.update(chunk);
      if (jsonl) {
        let from = 0;
        for (let i = chunk.indexOf(NEWLINE, from); i !== -1; i = chunk.indexOf(NEWLINE, from)) {
          pending.push(chunk.subarray(from, i));
          endLine(Buffer.concat(pending), pos + i); // concat copies before the buffer is reused
          pending = [];
          from = i + 1;
        }
        if (from < n) pending.push(Buffer.from(chunk.subarray(from)));
      } else {
        let text: string;
        try {
          text = decoder.decode(chunk, { stream: true });
        } catch {
          throw notUtf8(file);
        }
        characters += text.length;
        if (!hasText && /\S/.test(text)) hasText = true;
      }
      pos += n;
    }
    if (jsonl && pending.length > 0) endLine(Buffer.concat(pending), pos);
    if (!jsonl) {
      try {
        decoder.decode(); // a sequence cut off by the end of the file
      } catch {
        throw notUtf8(file);
      }
    }
    return { size: pos, characters, hasText, records };
  } finally {
    fs.closeSync(fd);
  }
}
