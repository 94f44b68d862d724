// Staging folders (`.<name>.partial-<random>`, see stagingDir.ts) that an earlier run left behind because
// it was killed (SIGKILL, power loss) before it could remove them. Each staging folder carries a marker
// naming its writer (writerIdentity.ts); a folder is removed only when that writer is certainly gone, so a
// run never deletes what another live process is still writing beside it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { currentWriter, parseWriter, type WriterIdentity, writerState } from './writerIdentity';

/** The marker inside a staging folder; removed just before the folder is renamed into place. */
export const STAGING_MARKER = '.moe-workbench-writer.json';
/** `.<name>.partial-<random>`: mkdtemp's 6 characters (older versions) or our 8 hex digits. */
const STAGING_NAME = /^\..+\.partial-([A-Za-z0-9]{6}|[0-9a-f]{8})$/;
/**
 * Folders of older versions have no marker. They are removed when nothing in them has changed for this
 * long: a live writer keeps touching the file it writes, and no single tensor takes an hour to write.
 */
export const UNMARKED_STALE_MS = 60 * 60 * 1000;

export function isStagingName(name: string): boolean {
  return STAGING_NAME.test(name);
}

export function writeStagingMarker(dir: string): void {
  fs.writeFileSync(path.join(dir, STAGING_MARKER), JSON.stringify({ format: 'moe-workbench.staging', writer: currentWriter() }) + '\n', { flag: 'wx' });
}

function readMarker(dir: string): WriterIdentity | undefined {
  try {
    const v = JSON.parse(fs.readFileSync(path.join(dir, STAGING_MARKER), 'utf8')) as { writer?: unknown };
    return parseWriter(v.writer);
  } catch {
    return undefined;
  }
}

/** Newest modification time of the folder and its entries (ms). */
function newestChange(dir: string): number {
  let newest = fs.lstatSync(dir).mtimeMs;
  for (const name of fs.readdirSync(dir)) {
    try {
      newest = Math.max(newest, fs.lstatSync(path.join(dir, name)).mtimeMs);
    } catch {
      // removed meanwhile
    }
  }
  return newest;
}

export interface SweepOptions {
  /**
   * The pid of a process whose engine has been stopped (the CLI after disposing its engine client): its
   * folders, written by it (a worker thread) or by its child (the engine process), are removed too. Such a
   * writer still being alive can only mean it is exiting: it is given a moment.
   */
  readonly ownedBy?: number;
  readonly now?: number;
}

/** What an older version's staging folder holds: nothing yet, or weights being written. Anything else is not assumed to be ours. */
function looksLikeOurs(dir: string): boolean {
  const names = fs.readdirSync(dir);
  return names.length === 0 || names.some((n) => n.endsWith('.safetensors'));
}

function isStale(dir: string, opts: SweepOptions): boolean {
  const w = readMarker(dir);
  if (w === undefined) return looksLikeOurs(dir) && (opts.now ?? Date.now()) - newestChange(dir) > UNMARKED_STALE_MS;
  if (opts.ownedBy !== undefined && (w.pid === opts.ownedBy || w.ppid === opts.ownedBy)) {
    if (w.pid !== process.pid) waitUntilGone(w, 3000);
    return true;
  }
  return writerState(w) === 'gone';
}

function waitUntilGone(w: WriterIdentity, maxMs: number): void {
  const tick = new Int32Array(new SharedArrayBuffer(4));
  for (let waited = 0; waited < maxMs && writerState(w) === 'alive'; waited += 50) Atomics.wait(tick, 0, 0, 50);
}

/**
 * Removes the stale staging folders in `parent` and returns their paths. Never throws: an unreadable
 * folder or a failed removal is left for a later run.
 */
export function removeStaleStaging(parent: string, opts: SweepOptions = {}): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!isStagingName(name)) continue;
    const dir = path.join(parent, name);
    try {
      if (!fs.lstatSync(dir).isDirectory() || !isStale(dir, opts)) continue; // a symlink is never followed into
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      removed.push(dir);
    } catch {
      // left for a later run
    }
  }
  return removed;
}
