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
  [age]=/usr/bin/age             # secrets tests encrypt with the age CLI (interop with age-encryption)
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

# Not Debian packages of this release (see extras below): where they land, and whether they are there.
TACK_LIB=/usr/local/lib/tack
COMPOSE_PLUGIN=$TACK_LIB/docker/cli-plugins/docker-compose
NSPAWN=$TACK_LIB/bin/systemd-nspawn
need_compose_v2() { ! docker compose version >/dev/null 2>&1 && [ ! -x "$COMPOSE_PLUGIN" ]; }
need_nspawn() { ! command -v systemd-nspawn >/dev/null 2>&1 && [ ! -x "$NSPAWN" ]; }

if [ ${#missing[@]} -eq 0 ] && ! need_compose_v2 && ! need_nspawn; then
  echo "host-deps: all present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  extras=$(need_compose_v2 && echo " compose-v2-plugin"; need_nspawn && echo " systemd-nspawn")
  echo "host-deps: missing ${missing[*]}${extras//$'\n'/}; run as root to install them" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "host-deps: installing ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
for pkg in "${optional[@]}"; do
  command -v "$pkg" >/dev/null 2>&1 && continue
  apt-get install -y -qq --no-install-recommends "$pkg" || echo "host-deps: optional $pkg not installed" >&2
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# apt's download sandbox user cannot write into a root-only temp dir; these are root's own files anyway.
aptq=(-qq -o APT::Sandbox::User=root)

# Compose v2 as a docker CLI plugin in tack's own DOCKER_CONFIG dir (the sandbox host points DOCKER_CONFIG
# there); a Compose the host has already is never replaced. Debian 12 ships only v1: the next release's
# docker-compose package (2.26, a Go binary needing only libc >= 2.34) is fetched from this machine's own
# Debian mirror through a private sources list, so the system's apt sources stay as they are.
if need_compose_v2; then
  . /etc/os-release
  declare -A next_suite=([bullseye]=bookworm [bookworm]=trixie)
  suite=${next_suite[${VERSION_CODENAME:-}]:-${VERSION_CODENAME:-}}
  mirror=$(apt-get indextargets --format '$(REPO_URI)' 'Created-By: Packages' 2>/dev/null | grep -m1 -E '/debian/?$' || true)
  mirror=${mirror:-http://deb.debian.org/debian/}
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" >"$work/next.list"
  private=(-o "Dir::Etc::sourcelist=$work/next.list" -o Dir::Etc::sourceparts=/dev/null
           -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache")
  echo "host-deps: fetching docker-compose (v2) from $mirror $suite"
  apt-get "${aptq[@]}" "${private[@]}" update
  (cd "$work" && apt-get "${aptq[@]}" "${private[@]}" download docker-compose)
  dpkg -x "$work"/docker-compose_*.deb "$work/compose"
  install -D -m 0755 "$work/compose/usr/libexec/docker/cli-plugins/docker-compose" "$COMPOSE_PLUGIN"
  DOCKER_CONFIG=$TACK_LIB/docker docker compose version
fi

# systemd-nspawn boots the sandbox's system-scope systemd. Installing systemd-container would upgrade the
# host's systemd and run its postinst on the host: only its files are extracted, and $NSPAWN runs them.
# It links libsystemd-shared (package libsystemd-shared) of its own version: the host's exact version is taken
# when the mirror still has it; otherwise the mirror's version with that version's libsystemd-shared beside it.
if need_nspawn; then
  version=$(dpkg-query -W -f '${Version}' systemd)
  dest=$TACK_LIB/systemd-container
  rm -rf "$dest" && mkdir -p "$dest" "$(dirname "$NSPAWN")"
  libdir=
  echo "host-deps: extracting systemd-container (not installed as a package)"
  if (cd "$work" && apt-get "${aptq[@]}" download "systemd-container=$version"); then
    dpkg -x "$work"/systemd-container_*.deb "$dest"
  else
    echo "host-deps: systemd-container $version is not on the mirror; using the mirror's, with its libsystemd-shared" >&2
    (cd "$work" && apt-get "${aptq[@]}" download systemd-container libsystemd-shared)
    dpkg -x "$work"/systemd-container_*.deb "$dest"
    dpkg -x "$work"/libsystemd-shared_*.deb "$work/systemd"
    shared=$(find "$work/systemd" -name 'libsystemd-shared-*.so' | head -1)
    libdir=$dest/lib
    install -D -m 0644 "$shared" "$libdir/$(basename "$shared")"
  fi
  printf '#!/bin/sh\n# systemd-nspawn extracted by scripts/host-deps.sh (never installed as a package)\n%sexec %s "$@"\n' \
    "${libdir:+LD_LIBRARY_PATH=$libdir }" "$dest/usr/bin/systemd-nspawn" >"$NSPAWN"
  chmod 0755 "$NSPAWN"
  "$NSPAWN" --version | head -1
fi
