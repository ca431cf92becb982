#!/usr/bin/env bash
# Runs the Windows test suite (tests/windows/ and the Windows-gated tests in ffi/ and
# src/windows/) with the Windows deno.exe under Wine 10, in the chroot that scripts/wine_env.sh
# prepares (run that first; this script calls it, which is fast when it is already done).
# Prints Deno's summary; exits non-zero when a test fails. Ends every Wine process it started
# (wineserver -k on exit).
#
# Usage (as root): scripts/wine_test.sh [deno test arguments...]
#   default arguments: tests/windows/ ffi/ src/windows/
# Environment: WINE_ROOT (default /opt/usm-wine); USM_WINE_TIMEOUT (default 900 s for the run).
#
# The service tests install a development agent from tests/windows/test_build.ts (its test-only
# session controls exist only in that build); USM_DEV_INSTALL=test-machine lets that install go
# ahead although Wine reports every folder as its one user's (see src/windows/security/dev_install.ts).
set -euo pipefail

WINE_ROOT="${WINE_ROOT:-/opt/usm-wine}"
limit="${USM_WINE_TIMEOUT:-900}" # seconds for the whole deno.exe test run
REPO_DIR="$(cd "$(dirname "$0")/.." && pwd -P)"
bash "$REPO_DIR/scripts/wine_env.sh" "$REPO_DIR"
# Leave no bind mount behind (of this checkout above all: CI deletes its clone afterwards).
trap 'bash "$REPO_DIR/scripts/wine_env.sh" --unmount "$REPO_DIR" >/dev/null 2>&1 || true' EXIT

if [[ $# -eq 0 ]]; then
  set -- tests/windows/ ffi/ src/windows/
fi
args=""
for arg in "$@"; do args+=" $(printf '%q' "$arg")"; done

start=$(date +%s)
# tests/windows/msi_test.ts installs MSIs that only Linux tools can build (wixl, mingw-w64):
# build them now, into .dev/msi/ (the test says what is missing if this fails).
(cd "$REPO_DIR" && deno run -A scripts/msi_dev_build.ts) ||
  echo "wine_test: no MSIs for tests/windows/msi_test.ts (apt-get install -y wixl msitools gcc-mingw-w64-x86-64-win32)" >&2
# deno.exe under Wine trusts only its built-in roots: where this machine's TLS goes through a
# CA of its own (SSL_CERT_FILE), hand that bundle to deno.exe too (npm downloads fail otherwise).
ca_env=""
if [[ -r "${SSL_CERT_FILE:-}" ]]; then
  cp -f "$SSL_CERT_FILE" "$WINE_ROOT/etc/usm-host-ca.crt"
  ca_env="DENO_CERT=/etc/usm-host-ca.crt"
fi
log=$(mktemp /tmp/usm-wine-test.XXXXXX.log) # /tmp is bind-mounted into the chroot
set +e
chroot "$WINE_ROOT" /usr/bin/env -i \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  HOME=/root WINEDEBUG=-all WINEPREFIX=/root/.wine-usm NO_COLOR=1 $ca_env USM_DEV_INSTALL=test-machine \
  bash -c "
    cleanup() { wineserver -k 2>/dev/null; wineserver -w 2>/dev/null; }
    trap cleanup EXIT
    cd '$REPO_DIR'
    wineserver -p
    # Into a file, not a pipe: Wine's service processes inherit the output handles and would
    # keep a pipe open after deno.exe exits.
    timeout --kill-after=10 $limit wine /opt/deno-win/deno.exe test --allow-all $args >'$log' 2>&1 </dev/null
    status=\$?
    exit \$status
  "
rc=$?
grep -v '^Error: XDG_RUNTIME_DIR' "$log" || true
# Wine does not always pass deno.exe's exit code on: a run counts as passed only with Deno's
# "ok | N passed | 0 failed" summary.
if [[ $rc -eq 0 ]] && ! grep -qE '^(\x1b\[[0-9;]*m)*ok(\x1b\[[0-9;]*m)* \| [0-9]+ passed' "$log"; then
  rc=1
fi
rm -f "$log"
set -e
echo "wine_test: deno.exe test exited $rc after $(($(date +%s) - start)) s"
exit $rc
