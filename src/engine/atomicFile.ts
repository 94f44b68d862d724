// Writing user-visible files so that nobody ever sees a half-written one: write a temp file in the
// destination folder, fsync, rename over the destination; on failure or a stop signal, remove the temp file.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { MoeError } from '../protocol/moeError';
import { trackPartial } from './surgery/stagingCleanup';

export async function writeFileAtomic(dest: string, write: (fd: number) => Promise<void> | void): Promise<void> {
  const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  let fd: number | undefined;
  const untrack = trackPartial(tmp);
  try {
    fd = fs.openSync(tmp, 'wx');
    await write(fd);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, dest);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    if (e instanceof MoeError) throw e;
    throw new MoeError('E_IO', `could not write ${dest}: ${(e as Error).message}`, dest);
  } finally {
    untrack();
  }
}

/** Writes all of `bytes` at the fd's current position. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
}

/** Makes a rename in `dir` durable. Best effort: not every platform lets a directory be opened and fsynced. */
export async function syncDir(dir: string): Promise<void> {
  let dh: fsp.FileHandle | undefined;
  try {
    dh = await fsp.open(dir, 'r');
    await dh.sync();
  } catch {
    // The renamed entry is complete; only crash-durability of the directory entry is not guaranteed.
  } finally {
    await dh?.close().catch(() => undefined);
  }
}
