#!/usr/bin/env bash
# Installs Debian's nginx when it is missing (used by the nginx e2e test in test/ops/).
# Idempotent: does nothing when an nginx binary is already on PATH or in /usr/sbin.
# The package's own service is not started: the tests run nginx with their own config,
# prefix directory and pid file, and stop it by PID.
set -euo pipefail
. "$(dirname "$0")/lib/apt-install.sh"

if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  echo "nginx already installed: $( (command -v nginx || echo /usr/sbin/nginx) )"
  exit 0
fi
apt_install install-nginx nginx
[ -x /usr/sbin/nginx ] || { echo "install-nginx: apt-get finished but nginx is still missing" >&2; exit 1; }
echo "nginx installed: /usr/sbin/nginx ($(/usr/sbin/nginx -v 2>&1))"
