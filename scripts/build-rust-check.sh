#!/usr/bin/env bash
# Build one of the tests' Rust checkers offline, on Debian's packaged crates, and print its path.
#
#   bash scripts/build-rust-check.sh ron      # tests/ron_check: RON -> JSON on the real `ron` crate
#   bash scripts/build-rust-check.sh notify   # tests/notify_check: Bevy's file watcher on `notify`
#
# Needs cargo and Debian's librust-NAME-dev + librust-serde-json-dev (installed here when missing,
# which needs root and apt). Cargo uses /usr/share/cargo/registry as a directory source that
# replaces crates.io, with a CARGO_HOME of its own, so nothing is fetched from the network.
#
#   PIXELBUILD_CHECK_TARGET  build directory root (default /tmp; each checker has its own folder)
#
# stdout: the binary's path, and nothing else. Progress and errors go to stderr. A rebuild with
# nothing changed takes a fraction of a second.
set -euo pipefail

name="${1:?usage: build-rust-check.sh ron|notify}"
case "$name" in
    ron | notify) ;;
    *) echo "error: unknown checker '$name' (ron or notify)" >&2; exit 2 ;;
esac
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$here/tests/${name}_check"
target="${PIXELBUILD_CHECK_TARGET:-/tmp}/pixelbuild-$name-check"
registry=/usr/share/cargo/registry
packages=("librust-$name-dev" librust-serde-json-dev)

missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "installing ${missing[*]}" >&2
    if [[ $(id -u) -ne 0 ]]; then
        echo "error: ${missing[*]} missing and not root; install them with apt-get" >&2
        exit 3
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${missing[@]}" >&2 || {
        apt-get update -q >&2 && apt-get install -y -q "${missing[@]}" >&2
    }
fi

command -v cargo >/dev/null || { echo "error: cargo not found" >&2; exit 3; }

mkdir -p "$target/cargo-home"
cat >"$target/cargo-home/config.toml" <<CONFIG
[source.crates-io]
replace-with = "debian"

[source.debian]
directory = "$registry"

[net]
offline = true
CONFIG

# Build a copy under the build dir, so Cargo.lock (resolved against whatever versions Debian
# ships) never lands in the source tree.
mkdir -p "$target/crate/src"
cp -p "$src/Cargo.toml" "$target/crate/Cargo.toml"
cp -p "$src/src/main.rs" "$target/crate/src/main.rs"
CARGO_HOME="$target/cargo-home" cargo build --offline --quiet \
    --manifest-path "$target/crate/Cargo.toml" --target-dir "$target" >&2 \
    || { echo "error: cargo build failed" >&2; exit 4; }

binary="$target/debug/pixelbuild-$name-check"
[[ -x $binary ]] || { echo "error: $binary not built" >&2; exit 4; }
echo "$binary"
