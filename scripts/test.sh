#!/usr/bin/env bash
# Install everything the tests need, then run lint and the whole test suite.
#
# - Python deps: the package with its [test,sdxl,bench] extras. ci/constraints.txt pins torch to the
#   CPU build (an unpinned torch would pull several GB of CUDA packages).
# - A real RON parser: tests/ron_check, built offline on Debian's `ron` crate (apt, as root).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python3 -m pip install --quiet --disable-pip-version-check -c ci/constraints.txt -e ".[test,sdxl,bench]"
bash scripts/build-ron-check.sh >/dev/null
python3 -m ruff check .
PIXELBUILD_REQUIRE_RON_CHECK=1 python3 -m pytest -q "$@"
