#!/usr/bin/env bash
# Puts Debian's Chromium at /usr/bin/chromium for the browser test of the HTML report.
# Debian's package, never a browser build a tool downloads (the machines reach no such host).
# Idempotent: does nothing when it is already there.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-chromium: /usr/bin/chromium is missing and only root can install it (apt-get install chromium)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends chromium
