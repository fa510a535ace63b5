#!/usr/bin/env bash
# Builds the operator's image with buildah (no Docker engine, no registry) and smoke-tests it:
#   - a static musl binary, `cargo build --release --target x86_64-unknown-linux-musl`
#     (in the normal target directory, so a second run only relinks what changed);
#   - the image from Containerfile, FROM scratch, tagged localhost/antfly-operator:<version>
#     (the crate version; ANTFLY_IMAGE overrides the name);
#   - checks: the configured user is 65532:65532, the root filesystem holds the binary and
#     nothing else and no path in it is writable by that user, the image is under 42 MB;
#   - runs, as 65532 inside the image: `--version`, `render`, `plugins list`, and `render`
#     with the compiled-plugin cache on a world-writable volume, as an emptyDir is;
#   - delivers a third-party plugin the way the Helm chart's image volume does: a plugin
#     image FROM scratch, mounted read-only under the plugin directory, next to the
#     plugins.json that `helm template` renders with its sha256 pin; `plugins list` inside
#     the operator's image must load it.
# buildah keeps its images in .cache/containers (vfs driver, chroot isolation: no daemon, no
# runc, no privileges beyond root's). Prints the image name as its last line.
#
# Usage: bash .ci/image.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repo_root="$PWD"

log() { printf 'image: %s\n' "$*" >&2; }
fail() {
  log "FAILED: $*"
  exit 1
}

