#!/usr/bin/env bash
# Builds the JavaScript plugins of plugins/js/ into target/plugins-js/NAME.wasm with each
# plugin's pinned npm tool chain (componentize-js and jco). Idempotent and fast when nothing
# changed: npm installs only when a package-lock.json changed (node_modules is kept), and a
# component is rebuilt only when its sources, its lock, the WIT or this script changed.
#
# The install is `npm install --no-save`, which installs exactly the locked versions and never
# writes the lock, rather than `npm ci`: the registry reachable here lacks some other
# platforms' optional native packages (rolldown, jco-node-fs), which the lock therefore
# cannot list, and `npm ci` refuses such a lock.
set -euo pipefail
cd "$(dirname "$0")/.."

out_dir=target/plugins-js
# npm's download cache stays in the git-ignored .cache/, next to the other cached tools.
export npm_config_cache="${npm_config_cache:-$PWD/.cache/npm}"
mkdir -p "$out_dir" "$npm_config_cache"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "js-plugins: node and npm are needed to build plugins/js (Node.js 20 or later)" >&2
  exit 1
fi

# The sha256 of the listed files' names and contents.
hash_files() {
  LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1
}

for project in plugins/js/*/; do
  project=${project%/}
  [[ -f $project/package.json ]] || continue
  name=$(basename "$project")

  lock_hash=$(sha256sum "$project/package-lock.json" | cut -d' ' -f1)
  lock_stamp=$project/node_modules/.antfly-lock-sha256
  if [[ ! -f $lock_stamp || $(<"$lock_stamp") != "$lock_hash" ]]; then
    echo "js-plugins: $name: npm install (locked versions)"
    (cd "$project" && npm install --no-save --no-audit --no-fund --loglevel=error)
    echo "$lock_hash" >"$lock_stamp"
  fi

  inputs_hash=$({
    node --version
    {
      echo .ci/js-plugins.sh
      echo "$project/package-lock.json"
      echo "$project/build.mjs"
      find "$project/src" wit -type f
    } | hash_files
  } | sha256sum | cut -d' ' -f1)
  component=$out_dir/$name.wasm
  inputs_stamp=$component.inputs-sha256
  if [[ -f $component && -f $inputs_stamp && $(<"$inputs_stamp") == "$inputs_hash" ]]; then
    # Newer than its sources, for the tests' staleness check, which compares times.
    touch "$component"
    echo "js-plugins: $name: up to date ($component)"
    continue
  fi
  echo "js-plugins: $name: building $component"
  started=$SECONDS
  (cd "$project" && node build.mjs "$OLDPWD/$component")
  echo "$inputs_hash" >"$inputs_stamp"
  echo "js-plugins: $name: built in $((SECONDS - started)) s"
done
