// The demo model's training text (issue #12): six domains read from packages installed offline (Debian
// packages and this repository's npm devDependencies), each source named with its package so DATA.md can
// record package, version, licence and size. Every collector returns whole documents in a fixed order.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';

export type Domain = 'english' | 'german' | 'spanish' | 'python' | 'typescript' | 'data';
export const DOMAINS: readonly Domain[] = ['english', 'german', 'spanish', 'python', 'typescript', 'data'];

export interface CorpusSource {
  readonly domain: Domain;
  /** Debian package (`deb`) or npm package (`npm`) the text comes from. */
  readonly kind: 'deb' | 'npm';
  readonly pkg: string;
  readonly what: string;
  readonly collect: () => string[];
}

const root = path.resolve(__dirname, '..', '..');

function walk(dir: string, keep: (file: string) => boolean, skipDir: (name: string) => boolean = () => false): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (!skipDir(e.name)) out.push(...walk(p, keep, skipDir));
    } else if (e.isFile() && keep(p)) out.push(p);
  }
  return out;
}

const read = (f: string): string => fs.readFileSync(f, 'utf8');

/** A fortune file's entries (separated by lines holding only `%`), grouped `per` to a document. */
function fortunes(dir: string, skip: readonly string[]): string[] {
  const docs: string[] = [];
  for (const f of walk(dir, (p) => !/\.(dat|u8)$/.test(p) && !skip.includes(path.basename(p)), () => true)) {
    const entries = read(f).split(/\r?\n%\r?\n/).map((e) => e.replace(/^%\r?\n/, '').trimEnd()).filter((e) => e.trim() !== '');
    for (let i = 0; i < entries.length; i += 12) docs.push(entries.slice(i, i + 12).join('\n\n') + '\n');
  }
  return docs;
}

/** Translated manual pages rendered to plain text by groff (hyphenation and justification undone). */
function manPages(lang: string): string[] {
  const docs: string[] = [];
  for (const f of walk(`/usr/share/man/${lang}`, (p) => p.endsWith('.gz'))) {
    const src = gunzipSync(fs.readFileSync(f));
    if (/^\.so /m.test(src.subarray(0, 200).toString('latin1'))) continue; // a link to another page
    let text: string;
    try {
      text = execFileSync('groff', ['-k', '-mandoc', '-Tutf8', '-P-cbou', '-rLL=200n'], { input: src, stdio: ['pipe', 'pipe', 'ignore'], maxBuffer: 64 << 20 }).toString('utf8');
    } catch {
      continue;
    }
    const lines = text
      .replace(/\u2010\n\s*/g, '')
      .split('\n')
      .map((l) => l.replace(/^\s+/, '').replace(/ {2,}/g, ' ').trimEnd());
    // Drop the running header and footer lines.
    const body = lines.slice(1, -1).join('\n').replace(/\n{3,}/g, '\n\n').trim();
    if (body.length > 200) docs.push(body + '\n');
  }
  return docs;
}

/** The King James Bible, one document per chapter, through the `bible` program of bible-kjv. */
function bible(): string[] {
  const out = execFileSync('bible', ['-l', '100000', 'Gen1:1-Rev22:21'], { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 }).toString('utf8');
  return out
    .split(/\n(?=[1-3]?\s?[A-Z][a-z]+(?: of [A-Z][a-z]+)? \d+\n)/)
    .map((c) => c.replace(/^\s*\d+ /gm, '').trim())
    .filter((c) => c.includes('\n'))
    .map((c) => c + '\n');
}

/** Large files cut at line boundaries into pieces of about `chars`, so the shuffle interleaves domains. */
export function pieces(text: string, chars = 6000): string[] {
  if (text.length <= chars * 1.5) return [text];
  const out: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(text.length, start + chars);
    if (end < text.length) {
      const nl = text.indexOf('\n', end);
      end = nl < 0 ? text.length : nl + 1;
    }
    out.push(text.slice(start, end));
    start = end;
  }
  return out;
}

const files = (list: string[]): string[] => list.flatMap((f) => pieces(read(f)));
const py = '/usr/lib/python3.11';

