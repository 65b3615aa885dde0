#!/usr/bin/env bash
# Installs Debian's prometheus package when promtool is missing: `promtool check rules` validates
# deploy/prometheus-rules.yml and `promtool test rules` runs deploy/prometheus-rules.test.yml.
# Idempotent. The package's own prometheus service is not started (policy-rc.d 101 during install).
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then exit 0; fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-promtool: promtool is missing and apt-get is not available; install Prometheus's promtool yourself" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-promtool: need root (or sudo) to apt-get install prometheus" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
POLICY=/usr/sbin/policy-rc.d
CREATED_POLICY=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod +x "$POLICY"
  CREATED_POLICY=1
fi
cleanup() { if [ "$CREATED_POLICY" = 1 ]; then $SUDO rm -f "$POLICY"; fi; }
trap cleanup EXIT

echo "install-promtool: installing Debian prometheus (apt-get)" >&2
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
command -v promtool >/dev/null 2>&1 || { echo "install-promtool: apt-get finished but promtool is still missing" >&2; exit 1; }
echo "install-promtool: $(promtool --version 2>&1 | head -1)" >&2
