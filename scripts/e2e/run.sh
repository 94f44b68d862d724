#!/usr/bin/env bash
# End-to-end tests of the packaged extension in a real VS Code (code-server + headless Chromium):
# installs the e2e tools if needed (scripts/e2e/install.sh, a no-op when up to date), repackages the VSIX
# when it is missing or older than its sources, then runs test/e2e/*.e2e.ts under the project's Node.
# Screenshots, logs and timings land in test-artifacts/e2e/.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$SECONDS

bash scripts/e2e/install.sh

# The platform VSIX of this machine (test/e2e/paths.ts computes the same path).
target="$(node -p 'process.platform + "-" + process.arch')"
vsix="dist-vsix/moe-workbench-$target.vsix"
sources=(src webview media scripts/build.mjs scripts/packageVsix.ts scripts/vsixTargets.ts package.json package-lock.json .vscodeignore README.md LICENSE)
existing=()
for s in "${sources[@]}"; do [[ -e "$s" ]] && existing+=("$s"); done
if [[ ! -f "$vsix" ]] || [[ -n "$(find "${existing[@]}" -newer "$vsix" -print -quit)" ]]; then
  echo "e2e: packaging $vsix (missing or older than its sources)"
  t=$SECONDS
  npm run package --silent -- --target "$target"
  echo "e2e: packaged in $((SECONDS - t)) s"
else
  echo "e2e: $vsix is up to date"
fi

rm -rf test-artifacts/e2e
status=0
node --import tsx --test --test-concurrency=1 test/e2e/*.e2e.ts || status=$?
echo "e2e: done in $((SECONDS - started)) s (artifacts in test-artifacts/e2e/)"
exit "$status"
