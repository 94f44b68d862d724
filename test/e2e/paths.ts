// Where the e2e tools (scripts/e2e/install.sh), the packaged extension and the test artifacts live.
import * as path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..', '..');
/** The install prefix of scripts/e2e/install.sh (same MOE_E2E_PREFIX override). */
export const e2ePrefix = process.env['MOE_E2E_PREFIX'] ?? path.join(repoRoot, '.cache', 'e2e');
/** code-server 4.x needs Node 24; the project itself runs on Node 20. */
export const node24 = path.join(e2ePrefix, 'node24', 'node_modules', 'node', 'bin', 'node');
export const codeServerEntry = path.join(e2ePrefix, 'code-server', 'node_modules', 'code-server', 'out', 'node', 'entry.js');
export const chromiumPath = process.env['MOE_E2E_CHROMIUM'] ?? '/usr/bin/chromium';
/** The platform VSIX of this machine, as `npm run package` (scripts/packageVsix.ts) names it. */
export const vsixPath = path.join(repoRoot, 'dist-vsix', `moe-workbench-${process.platform}-${process.arch}.vsix`);
export const artifactsDir = path.join(repoRoot, 'test-artifacts', 'e2e');
