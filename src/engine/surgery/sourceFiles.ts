// Which files of the source model folder a written checkpoint takes along (tokenizer, generation config,
// README, ...), and how they are copied. Only regular files that really are inside the folder: a symbolic
// link `notes.txt -> ../secret.txt` would otherwise copy a file from elsewhere into a checkpoint the user
// may share, and a FIFO or device would hang or flood the copy. What is left out is said, not dropped.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { SkippedFile } from '../../protocol/expertOps';

export interface SourceFile {
  readonly name: string;
  /** What to read: the file itself, or the real file a permitted link points to. */
  readonly from: string;
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * A Hugging Face cache snapshot (`models--org--name/snapshots/<revision>/`) is a folder of links into the
 * repository's `blobs/`: those links are the model's own files, so they are followed (only into `blobs/`).
 */
function hubBlobsOf(realDir: string): string | undefined {
  const snapshots = path.dirname(realDir);
  const repo = path.dirname(snapshots);
  return path.basename(snapshots) === 'snapshots' && path.basename(repo).startsWith('models--') ? path.join(repo, 'blobs') : undefined;
}

/** The files of `dir` that `wanted` names and that can be copied safely, and those skipped with the reason. */
export function sourceFiles(dir: string, wanted: (name: string) => boolean): { copies: SourceFile[]; skipped: SkippedFile[] } {
  const realDir = fs.realpathSync(dir);
  const blobs = hubBlobsOf(realDir);
  const copies: SourceFile[] = [];
  const skipped: SkippedFile[] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    if (!wanted(name)) continue;
    const p = path.join(dir, name);
    const st = fs.lstatSync(p);
    if (st.isFile()) copies.push({ name, from: p });
    else if (st.isDirectory()) continue; // only the files at the top of a model folder belong to the checkpoint, by design: not worth a note
    else if (!st.isSymbolicLink()) skipped.push({ name, reason: 'not a regular file (a FIFO, socket or device)' });
    else {
      let real: string;
      try {
        real = fs.realpathSync(p);
      } catch {
        skipped.push({ name, reason: 'a broken symbolic link' });
        continue;
      }
      if (!(isInside(real, realDir) || (blobs !== undefined && isInside(real, blobs)))) skipped.push({ name, reason: 'a symbolic link to a file outside the model folder' });
      else if (!fs.statSync(real).isFile()) skipped.push({ name, reason: 'a symbolic link to something that is not a regular file' });
      else copies.push({ name, from: real });
    }
  }
  return { copies, skipped };
}

/**
 * Copies `from` to the new file `to` (refused if it exists). The source is opened without following a link
 * and checked to be a regular file on the open descriptor, so a link swapped in after sourceFiles() looked is
 * not followed either. The copy gets the source's permission bits, less the umask.
 */
export async function copyRegularFile(from: string, to: string): Promise<void> {
  const src = await fsp.open(from, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
  try {
    const st = await src.stat();
    if (!st.isFile()) throw new Error(`${from} is no longer a regular file`);
    const dst = await fsp.open(to, 'wx', st.mode & 0o777);
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const { bytesRead } = await src.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        for (let off = 0; off < bytesRead; ) off += (await dst.write(buf, off, bytesRead - off)).bytesWritten;
      }
      await dst.sync();
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}
