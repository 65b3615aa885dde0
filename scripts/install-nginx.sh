#!/usr/bin/env bash
# Installs Debian's nginx when it is missing (used by the nginx e2e test in test/ops/).
# Idempotent: does nothing when an nginx binary is already on PATH or in /usr/sbin.
# The package's own service is not started: the tests run nginx with their own config,
# prefix directory and pid file, and stop it by PID.
set -euo pipefail

if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  echo "nginx already installed: $( (command -v nginx || echo /usr/sbin/nginx) )"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-nginx: need root (or sudo) to apt-get install nginx" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# policy-rc.d 101: do not let the package start its own service during installation.
POLICY=/usr/sbin/policy-rc.d
CREATED_POLICY=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod +x "$POLICY"
  CREATED_POLICY=1
fi
cleanup() { if [ "$CREATED_POLICY" = 1 ]; then $SUDO rm -f "$POLICY"; fi; }
trap cleanup EXIT

$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends nginx >/dev/null
echo "nginx installed: $( (command -v nginx || echo /usr/sbin/nginx) ) ($(/usr/sbin/nginx -v 2>&1))"
