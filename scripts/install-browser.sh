#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (Playwright drives it; it downloads no browser).
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-browser: need root and apt-get to install chromium" >&2; exit 1
fi
apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
