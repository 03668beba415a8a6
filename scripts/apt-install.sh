#!/usr/bin/env bash
# Install Debian packages the tests use, when missing: `bash scripts/apt-install.sh chromium ...`.
#
# Quiet when everything is there (dpkg -s); otherwise needs root and apt-get (tries the package
# lists as they are, then once more after `apt-get update`). Progress goes to stderr.
set -euo pipefail

missing=()
for package in "$@"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
((${#missing[@]})) || exit 0
echo "installing ${missing[*]} (apt)" >&2
if [[ $(id -u) -ne 0 ]]; then
    echo "error: ${missing[*]} missing and not root; install them with apt-get" >&2
    exit 3
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 || {
    apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}
