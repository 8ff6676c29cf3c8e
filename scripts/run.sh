#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs Warden's desktop app.
#
#   bash scripts/run.sh                                   # the app; on the demo workspace if no OpenAlgo is found
#   bash scripts/run.sh --logs-db /var/python/openalgo/db/logs.db --access-log /var/log/nginx/access.log
#   bash scripts/run.sh cli watch --logs-db ...           # the headless CLI instead (`warden ...`)
#
# Arguments are passed to `warden-desktop` (the CLI's global options), or after `cli` to `warden`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

step "Debian packages" install_debian_packages
step "Rust toolchain" install_rust
if [ "${1:-}" = "cli" ]; then
  shift
  step "build warden (release)" cargo build --release --locked --bin warden
  if [ $# -eq 0 ]; then set -- demo; fi
  exec target/release/warden "$@"
fi
step "UI: install and build" build_ui
# The CLI's release profile uses fat LTO for the replay hot loop; over Tauri's ~400 crates that
# costs minutes for nothing, so the app is built without it (as scripts/package-deb.sh does).
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
step "build warden-desktop (release)" cargo build --release --locked -p warden-desktop --features custom-protocol
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "error: no display (DISPLAY is unset); on a server use the CLI: bash scripts/run.sh cli watch --logs-db PATH" >&2
  exit 1
fi
exec target/release/warden-desktop "$@"
