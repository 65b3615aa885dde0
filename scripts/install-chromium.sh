#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests when /usr/bin/chromium is missing.
# Idempotent and silent when it is already there. `npx playwright install` cannot download on
# the CI machines, so the tests drive this system browser through playwright-core.
set -euo pipefail
. "$(dirname "$0")/lib/apt-install.sh"

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then exit 0; fi
apt_install install-chromium chromium
[ -x "$CHROMIUM" ] || { echo "install-chromium: apt-get finished but $CHROMIUM is still missing (set CHROMIUM_PATH)" >&2; exit 1; }
echo "install-chromium: $("$CHROMIUM" --version 2>/dev/null || echo chromium installed)" >&2
