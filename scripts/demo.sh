#!/usr/bin/env bash
# `npm run demo`: tack's main job on the built-in islandflow example. As root on Debian/Ubuntu it installs what
# it needs (Debian packages, npm dependencies), starts a throw-away sandbox host (real systemd --user, dockerd,
# NPM's nginx, UFW; Cloudflare emulated), runs a real `tack daemon` through the Docker → native cutover, and tears
# everything down. Without root it shows the offline part: the pull request plan of the same cutover.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ]; then
  echo "installing npm dependencies (first run only)..."
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ "$(id -u)" != 0 ] || ! unshare --net --mount --fork true 2>/dev/null; then
  echo "not root (or no namespaces here): showing the offline demo — the pull request plan of the cutover."
  exec node scripts/tack-from-source.js demo
fi

bash scripts/host-deps.sh
exec node --import tsx sandbox/run-in-sandbox.ts -- node --import tsx demo/main.ts "$@"
