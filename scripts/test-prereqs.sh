#!/usr/bin/env bash
# What `npm test` needs beyond node_modules, installed or started when missing (idempotent):
# Debian chromium for the browser tests, nginx for the API-gateway test, promtool (Debian
# prometheus) for the alert-rule checks, Redis on 127.0.0.1:6379.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/install-chromium.sh"
bash "$here/install-nginx.sh" >/dev/null
bash "$here/install-promtool.sh"
bash "$here/ensure-redis.sh"
