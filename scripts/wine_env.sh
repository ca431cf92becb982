#!/usr/bin/env bash
# Prepares the Wine 10 environment that runs the Windows test suite (tests/windows/) with the
# Windows deno.exe: a Debian trixie chroot (Debian bookworm's Wine 8 cannot run current deno.exe)
# with wine + wine64, a Wine prefix set to Windows 10, and deno.exe 2.9.6 from the npm package
# @deno/win32-x64. Idempotent: each finished step leaves a marker, so a second run only re-checks
# the bind mounts (a few seconds).
#
# Usage (as root): scripts/wine_env.sh [REPO_DIR]
#                  scripts/wine_env.sh --unmount   (undo every bind mount under WINE_ROOT)
#   REPO_DIR   the checkout to bind-mount into the chroot at the same path (default: this checkout)
# Never delete WINE_ROOT while it is mounted: /proc, /dev, /tmp and the checkout are bound in it.
# Environment:
#   WINE_ROOT  the chroot folder, outside the repository (default /opt/usm-wine)
#   DENO_VERSION  the Windows deno.exe version (default 2.9.6)
#
# Inside the chroot: WINEPREFIX=/root/.wine-usm, deno.exe at /opt/deno-win/deno.exe.
# scripts/wine_test.sh uses these; run this script first.
set -euo pipefail

WINE_ROOT="${WINE_ROOT:-/opt/usm-wine}"
DENO_VERSION="${DENO_VERSION:-2.9.6}"
unmount=false
if [[ "${1:-}" == "--unmount" ]]; then
  unmount=true
  shift
fi
REPO_DIR="$(cd "${1:-$(dirname "$0")/..}" && pwd -P)"
WINEPREFIX_IN=/root/.wine-usm
DENO_DIR_IN=/opt/deno-win
start=$(date +%s)

log() { printf 'wine_env: %s\n' "$*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
  log "run this as root: debootstrap, chroot and mount need it"
  exit 1
fi
case "$WINE_ROOT/" in
  "$REPO_DIR"/*)
    log "WINE_ROOT must be outside the repository: $WINE_ROOT is inside $REPO_DIR"
    exit 1
    ;;
esac

# The machine's configured Debian mirror (deb822 sources or a one-line sources.list).
debian_mirror() {
  local uri
  uri=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null |
    awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
  if [[ -z "$uri" ]]; then
    uri=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
  fi
  printf '%s' "${uri:-http://deb.debian.org/debian}"
}

if $unmount; then
  # Every mount under WINE_ROOT, deepest first (the checkout may sit under /tmp); lazily when a
  # process still holds one.
  mapfile -t points < <(awk -v root="$WINE_ROOT/" 'index($2, root) == 1 {print length($2), $2}' \
    /proc/self/mounts | sort -rn | cut -d" " -f2-)
  # A mount whose folder was deleted (a removed CI clone) cannot be named any more: it goes
  # with its parent's lazy unmount, which detaches the whole subtree.
  for point in "${points[@]}"; do
    umount "$point" 2>/dev/null || umount -l "$point" 2>/dev/null || true
  done
  log "unmounted ${#points[@]} bind mounts under $WINE_ROOT"
  exit 0
fi

# 1. debootstrap itself.
if ! command -v debootstrap >/dev/null; then
  log "installing debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

# 2. The trixie base system.
if [[ ! -f "$WINE_ROOT/.usm-base" ]]; then
  mirror=$(debian_mirror)
  log "debootstrap trixie into $WINE_ROOT from $mirror"
  mkdir -p "$WINE_ROOT"
  debootstrap --variant=minbase trixie "$WINE_ROOT" "$mirror" >"$WINE_ROOT.debootstrap.log" 2>&1 || {
    tail -n 20 "$WINE_ROOT.debootstrap.log" >&2
    exit 1
  }
  touch "$WINE_ROOT/.usm-base"
fi

# 3. Bind mounts: /proc, /dev, the repository at the same path, and /tmp (shared scratch files).
bind() {
  local src=$1 dst="$WINE_ROOT$1"
  mkdir -p "$dst"
  if ! mountpoint -q "$dst"; then
    mount --bind "$src" "$dst"
  fi
}
bind /proc
bind /dev
bind /tmp
# A checkout under /tmp (a CI clone) is already there through /tmp.
case "$REPO_DIR/" in
/tmp/*) ;;
*) bind "$REPO_DIR" ;;
esac
cp -f /etc/resolv.conf "$WINE_ROOT/etc/resolv.conf" 2>/dev/null || true

# 4. Wine 10 from trixie.
if [[ ! -f "$WINE_ROOT/.usm-wine" ]]; then
  log "installing wine and wine64 in the chroot"
  chroot "$WINE_ROOT" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  chroot "$WINE_ROOT" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends wine wine64 ca-certificates >/dev/null
  touch "$WINE_ROOT/.usm-wine"
fi

# 5. The Windows deno.exe, from npm (cached in the chroot).
if [[ ! -x "$WINE_ROOT$DENO_DIR_IN/deno.exe" ]] ||
  [[ "$(cat "$WINE_ROOT$DENO_DIR_IN/VERSION" 2>/dev/null)" != "$DENO_VERSION" ]]; then
  log "fetching @deno/win32-x64@$DENO_VERSION with npm pack"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "@deno/win32-x64@$DENO_VERSION" >/dev/null)
  tar -xzf "$tmp"/deno-win32-x64-*.tgz -C "$tmp"
  mkdir -p "$WINE_ROOT$DENO_DIR_IN"
  install -m 0755 "$(find "$tmp/package" -name deno.exe | head -n1)" "$WINE_ROOT$DENO_DIR_IN/deno.exe"
  printf '%s' "$DENO_VERSION" >"$WINE_ROOT$DENO_DIR_IN/VERSION"
  rm -rf "$tmp"
fi

# 6. The Wine prefix, Windows 10.
if [[ ! -f "$WINE_ROOT/.usm-prefix" ]]; then
  log "creating the Wine prefix $WINEPREFIX_IN (Windows 10)"
  chroot "$WINE_ROOT" /usr/bin/env WINEDEBUG=-all WINEPREFIX="$WINEPREFIX_IN" HOME=/root \
    bash -c 'wineboot -i >/dev/null 2>&1; wine reg add "HKCU\\Software\\Wine" /v Version /d win10 /f >/dev/null 2>&1; wineserver -w'
  touch "$WINE_ROOT/.usm-prefix"
fi

log "ready in $(($(date +%s) - start)) s: WINE_ROOT=$WINE_ROOT, repo $REPO_DIR, $(chroot "$WINE_ROOT" wine --version 2>/dev/null)"
