// Defensive JSON reading: size-capped, errors that name the file.
import * as fs from 'node:fs';
import { MoeError, type MoeErrorCode } from '../../protocol/moeError';

/** Reads and parses a JSON file; every failure is a MoeError with `code` that names the file. */
export function readJsonFile(file: string, code: MoeErrorCode, maxBytes = 64 * 1024 * 1024): unknown {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new MoeError(code, `${file} not found`, file);
  }
  if (!stat.isFile()) throw new MoeError(code, `${file} is not a file`, file);
  if (stat.size > maxBytes) throw new MoeError(code, `${file} is ${stat.size} bytes, larger than the ${maxBytes}-byte limit for this file`, file);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new MoeError(code, `${file} could not be read: ${(e as Error).message}`, file);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new MoeError(code, `${file} is not valid JSON: ${(e as Error).message}`, file);
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
