#!/usr/bin/env bash
# Install everything the tests need, then lint, type-check and run the whole test suite.
#
# Needs: Python 3.11+; cargo plus apt-get as root (Debian/Ubuntu) for the Rust checkers; node and
# npm for the pixi.js check (pixi.js is installed once into ~/.cache/pixelbuild).
# - Python deps: the package with its [test,sdxl,bench,remote,ray,mcp] extras. ci/constraints.txt
#   pins torch to the CPU build (an unpinned torch would pull several GB of CUDA packages).
# - Debian packages the tests drive: chromium (the pages, through Playwright), nginx-light (a
#   WebDAV remote cache), iproute2 (`ip`: servers and the Ray head run in network namespaces),
#   tiled (tmxrasterizer and the tileset export read our .tsx).
# - A real RON parser (tests/ron_check, Debian's `ron` crate) and a replay of Bevy's file watcher
#   (tests/notify_check, Debian's `notify` crate), both built offline by cargo.
# Arguments go to pytest, e.g. `bash scripts/test.sh -m "not slow"` for the quick core tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n== %s\n' "$*" >&2; }

step "installing pixelbuild[test,sdxl,bench,remote,ray,mcp] (CPU torch)"
python3 -m pip install --quiet --disable-pip-version-check -c ci/constraints.txt -e ".[test,sdxl,bench,remote,ray,mcp]"
step "building the RON and file-watcher checkers (apt + offline cargo)"
bash scripts/build-rust-check.sh ron >/dev/null
bash scripts/build-rust-check.sh notify >/dev/null
step "Debian packages the tests drive (chromium, nginx-light, iproute2, tiled)"
bash scripts/apt-install.sh chromium nginx-light iproute2 tiled
step "ruff"
python3 -m ruff check .
step "mypy"
python3 -m mypy
step "pytest"
PIXELBUILD_REQUIRE_RON_CHECK=1 PIXELBUILD_REQUIRE_NOTIFY_CHECK=1 PIXELBUILD_REQUIRE_PIXI=1 \
PIXELBUILD_REQUIRE_TILED=1 PIXELBUILD_REQUIRE_BROWSER=1 \
    python3 -m pytest "$@"
