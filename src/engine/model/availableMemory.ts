// How much memory this process can still take, and where that figure comes from (for the message).
// Linux: /proc/meminfo's MemAvailable (free plus reclaimable cache; MemFree alone undercounts), capped by the
// cgroup limit when one applies (libuv's process.availableMemory() accounts for it). Tests and users with
// unusual setups override it with MOE_WORKBENCH_AVAILABLE_MEMORY (bytes, or a number with KiB/MiB/GiB).
import * as fs from 'node:fs';
import * as os from 'node:os';
import { MoeError } from '../../protocol/moeError';

export const AVAILABLE_MEMORY_ENV = 'MOE_WORKBENCH_AVAILABLE_MEMORY';

export interface AvailableMemory {
  readonly bytes: number;
  /** Where the figure came from, e.g. "MemAvailable in /proc/meminfo". */
  readonly source: string;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 2 ** 10, kb: 2 ** 10, kib: 2 ** 10, m: 2 ** 20, mb: 2 ** 20, mib: 2 ** 20, g: 2 ** 30, gb: 2 ** 30, gib: 2 ** 30, t: 2 ** 40, tb: 2 ** 40, tib: 2 ** 40 };

export function availableMemory(env: NodeJS.ProcessEnv = process.env): AvailableMemory {
  const override = env[AVAILABLE_MEMORY_ENV];
  if (override !== undefined && override.trim() !== '') return { bytes: parseSize(override), source: AVAILABLE_MEMORY_ENV };
  const candidates: AvailableMemory[] = [];
  const meminfo = memAvailable();
  if (meminfo !== undefined) candidates.push({ bytes: meminfo, source: 'MemAvailable in /proc/meminfo' });
  const proc = process as { availableMemory?: () => number };
  const lib = typeof proc.availableMemory === 'function' ? proc.availableMemory() : undefined;
  if (lib !== undefined && Number.isFinite(lib) && lib > 0) candidates.push({ bytes: lib, source: 'free memory within the process limits (cgroup)' });
  if (candidates.length === 0) candidates.push({ bytes: os.freemem(), source: 'os.freemem()' });
  return candidates.reduce((a, b) => (b.bytes < a.bytes ? b : a));
}

function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new MoeError('E_CONFIG', `${AVAILABLE_MEMORY_ENV}=${JSON.stringify(text)} is not a size: use bytes or a number with KiB, MiB or GiB (e.g. 8GiB)`);
  return Math.floor(Number(m[1]) * unit);
}

function memAvailable(): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const m = /^MemAvailable:\s+(\d+)\s+kB/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Bytes as GiB with one decimal (two below 1 GiB, so small models do not read as 0.0). */
export function gib(bytes: number): string {
  const g = bytes / 2 ** 30;
  return `${g.toFixed(g < 1 ? 2 : 1)} GiB`;
}
