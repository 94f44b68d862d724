// The output folder of a written checkpoint, made all at once: everything is written into a hidden temp
// sibling (`<parent>/.<name>.partial-<random>`) that is renamed to the destination at the end, and removed on
// failure, cancellation or a stop signal (stagingCleanup.ts), so a half-written checkpoint is never left where
// a user (or transformers) finds it. What a killed run left is removed by the next one (staleStaging.ts).
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { syncDir } from '../atomicFile';
import { MoeError } from '../../protocol/moeError';
import { trackPartial } from './stagingCleanup';
import { removeStaleStaging, STAGING_MARKER, writeStagingMarker } from './staleStaging';

export interface StagingDir {
  /** The destination (absolute). */
  readonly out: string;
  /** Where to write until commit. */
  readonly temp: string;
  /** Staging folders of killed earlier runs that were found beside the destination and removed. */
  readonly removedStale: readonly string[];
  /** Renames the temp folder to the destination. */
  commit(): Promise<void>;
  /** Removes the temp folder and any parent folder this created. Never throws. */
  discard(): Promise<void>;
}

function ioError(target: string, problem: string): MoeError {
  return new MoeError('E_IO', `${target}: ${problem}`, target);
}

/** `p` with symlinks of its longest existing ancestor resolved, so aliases of a folder compare equal. */
function realish(p: string): string {
  let head = p;
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(fs.realpathSync(head), ...rest.reverse());
    } catch {
      const up = path.dirname(head);
      if (up === head) return p;
      rest.push(path.basename(head));
      head = up;
    }
  }
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Checks the destination and creates the temp folder. Refuses (MoeError 'E_IO' naming the folder) a
 * destination equal to or inside `srcDir`, an existing file, or a folder that is not empty; creates missing
 * parent folders.
 */
export async function createStagingDir(srcDir: string, outDir: string): Promise<StagingDir> {
  const out = path.resolve(outDir);
  const src = path.resolve(srcDir);
  if (isInside(realish(out), realish(src))) {
    throw ioError(out, `the output folder is ${out === src ? 'the source model folder' : `inside the source model folder ${src}`}; write the new checkpoint somewhere else`);
  }
  let existed = false;
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(out);
  } catch {
    st = undefined; // missing (ENOENT), or a path through a file (ENOTDIR): the parent check below reports that
  }
  if (st !== undefined) {
    if (!st.isDirectory()) throw ioError(out, 'exists and is not a folder; choose a new folder for the checkpoint');
    if (fs.readdirSync(out).length > 0) throw ioError(out, 'the output folder already exists and is not empty; choose a new folder or empty it');
    existed = true;
  }
  const parent = path.dirname(out);
  let createdTop: string | undefined;
  try {
    createdTop = await fsp.mkdir(parent, { recursive: true });
  } catch (e) {
    throw ioError(out, `cannot create the parent folder ${parent}: ${(e as Error).message}`);
  }
  const removedStale = removeStaleStaging(parent);
  let temp: string;
  let untrack: () => void;
  try {
    temp = await makeTempDir(parent, `.${path.basename(out)}.partial-`);
    untrack = trackPartial(temp);
  } catch (e) {
    await removeCreatedParents(parent, createdTop);
    throw ioError(out, `cannot create a folder in ${parent}: ${(e as Error).message}`);
  }
  try {
    writeStagingMarker(temp);
  } catch (e) {
    await fsp.rm(temp, { recursive: true, force: true }).catch(() => undefined);
    untrack();
    await removeCreatedParents(parent, createdTop);
    throw ioError(out, `cannot write in ${temp}: ${(e as Error).message}`);
  }
  return {
    out,
    temp,
    removedStale,
    async commit() {
      try {
        await fsp.rm(path.join(temp, STAGING_MARKER), { force: true });
        // An empty destination folder is replaced (rename over a folder is not portable); rmdir fails if it filled up meanwhile.
        if (existed) await fsp.rmdir(out);
        await fsp.rename(temp, out);
      } catch (e) {
        throw ioError(out, `cannot move the written checkpoint into place: ${(e as Error).message}`);
      }
      untrack();
      await syncDir(parent);
    },
    async discard() {
      await fsp.rm(temp, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
      untrack();
      await removeCreatedParents(parent, createdTop);
    },
  };
}

/**
 * A new folder `<parent>/<prefix><8 hex digits>` with the user's normal permissions: mkdtemp would make it
 * 0700, and the rename would carry that to the checkpoint, unreadable to anyone else who should use it.
 */
async function makeTempDir(parent: string, prefix: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const dir = path.join(parent, prefix + randomBytes(4).toString('hex'));
    try {
      await fsp.mkdir(dir, { mode: 0o777 }); // less the umask, as for any folder the user makes
      return dir;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 10) throw e;
    }
  }
}

/** Removes the (now empty) folders from `dir` up to `top`, the first folder mkdir created. */
async function removeCreatedParents(dir: string, top: string | undefined): Promise<void> {
  if (top === undefined) return;
  for (let d = dir; isInside(d, top); d = path.dirname(d)) {
    try {
      await fsp.rmdir(d);
    } catch {
      return; // not empty (someone else is using it): leave it
    }
    if (d === top) return;
  }
}
