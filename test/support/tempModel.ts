// Copies of fixture checkpoints in a temp folder, to corrupt one file at a time.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fixture } from './paths';

const made: string[] = [];

/** A writable copy of fixture `name` (weights, config, tokenizer; not the expected outputs). */
export function copyFixture(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `moe-${name}-`));
  made.push(dir);
  for (const f of fs.readdirSync(fixture(name))) {
    if (f.startsWith('expected')) continue;
    fs.copyFileSync(path.join(fixture(name), f), path.join(dir, f));
    fs.chmodSync(path.join(dir, f), 0o644);
  }
  return dir;
}

export function editJson(file: string, edit: (v: Record<string, unknown>) => void): void {
  const v = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(v);
  fs.writeFileSync(file, JSON.stringify(v));
}

export function removeTempModels(): void {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}
