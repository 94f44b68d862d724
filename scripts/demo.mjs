// npm run demo: annotate the bundled sample prompts with the bundled demo model, through the CLI.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const model = join('media', 'demo-model');
const run = (args) => execFileSync(process.execPath, [join('dist', 'cli.js'), ...args], { stdio: 'inherit' });
run(['inspect', '--model', model]);
for (const f of readdirSync(join('media', 'samples')).sort()) {
  console.log(`\n=== media/samples/${f}`);
  run(['annotate', '--model', model, '--file', join('media', 'samples', f)]);
}
