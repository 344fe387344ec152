#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, skipping the ones already present.
# Safe to run repeatedly: it touches apt only when something is missing.
set -euo pipefail

log() { printf '[install-system-deps] %s\n' "$*"; }
warn() { printf '[install-system-deps] WARNING: %s\n' "$*" >&2; }

# --- What the tests need: one check per need, then the packages that satisfy it. ---------------

# The throwaway PostgreSQL cluster (tests/fixtures/pgserver.py) runs initdb/pg_ctl from here.
have_postgresql() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; }

# The console's browser tests (tests/console) drive Debian's Chromium through playwright.
have_chromium() { command -v chromium >/dev/null; }

# Each entry: "<check function> <package> [<package>...]". Add new needs here.
NEEDS=(
  "have_postgresql postgresql"
  "have_chromium chromium"
)

# --- Machinery -----------------------------------------------------------------------------------

missing=()
for need in "${NEEDS[@]}"; do
  read -r check packages <<<"$need"
  if "$check"; then
    log "ok: ${check#have_} already installed"
  else
    log "missing: ${check#have_} -> will install: $packages"
    read -r -a pkgs <<<"$packages"
    missing+=("${pkgs[@]}")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  log "nothing to install"
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  warn "apt-get not found (not Debian?); install these yourself: ${missing[*]}"
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null; then
  as_root=(sudo)
else
  warn "not root and sudo is missing; cannot install: ${missing[*]} (tests needing them will skip)"
  exit 0
fi

run() {
  log "+ $*"
  "${as_root[@]}" "$@"
}

run apt-get update
run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
log "installed: ${missing[*]}"
