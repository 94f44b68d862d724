// Staging folders left by killed writes (issue #8): removed by the next write beside them when, and only
// when, their writer is certainly gone; a live process's folder is never touched.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { removeStaleStaging, STAGING_MARKER, UNMARKED_STALE_MS, writeStagingMarker } from '../../src/engine/surgery/staleStaging';
import { createStagingDir } from '../../src/engine/surgery/stagingDir';
import { currentWriter, type WriterIdentity } from '../../src/engine/surgery/writerIdentity';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-stale-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;

function parentDir(): string {
  const d = path.join(tmp, `p${n++}`);
  fs.mkdirSync(d);
  return d;
}

/** A staging folder with a partial weights file and a marker naming `writer` (none: an older version's folder). */
function staging(parent: string, writer: WriterIdentity | undefined, name = '.ckpt.partial-0a1b2c3d'): string {
  const dir = path.join(parent, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'model.safetensors'), Buffer.alloc(1024));
  if (writer) fs.writeFileSync(path.join(dir, STAGING_MARKER), JSON.stringify({ format: 'moe-workbench.staging', writer }));
  return dir;
}

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('removeStaleStaging', () => {
  it('removes a folder whose writer has exited, and says so', () => {
    const parent = parentDir();
    const dir = staging(parent, { ...currentWriter(), pid: deadPid() });
    assert.deepEqual(removeStaleStaging(parent), [dir]);
    assert.deepEqual(fs.readdirSync(parent), []);
  });

  it('keeps the folder of a live writer: this process', () => {
    const parent = parentDir();
    staging(parent, currentWriter());
    assert.deepEqual(removeStaleStaging(parent), []);
    assert.equal(fs.readdirSync(parent).length, 1);
  });

  it('keeps the folder of a live writer that is another process (the parent of this one)', () => {
    const parent = parentDir();
    const { startTicks: _mine, ...rest } = currentWriter();
    staging(parent, { ...rest, pid: process.ppid, ppid: 0 });
    assert.deepEqual(removeStaleStaging(parent), []);
  });

  it('removes a folder whose pid is alive but belongs to a newer process (pid reused); kept where start times are unknown', () => {
    const parent = parentDir();
    staging(parent, { ...currentWriter(), startTicks: '1' });
    assert.equal(removeStaleStaging(parent).length, currentWriter().startTicks !== undefined ? 1 : 0);
  });

  it('removes a folder written before the last boot (power loss), whatever its pid; kept where boots are unknown', () => {
    const parent = parentDir();
    staging(parent, { ...currentWriter(), bootId: '00000000-0000-0000-0000-000000000000' });
    assert.equal(removeStaleStaging(parent).length, currentWriter().bootId !== undefined ? 1 : 0);
  });

  it('keeps a folder written on another host (a shared folder): liveness cannot be known here', () => {
    const parent = parentDir();
    staging(parent, { ...currentWriter(), pid: deadPid(), host: `${os.hostname()}-elsewhere` });
    assert.deepEqual(removeStaleStaging(parent), []);
  });

  it('an unmarked folder (older versions) is removed only when nothing in it changed for an hour', () => {
    const parent = parentDir();
    const fresh = staging(parent, undefined, '.a.partial-Xy12Zq');
    const old = staging(parent, undefined, '.b.partial-Ab34Cd');
    const past = (Date.now() - UNMARKED_STALE_MS - 60_000) / 1000;
    for (const p of [path.join(old, 'model.safetensors'), old]) fs.utimesSync(p, past, past);
    assert.deepEqual(removeStaleStaging(parent), [old]);
    assert.ok(fs.existsSync(fresh));
  });

  it('an unmarked old folder that does not hold weights is not assumed to be ours', () => {
    const parent = parentDir();
    const dir = path.join(parent, '.notes.partial-Ab34Cd');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'draft.md'), 'the user’s own');
    const past = (Date.now() - 2 * UNMARKED_STALE_MS) / 1000;
    for (const p of [path.join(dir, 'draft.md'), dir]) fs.utimesSync(p, past, past);
    assert.deepEqual(removeStaleStaging(parent), []);
  });

  it('leaves other entries alone: a user folder, a file and a symlink with a staging-like name', () => {
    const parent = parentDir();
    const target = parentDir();
    fs.mkdirSync(path.join(parent, 'ckpt.partial-0a1b2c3d')); // not hidden: not ours
    fs.mkdirSync(path.join(parent, '.ckpt.partial-downloads')); // not a suffix we make
    fs.writeFileSync(path.join(parent, '.x.partial-0a1b2c3d'), 'a file');
    fs.symlinkSync(target, path.join(parent, '.y.partial-0a1b2c3d'));
    assert.deepEqual(removeStaleStaging(parent), []);
    assert.equal(fs.readdirSync(parent).length, 4);
    assert.ok(fs.existsSync(target));
  });

  it('ownedBy: after the CLI stopped its engine, folders of that engine go (worker thread: same pid; child: its parent pid)', () => {
    const parent = parentDir();
    staging(parent, currentWriter(), '.a.partial-00000001');
    staging(parent, { ...currentWriter(), pid: deadPid(), ppid: process.pid }, '.b.partial-00000002');
    const { startTicks: _mine, ...noTicks } = currentWriter();
    const other = staging(parent, { ...noTicks, pid: process.ppid, ppid: 1 }, '.c.partial-00000003'); // alive, not ours
    assert.equal(removeStaleStaging(parent, { ownedBy: process.pid }).length, 2);
    assert.deepEqual(fs.readdirSync(parent), [path.basename(other)]);
  });
});

describe('createStagingDir', () => {
  it('marks its folder with this process, sweeps the dead writer’s folder beside it, keeps the live one’s', async () => {
    const parent = parentDir();
    const dead = staging(parent, { ...currentWriter(), pid: deadPid() }, '.out.partial-dead0001');
    const live = staging(parent, currentWriter(), '.out.partial-11ee0001');
    const s = await createStagingDir(parentDir(), path.join(parent, 'out'));
    assert.deepEqual(s.removedStale, [dead]);
    assert.ok(fs.existsSync(live));
    const marker = JSON.parse(fs.readFileSync(path.join(s.temp, STAGING_MARKER), 'utf8')) as { writer: WriterIdentity };
    assert.equal(marker.writer.pid, process.pid);
    await s.commit();
    assert.deepEqual(fs.readdirSync(path.join(parent, 'out')), [], 'the marker does not travel into the checkpoint');
  });

  it('creates the folder with the normal permissions (0777 less the umask), not mkdtemp’s 0700', async () => {
    const parent = parentDir();
    const s = await createStagingDir(parentDir(), path.join(parent, 'out'));
    await s.commit();
    // Windows has no POSIX modes: there the check is only that the folder exists.
    if (process.platform !== 'win32') assert.equal(fs.statSync(path.join(parent, 'out')).mode & 0o777, 0o777 & ~process.umask());
    else assert.ok(fs.statSync(path.join(parent, 'out')).isDirectory());
  });

  it('writeStagingMarker refuses to overwrite a marker (one writer per folder)', () => {
    const dir = staging(parentDir(), currentWriter());
    assert.throws(() => writeStagingMarker(dir), /EEXIST/);
  });
});