export const CORPUS_SOURCES: readonly CorpusSource[] = [
  { domain: 'english', kind: 'deb', pkg: 'bible-kjv-text', what: 'King James Bible (read with bible-kjv)', collect: bible },
  { domain: 'english', kind: 'deb', pkg: 'fortunes', what: 'fortune cookies (English)', collect: () => fortunes('/usr/share/games/fortunes', ['ascii-art']) },
  { domain: 'german', kind: 'deb', pkg: 'fortunes-de', what: 'fortune cookies (German)', collect: () => fortunes('/usr/share/games/fortunes/de', ['asciiart']) },
  { domain: 'german', kind: 'deb', pkg: 'manpages-de', what: 'manual pages translated to German', collect: () => manPages('de') },
  { domain: 'spanish', kind: 'deb', pkg: 'fortunes-es', what: 'fortune cookies (Spanish)', collect: () => fortunes('/usr/share/games/fortunes/es', []) },
  { domain: 'spanish', kind: 'deb', pkg: 'manpages-es', what: 'manual pages translated to Spanish', collect: () => manPages('es') },
  { domain: 'python', kind: 'deb', pkg: 'libpython3.11-stdlib', what: 'Python standard library sources', collect: () => files(walk(py, (p) => p.endsWith('.py'), (d) => d === 'test' || d === 'tests' || d === 'idle_test' || d === 'site-packages' || d === 'dist-packages' || d === '__pycache__')) },
  { domain: 'typescript', kind: 'npm', pkg: 'typescript', what: 'lib.*.d.ts declarations', collect: () => files(walk(path.join(root, 'node_modules', 'typescript', 'lib'), (p) => /\/lib\.[^/]*\.d\.ts$/.test(p))) },
  { domain: 'typescript', kind: 'npm', pkg: '@types/node', what: 'Node.js API declarations', collect: () => files(walk(path.join(root, 'node_modules', '@types', 'node'), (p) => p.endsWith('.d.ts'))) },
  { domain: 'typescript', kind: 'npm', pkg: 'uplot', what: 'uPlot JavaScript sources', collect: () => files(walk(path.join(root, 'node_modules', 'uplot', 'dist'), (p) => /uPlot\.esm\.js$/.test(p))) },
  { domain: 'data', kind: 'deb', pkg: 'iso-codes', what: 'ISO code tables (JSON)', collect: () => files(walk('/usr/share/iso-codes/json', (p) => p.endsWith('.json'))) },
  { domain: 'data', kind: 'deb', pkg: 'gdal-data', what: 'GDAL tables (CSV, JSON, XML)', collect: () => files(walk('/usr/share/gdal', (p) => /\.(csv|json|xml|gfs)$/.test(p))) },
  { domain: 'data', kind: 'deb', pkg: 'distro-info-data', what: 'release tables (CSV)', collect: () => files(walk('/usr/share/distro-info', (p) => p.endsWith('.csv'))) },
];

/** Version and licence of a source's package, read from dpkg / the npm package.json (for DATA.md). */
export function packageFacts(s: CorpusSource): { version: string; licence: string } {
  if (s.kind === 'npm') {
    const pj = JSON.parse(read(path.join(root, 'node_modules', s.pkg, 'package.json'))) as { version?: string; license?: string };
    return { version: pj.version ?? '?', licence: pj.license ?? '?' };
  }
  let version = '?';
  try {
    version = execFileSync('dpkg-query', ['-W', '-f', '${Version}', s.pkg], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    /* reported as missing by the caller */
  }
  const copyright = `/usr/share/doc/${s.pkg}/copyright`;
  const licences = fs.existsSync(copyright) ? [...new Set([...read(copyright).matchAll(/^License:\s*(.+)$/gm)].map((m) => m[1]!.trim()))] : [];
  return { version, licence: licences.length ? licences.slice(0, 4).join('; ') + (licences.length > 4 ? '; …' : '') : 'see /usr/share/doc/' + s.pkg + '/copyright' };
}

/** Packages missing on this machine, with the command that installs them. */
export function missingPackages(): string[] {
  const missing: string[] = [];
  for (const s of CORPUS_SOURCES) {
    if (s.kind === 'npm') {
      if (!fs.existsSync(path.join(root, 'node_modules', s.pkg, 'package.json'))) missing.push(`npm: ${s.pkg}`);
      continue;
    }
    try {
      execFileSync('dpkg-query', ['-W', '-f', '${Status}', s.pkg], { stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      missing.push(s.pkg);
    }
  }
  for (const [tool, pkg] of [['bible', 'bible-kjv'], ['groff', 'groff-base']] as const) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      missing.push(pkg);
    }
  }
  return [...new Set(missing)];
}
