#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages the tests and the sandbox host need, when missing. Non-interactive;
# runs `apt-get update` once, and only if something is missing (a quick no-op otherwise). Needs root.
set -euo pipefail

# package → a file it installs (checked instead of asking dpkg, which is slow and misses manual installs)
declare -A needs=(
  [docker.io]=/usr/sbin/dockerd
  [docker-compose]=/usr/bin/docker-compose
  [ufw]=/usr/sbin/ufw
  [iptables]=/usr/sbin/iptables
  [nginx-light]=/usr/sbin/nginx
  [busybox-static]=/bin/busybox
  [prometheus]=/usr/bin/promtool
  [iproute2]=/usr/sbin/ip
  [util-linux]=/usr/bin/unshare
  [tini]=/usr/bin/tini
  [systemd]=/lib/systemd/systemd
  [build-essential]=/usr/bin/make
  [python3]=/usr/bin/python3
  [git]=/usr/bin/git
  [zsh]=/usr/bin/zsh             # the completion test runs the generated zsh script
  [chromium]=/usr/bin/chromium
)
optional=(sqlite3)

missing=()
for pkg in "${!needs[@]}"; do
  path=${needs[$pkg]}
  # busybox-static may also live in /usr/bin (merged /usr)
  [ -e "$path" ] || [ -e "/usr$path" ] || missing+=("$pkg")
done
# build-essential is a metapackage: make alone does not prove a compiler
command -v g++ >/dev/null 2>&1 || missing+=(build-essential)

if [ ${#missing[@]} -eq 0 ]; then
  echo "host-deps: all present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "host-deps: missing ${missing[*]}; run as root to install them" >&2
  exit 1
fi

mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "host-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
for pkg in "${optional[@]}"; do
  command -v "$pkg" >/dev/null 2>&1 && continue
  apt-get install -y -qq --no-install-recommends "$pkg" || echo "host-deps: optional $pkg not installed" >&2
done
