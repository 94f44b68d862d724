// npm run demo:corpus — rebuilds the demo model's training corpus (issue #12) from packages installed
// offline, into .cache/demo-corpus/: train.jsonl (all domains, deduplicated, shuffled with a fixed seed,
// each domain capped so none dominates) and heldout/<domain>.jsonl (a deterministic ~2% of each domain's
// documents, chosen by content hash). Writes the record media/demo-model/DATA.md and the committed held-out
// samples media/demo-model/heldout/<domain>.txt. Nothing of the corpus itself is committed.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CORPUS_SOURCES, DOMAINS, type Domain, missingPackages, packageFacts } from './demo/corpusSources';

const root = path.resolve(__dirname, '..');
export const corpusDir = path.join(root, '.cache', 'demo-corpus');
const modelDir = path.join(root, 'media', 'demo-model');
/** Training characters kept per domain (about 1.7 M tokens with the demo tokenizer). */
const DOMAIN_CAP = 5_000_000;
const HELDOUT_EVERY = 50;
const SAMPLE_CHARS = 3000;

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

function main(): void {
  const missing = missingPackages();
  if (missing.length) {
    console.error(`demo:corpus needs these packages: ${missing.join(', ')}\n  apt-get install -y ${missing.filter((m) => !m.startsWith('npm:')).join(' ')}`);
    process.exit(1);
  }
  const seen = new Set<string>();
  const rows: { domain: Domain; pkg: string; what: string; version: string; licence: string; docs: number; chars: number; dup: number }[] = [];
  const byDomain = new Map<Domain, { text: string; key: string }[]>(DOMAINS.map((d) => [d, []]));
  for (const s of CORPUS_SOURCES) {
    const t0 = Date.now();
    let docs = 0;
    let chars = 0;
    let dup = 0;
    for (const raw of s.collect()) {
      const text = raw.replace(/\r\n/g, '\n').normalize('NFC');
      const key = sha(text.replace(/\s+/g, ' ').trim());
      if (seen.has(key)) {
        dup++;
        continue;
      }
      seen.add(key);
      byDomain.get(s.domain)!.push({ text, key });
      docs++;
      chars += text.length;
    }
    rows.push({ domain: s.domain, pkg: s.pkg, what: s.what, ...packageFacts(s), docs, chars, dup });
    console.log(`${s.domain.padEnd(10)} ${s.pkg.padEnd(22)} ${docs} documents, ${(chars / 1e6).toFixed(2)} M chars (${dup} duplicates dropped, ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
  fs.rmSync(corpusDir, { recursive: true, force: true });
  fs.mkdirSync(path.join(corpusDir, 'heldout'), { recursive: true });
  fs.mkdirSync(path.join(modelDir, 'heldout'), { recursive: true });
  const train: { text: string; domain: Domain; order: string }[] = [];
  const split: { domain: Domain; trainDocs: number; trainChars: number; heldDocs: number; heldChars: number; available: number }[] = [];
  for (const domain of DOMAINS) {
    const docs = byDomain.get(domain)!.sort((a, b) => (a.key < b.key ? -1 : 1));
    const held = docs.filter((d) => parseInt(d.key.slice(0, 8), 16) % HELDOUT_EVERY === 0);
    const rest = docs.filter((d) => parseInt(d.key.slice(0, 8), 16) % HELDOUT_EVERY !== 0);
    let trainChars = 0;
    let trainDocs = 0;
    for (const d of rest) {
      if (trainChars >= DOMAIN_CAP) break;
      train.push({ text: d.text, domain, order: sha('demo-corpus-1:' + d.key) });
      trainChars += d.text.length;
      trainDocs++;
    }
    const heldText = held.map((d) => JSON.stringify({ text: d.text, domain }) + '\n').join('');
    fs.writeFileSync(path.join(corpusDir, 'heldout', `${domain}.jsonl`), heldText);
    let sample = '';
    for (const d of held) {
      if (sample.length >= SAMPLE_CHARS) break;
      sample += d.text.slice(0, SAMPLE_CHARS - sample.length);
    }
    fs.writeFileSync(path.join(modelDir, 'heldout', `${domain}.txt`), sample);
    split.push({ domain, trainDocs, trainChars, heldDocs: held.length, heldChars: held.reduce((a, d) => a + d.text.length, 0), available: rest.reduce((a, d) => a + d.text.length, 0) });
  }
  train.sort((a, b) => (a.order < b.order ? -1 : 1));
  const trainFile = path.join(corpusDir, 'train.jsonl');
  fs.writeFileSync(trainFile, train.map((d) => JSON.stringify({ text: d.text, domain: d.domain }) + '\n').join(''));
  const manifest = { version: 1, trainSha256: sha(fs.readFileSync(trainFile, 'utf8')), split };
  fs.writeFileSync(path.join(corpusDir, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
  fs.writeFileSync(path.join(modelDir, 'DATA.md'), dataMd(rows, split, manifest.trainSha256));
  console.log(`\n${train.length} training documents, ${(train.reduce((a, d) => a + d.text.length, 0) / 1e6).toFixed(2)} M chars → ${path.relative(root, corpusDir)}/; record in media/demo-model/DATA.md`);
}

function dataMd(rows: { domain: string; pkg: string; what: string; version: string; licence: string; docs: number; chars: number; dup: number }[], split: { domain: string; trainDocs: number; trainChars: number; heldDocs: number; heldChars: number; available: number }[], trainSha: string): string {
  const mb = (n: number): string => (n / 1e6).toFixed(2);
  return [
    '# Demo model training data',
    '',
    'Written by `npm run demo:corpus` (scripts/demoCorpus.ts); do not edit. The corpus is rebuilt from packages installed',
    'offline (Debian packages and this repository\'s npm devDependencies) into `.cache/demo-corpus/`; only this record',
    'and the held-out samples in `heldout/` are committed.',
    '',
    '## Sources',
    '',
    '| domain | package | version | licence | what | documents | M chars | duplicates dropped |',
    '|---|---|---|---|---|---:|---:|---:|',
    ...rows.map((r) => `| ${r.domain} | ${r.pkg} | ${r.version} | ${r.licence} | ${r.what} | ${r.docs} | ${mb(r.chars)} | ${r.dup} |`),
    '',
    '## Split',
    '',
    `Documents are deduplicated (whitespace-insensitive, across all sources). A document is held out when the first 32 bits of the SHA-256 of its text are divisible by ${HELDOUT_EVERY}; of the rest, each domain contributes documents in hash order up to ${mb(DOMAIN_CAP)} M characters, and the training documents of all domains are shuffled together with a fixed seed.`,
    '',
    '| domain | training documents | training M chars | available M chars | held-out documents | held-out M chars |',
    '|---|---:|---:|---:|---:|---:|',
    ...split.map((s) => `| ${s.domain} | ${s.trainDocs} | ${mb(s.trainChars)} | ${mb(s.available)} | ${s.heldDocs} | ${mb(s.heldChars)} |`),
    '',
    `train.jsonl SHA-256: \`${trainSha}\``,
    '',
  ].join('\n');
}

main();
