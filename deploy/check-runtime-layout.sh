#!/usr/bin/env bash
# Without a Docker engine (none on the CI machines), checks what the Dockerfile's runtime stage
# relies on: the built dist/ and public/ run on production dependencies alone (npm ci --omit=dev),
# in production mode, and the image's HEALTHCHECK command passes. Run after `npm run build`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

cp "$root/package.json" "$root/package-lock.json" "$root/.npmrc" "$work/"
(cd "$work" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null 2>&1)
cp -r "$root/dist" "$root/public" "$work/"
[ -d "$work/node_modules/typescript" ] && { echo "check-runtime-layout: dev dependencies leaked into --omit=dev" >&2; exit 1; }

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
# The image runs what `npm run start:prod` runs; the check runs that command and fails if they part.
start=$(node -p "require('$root/package.json').scripts['start:prod']")
image=$(node -e "const l=require('fs').readFileSync('$root/deploy/Dockerfile','utf8').split('\n').reverse().find(l=>l.startsWith('CMD '));console.log(JSON.parse(l.slice(4)).join(' '))")
[ "$start" = "$image" ] || { echo "check-runtime-layout: Dockerfile CMD '$image' differs from start:prod '$start'" >&2; exit 1; }
(cd "$work" && NODE_ENV=production PORT="$port" HOST=127.0.0.1 JWT_SECRET="$(head -c 48 /dev/urandom | base64)" \
  LOG_LEVEL=warn exec $start >"$work/log" 2>&1) &
pid=$!
for _ in $(seq 1 50); do
  if PORT=$port node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; then
    curl -fsS "http://127.0.0.1:$port/" -o /dev/null
    echo "check-runtime-layout: production dependencies run the gateway; HEALTHCHECK passes"
    exit 0
  fi
  sleep 0.2
done
echo "check-runtime-layout: the gateway did not become healthy:" >&2
cat "$work/log" >&2
exit 1
