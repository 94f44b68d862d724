// Who is writing a staging folder, recorded inside it, so that a later run can tell a folder whose writer
// is gone (killed, power loss) from one that another live process is still filling. A pid alone is not
// enough: pids are reused, and after a reboot any number may be alive again, so the record also carries
// the host, the boot and (on Linux) the process's start time, each compared where the platform has it.
import * as fs from 'node:fs';
import * as os from 'node:os';

export interface WriterIdentity {
  readonly pid: number;
  /** The writer's parent: the CLI or extension host that started the engine process. */
  readonly ppid: number;
  readonly host: string;
  /** Linux: /proc/sys/kernel/random/boot_id, new at every boot. */
  readonly bootId?: string;
  /** Linux: start time of the process in clock ticks since boot (/proc/<pid>/stat field 22). */
  readonly startTicks?: string;
  readonly startedAt: string;
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function bootId(): string | undefined {
  return readText('/proc/sys/kernel/random/boot_id');
}

/** Fields 3.. of /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses, so fields are counted after its last ')'. */
function procStat(pid: number): string[] | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  return stat === undefined ? undefined : stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Field 22: the start time in clock ticks since boot. */
function startTicks(pid: number): string | undefined {
  return procStat(pid)?.[19];
}

export function currentWriter(): WriterIdentity {
  const boot = bootId();
  const ticks = startTicks(process.pid);
  return {
    pid: process.pid,
    ppid: process.ppid,
    host: os.hostname(),
    ...(boot !== undefined ? { bootId: boot } : {}),
    ...(ticks !== undefined ? { startTicks: ticks } : {}),
    startedAt: new Date(Date.now() - process.uptime() * 1000).toISOString(),
  };
}

export function parseWriter(v: unknown): WriterIdentity | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const w = v as Record<string, unknown>;
  if (!Number.isInteger(w['pid']) || !Number.isInteger(w['ppid']) || typeof w['host'] !== 'string' || typeof w['startedAt'] !== 'string') return undefined;
  if (w['bootId'] !== undefined && typeof w['bootId'] !== 'string') return undefined;
  if (w['startTicks'] !== undefined && typeof w['startTicks'] !== 'string') return undefined;
  return w as unknown as WriterIdentity;
}

/**
 * 'gone' only when it is certain the writer no longer runs; 'unknown' when this machine cannot tell (another
 * host, e.g. a network folder), which callers treat as alive.
 */
export function writerState(w: WriterIdentity): 'alive' | 'gone' | 'unknown' {
  if (w.host !== os.hostname() || w.pid <= 0) return 'unknown'; // kill(0 or negative) would signal a process group
  const boot = bootId();
  if (w.bootId !== undefined && boot !== undefined && w.bootId !== boot) return 'gone';
  try {
    process.kill(w.pid, 0);
  } catch (e) {
    // EPERM: the pid exists but belongs to someone else, so it may be the writer.
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return 'gone';
  }
  const stat = procStat(w.pid);
  if (stat !== undefined) {
    if (stat[0] === 'Z' || stat[0] === 'X') return 'gone'; // dead, not yet reaped by its parent
    if (w.startTicks !== undefined && stat[19] !== w.startTicks) return 'gone'; // the pid was reused by a newer process
  }
  return 'alive';
}
