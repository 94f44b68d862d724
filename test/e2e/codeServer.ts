// Starts a private code-server (VS Code's server + web workbench) with the packaged extension installed:
// loopback only, no auth, its own user-data and extensions dirs in a temp folder, telemetry and update
// checks off. It runs on the Node 24 that scripts/e2e/install.sh puts in .cache/e2e.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { codeServerEntry, node24 } from './paths';

export { openWorkbench, type Workbench } from './workbench';

export interface CodeServerOptions {
  /** Folder the workbench opens. */
  workspace: string;
  /** The packaged extension to install first. */
  vsix: string;
  /** Merged over the harness's quiet defaults in User/settings.json. */
  settings?: Record<string, unknown>;
  /** Until the server answers HTTP (default 60 s). */
  startTimeoutMs?: number;
  /**
   * Workspace trust on (default off): the workspace opens in Restricted Mode, without the startup prompt,
   * as a folder the user has not trusted yet.
   */
  workspaceTrust?: boolean;
}

export interface CodeServer {
  /** Workbench URL with the workspace folder open. */
  url: string;
  /** code-server's --user-data-dir: settings in User/, logs in logs/. */
  userDataDir: string;
  /** What the server printed so far (stdout and stderr). */
  output(): string;
  /** Copies code-server's logs (server, extension host, output channels) to `dest`. */
  saveLogs(dest: string): Promise<void>;
  /** Kills the server's process tree and removes its temp folder. */
  stop(): Promise<void>;
}

/** Settings that keep the workbench quiet and offline; tests add their own over these. */
const baseSettings: Record<string, unknown> = {
  'workbench.colorTheme': 'Default Dark Modern',
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'chat.disableAIFeatures': true,
  'git.enabled': false,
  'npm.fetchOnlinePackageInfo': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
};

export async function startCodeServer(options: CodeServerOptions): Promise<CodeServer> {
  for (const [what, file] of [['Node 24', node24], ['code-server', codeServerEntry]] as const) {
    if (!existsSync(file)) throw new Error(`${what} not found at ${file}: run scripts/e2e/install.sh`);
  }
  if (!existsSync(options.vsix)) throw new Error(`VSIX not found at ${options.vsix}: run npm run package`);

  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'moe-e2e-server-'));
  const userDataDir = path.join(tmp, 'user-data');
  const extensionsDir = path.join(tmp, 'extensions');
  const config = path.join(tmp, 'config.yaml');
  // Our own config file: otherwise code-server writes ~/.config/code-server/config.yaml with a password.
  await fs.writeFile(config, 'auth: none\ncert: false\n');
  const common = ['--config', config, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir];
  const env = isolatedEnv(tmp);
  // No extension gallery (code-server defaults to open-vsx.org): the workbench stays offline.
  env['EXTENSIONS_GALLERY'] = '{}';

  try {
    const installed = await run(node24, [codeServerEntry, ...common, '--force', '--install-extension', options.vsix], env, 180_000);
    if (!/successfully installed/i.test(installed)) throw new Error(`installing ${options.vsix} printed no success:\n${installed}`);

    await fs.mkdir(path.join(userDataDir, 'User'), { recursive: true });
    const trust = options.workspaceTrust ? { 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never' } : {};
    await fs.writeFile(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify({ ...baseSettings, ...trust, ...options.settings }, null, 2));
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw e;
  }

  const port = await freePort();
  const args = [
    codeServerEntry, ...common,
    '--bind-addr', `127.0.0.1:${port}`,
    '--auth', 'none',
    '--disable-telemetry',
    '--disable-update-check',
    ...(options.workspaceTrust ? [] : ['--disable-workspace-trust']),
    '--disable-getting-started-override',
    '--disable-proxy',
    '--ignore-last-opened',
    options.workspace,
  ];
  // Own process group, so stop() can kill the extension host, pty host and file watcher with it.
  const child = spawn(node24, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let printed = '';
  child.stdout.on('data', (d: Buffer) => (printed += d.toString()));
  child.stderr.on('data', (d: Buffer) => (printed += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const killOnExit = (): void => killGroup(child, 'SIGKILL');
  process.once('exit', killOnExit);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      process.removeListener('exit', killOnExit);
      killGroup(child, 'SIGTERM');
      const done = await Promise.race([exited.then(() => true), delay(5_000).then(() => false)]);
      // SIGKILL the group anyway: children (extension host, worker) may outlive the main process.
      killGroup(child, 'SIGKILL');
      if (!done) await exited;
      await fs.rm(tmp, { recursive: true, force: true, maxRetries: 3 });
    })());

  const base = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${base}/healthz`, exited, options.startTimeoutMs ?? 60_000, () => printed);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url: `${base}/?folder=${encodeURIComponent(path.resolve(options.workspace))}`,
    userDataDir,
    output: () => printed,
    saveLogs: async (dest) => {
      await fs.mkdir(dest, { recursive: true });
      await fs.writeFile(path.join(dest, 'code-server.out.txt'), printed);
      const logs = path.join(userDataDir, 'logs');
      await fs.rm(path.join(dest, 'logs'), { recursive: true, force: true });
      if (existsSync(logs)) await fs.cp(logs, path.join(dest, 'logs'), { recursive: true });
    },
    stop,
  };
}

/** The caller's environment, minus what would tie code-server to an outer VS Code, with XDG dirs in `tmp`. */
function isolatedEnv(tmp: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('VSCODE_') && k !== 'ELECTRON_RUN_AS_NODE') env[k] = v;
  env['XDG_CONFIG_HOME'] = path.join(tmp, 'xdg-config');
  env['XDG_DATA_HOME'] = path.join(tmp, 'xdg-data');
  env['XDG_CACHE_HOME'] = path.join(tmp, 'xdg-cache');
  return env;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeout: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(args[0] ?? file)} ${args.slice(-2).join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout + stderr);
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url: string, exited: Promise<number | null>, timeoutMs: number, printed: () => string): Promise<void> {
  let exitCode: number | null | undefined;
  void exited.then((c) => (exitCode = c));
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`code-server exited (code ${exitCode}) before answering ${url}:\n${printed()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await delay(200);
  }
  throw new Error(`code-server did not answer ${url} within ${timeoutMs} ms (last: ${last}):\n${printed()}`);
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
