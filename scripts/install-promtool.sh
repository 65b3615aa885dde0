#!/usr/bin/env bash
# Installs Debian's prometheus package when promtool is missing: `promtool check rules` validates
# deploy/prometheus-rules.yml and `promtool test rules` runs deploy/prometheus-rules.test.yml.
# Idempotent. The package's own prometheus service is not started.
set -euo pipefail
. "$(dirname "$0")/lib/apt-install.sh"

if command -v promtool >/dev/null 2>&1; then exit 0; fi
apt_install install-promtool prometheus
command -v promtool >/dev/null 2>&1 || { echo "install-promtool: apt-get finished but promtool is still missing" >&2; exit 1; }
echo "install-promtool: $(promtool --version 2>&1 | head -1)" >&2