target=x86_64-unknown-linux-musl
version="$(awk '/^\[workspace\.package\]/ { p = 1; next } /^\[/ { p = 0 }
  p && $1 == "version" { gsub(/"/, "", $3); print $3; exit }' Cargo.toml)"
[[ -n "$version" ]] || fail "cannot read the workspace version from Cargo.toml"
image="${ANTFLY_IMAGE:-localhost/antfly-operator}:$version"
plugin_image="localhost/antfly-plugin-template:$version"
# 40 MB was the aim until backups (two more controllers, the Antfly HTTP client, three
# destination plugins, the time-zone database) took the binary to 40.7 MB; fat LTO would win
# it back but its link alone ran past 25 minutes on CI's 2 cores.
max_bytes=$((42 * 1000 * 1000))
user=65532:65532

command -v buildah >/dev/null || fail "buildah is not installed; run bash .ci/setup"
rustup target list --installed | grep -qx "$target" || fail "the $target target is missing; run bash .ci/setup"

start=$SECONDS
log "building the operator for $target (release)"
cargo build --release --locked --target "$target" -p antfly-operator
binary="target/$target/release/antfly-operator"
# Static: no program interpreter, no shared libraries (scratch has neither).
if readelf -lW "$binary" | grep -q INTERP || readelf -dW "$binary" | grep -q NEEDED; then
  fail "$binary is not statically linked"
fi
log "binary built after $((SECONDS - start))s: $(stat -c %s "$binary") bytes"

storage="$repo_root/.cache/containers"
mkdir -p "$storage"
# Two runs (two worktrees sharing .cache) must not tag over each other's images mid-test.
exec 9>"$storage/.lock"
flock 9
bah() { buildah --root "$storage/storage" --runroot "$storage/run" --storage-driver vfs "$@"; }

revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
bah build --quiet --isolation chroot --layers=false -f Containerfile \
  --build-arg "VERSION=$version" --build-arg "REVISION=$revision" -t "$image" . >/dev/null
log "built $image"

containers=()
scratch_dirs=()
cleanup() {
  for c in "${containers[@]}"; do bah rm "$c" >/dev/null 2>&1 || true; done
  for d in "${scratch_dirs[@]}"; do rm -rf "$d"; done
}
trap cleanup EXIT

# The configured user.
configured_user="$(bah inspect --type image --format '{{.OCIv1.Config.User}}' "$image")"
[[ "$configured_user" == "$user" ]] || fail "the image runs as '$configured_user', not $user"

# The root filesystem: the binary and nothing else, none of it writable by the user.
ctr="$(bah from --quiet --pull=never "$image")"
containers+=("$ctr")
rootfs="$(bah mount "$ctr")"
entries="$(cd "$rootfs" && find . -mindepth 1 | sort | tr '\n' ' ')"
[[ "$entries" == "./antfly-operator " ]] || fail "the image holds more than the binary: $entries"
writable="$(cd "$rootfs" && find . \( -perm -o+w -o ! -uid 0 \) -print)"
[[ -z "$writable" ]] || fail "paths the user could write to: $writable"
# Size: the files, uncompressed, as a node stores them (the budget), and the compressed
# layer, as a registry stores it and a node pulls it.
size="$(du -sb --apparent-size "$rootfs" | cut -f1)"
bah umount "$ctr" >/dev/null
((size < max_bytes)) || fail "$image holds $size bytes, over the $max_bytes-byte budget"
archive_dir="$(mktemp -d)"
scratch_dirs+=("$archive_dir")
bah push --quiet "$image" "oci-archive:$archive_dir/image.tar"
compressed="$(stat -c %s "$archive_dir/image.tar")"
log "user $configured_user; size $size bytes uncompressed ($((size / 1000 / 1000)) MB), $compressed bytes as a compressed OCI archive ($((compressed / 1000 / 1000)) MB)"

run() { bah run --isolation chroot --user "$user" "$@"; }

version_text="$(run "$ctr" -- /antfly-operator --version)"
printf '%s\n' "$version_text" >&2
grep -qx "antfly-operator $version" <<<"$version_text" || fail "--version does not name $version"
grep -qx "git commit: $revision" <<<"$version_text" || fail "--version does not name the commit $revision"
grep -qx "plugin WIT: antfly:operator@[0-9.]*" <<<"$version_text" || fail "--version does not name the WIT"

rendered="$(run "$ctr" -- /antfly-operator render)"
for kind in ConfigMap Service StatefulSet; do
  grep -q "^kind: $kind$" <<<"$rendered" || fail "render printed no $kind"
done
log "render: $(grep -c '^kind:' <<<"$rendered") objects"

listed="$(run "$ctr" -- /antfly-operator plugins list)"
for plugin in eks gke istio linkerd consul; do
  grep -q "^$plugin " <<<"$listed" || fail "the embedded plugin $plugin is not listed: $listed"
done

# An emptyDir is world-writable (mode 0777): the cache goes in a subdirectory the operator
# creates with mode 0700, which is what the chart passes.
cache_volume="$(mktemp -d)"
scratch_dirs+=("$cache_volume")
chmod 0777 "$cache_volume"
run --volume "$cache_volume:/var/cache/antfly-operator" "$ctr" -- \
  /antfly-operator render --plugin-cache-dir /var/cache/antfly-operator/plugins >/dev/null
artifacts="$(find "$cache_volume/plugins" -name '*.cwasm' | wc -l)"
((artifacts >= 5)) || fail "the plugin cache holds $artifacts compiled plugins, expected the first-party ones"
[[ "$(stat -c %u "$cache_volume/plugins")" == 65532 ]] || fail "the cache is not owned by the user"
log "--version, render, plugins list and the plugin cache ($artifacts artifacts) work as $user"

# A third-party plugin delivered as an OCI image, as the chart's imageVolume delivery mounts it.
template_wasm="target/plugins-wasm/wasm32-wasip2/release/antfly_plugin_template.wasm"
[[ -f "$template_wasm" ]] || fail "$template_wasm is missing; the operator build makes it"
plugin_context="$(mktemp -d)"
scratch_dirs+=("$plugin_context")
cp "$template_wasm" "$plugin_context/acme-pools.wasm"
printf 'FROM scratch\nCOPY acme-pools.wasm /plugins/acme-pools.wasm\n' >"$plugin_context/Containerfile"
bah build --quiet --isolation chroot --layers=false -f "$plugin_context/Containerfile" \
  -t "$plugin_image" "$plugin_context" >/dev/null
plugin_ctr="$(bah from --quiet --pull=never "$plugin_image")"
containers+=("$plugin_ctr")
plugin_rootfs="$(bah mount "$plugin_ctr")"

helm="${ANTFLY_HELM:-$(bash .ci/helm.sh | tail -n 1)}"
pin="$(sha256sum "$template_wasm" | cut -d' ' -f1)"
values="$plugin_context/values.yaml"
cat >"$values" <<EOF
plugins:
  delivery: imageVolume
  sources:
    - name: acme
      image: $plugin_image
      path: /plugins
  manifest:
    - name: acme-pools
      world: scheduling-provider
      wit: antfly:operator@0.2.0
      file: acme/acme-pools.wasm
      version: 1.0.0
      sha256: "$pin"
EOF
# plugins.json exactly as the chart's ConfigMap carries it.
"$helm" template antfly-operator deploy/helm/antfly-operator -f "$values" \
  --show-only templates/plugins-configmap.yaml |
  awk '/^  plugins.json: \|$/ { on = 1; next } on { sub(/^    /, ""); print }' >"$plugin_context/plugins.json"
grep -q "\"sha256\": \"$pin\"" "$plugin_context/plugins.json" || fail "the rendered manifest lacks the pin"
plugin_dir=/var/lib/antfly-operator/plugins
listed="$(run --volume "$plugin_context/plugins.json:$plugin_dir/plugins.json:ro" \
  --volume "$plugin_rootfs/plugins:$plugin_dir/acme:ro" "$ctr" -- \
  /antfly-operator plugins list --plugin-dir "$plugin_dir")"
grep -q "^acme-pools .*$pin" <<<"$listed" ||
  fail "the delivered plugin is not loaded: $listed"
# A component that differs from its pin is refused, naming the plugin.
sed -i "s/$pin/$(printf '0%.0s' {1..64})/" "$plugin_context/plugins.json"
if refused="$(run --volume "$plugin_context/plugins.json:$plugin_dir/plugins.json:ro" \
  --volume "$plugin_rootfs/plugins:$plugin_dir/acme:ro" "$ctr" -- \
  /antfly-operator plugins list --plugin-dir "$plugin_dir" 2>&1)"; then
  fail "a plugin with a wrong pin was loaded: $refused"
fi
grep -q "acme-pools" <<<"$refused" || fail "the refusal does not name the plugin: $refused"
bah umount "$plugin_ctr" >/dev/null
log "the plugin image's component loads with its pin and is refused with a wrong one"

log "ok in $((SECONDS - start))s"
printf '%s\n' "$image"
