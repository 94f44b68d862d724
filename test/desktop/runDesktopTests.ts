// npm run test:desktop: the in-host API suite in a desktop VS Code downloaded by @vscode/test-electron.
// Needs the internet (the download): it cannot run on CI here, where test/e2e drives code-server instead.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { build } from 'esbuild';
import { runTests } from '@vscode/test-electron';

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..', '..');
  const out = path.join(root, 'dist', 'test-desktop');
  await build({ entryPoints: { suite: path.join(__dirname, 'suite.ts') }, outdir: out, bundle: true, platform: 'node', format: 'cjs', external: ['vscode'], target: 'node20' });
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-desktop-'));
  fs.writeFileSync(path.join(workspace, 'hello.prompt'), 'Experts route tokens: 1, 2, 3!\n');
  await runTests({ extensionDevelopmentPath: root, extensionTestsPath: path.join(out, 'suite.js'), launchArgs: [workspace, '--disable-extensions'] });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
