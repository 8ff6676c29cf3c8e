#!/usr/bin/env bash
# The desktop app at rest against a blank Tauri window and the CLI monitor (bench/idle.py), under
# Xvfb with a private D-Bus session and tauri-driver, as the end-to-end tests run. Builds what it
# measures first: the app and the blank window in release without fat LTO (as scripts/run.sh builds
# the app), the CLI in release.
#
#   bash bench/idle.sh [idle.py options, e.g. --seconds 60]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--inner" ]; then
  . scripts/common.sh
  build_ui
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo build --release --locked -p warden-desktop --features custom-protocol --bin warden-desktop --example blank
  cargo build --release --locked --bin warden
  exec xvfb-run -a -s "-screen 0 1280x820x24 -nolisten tcp" dbus-run-session -- bash "$0" --inner "$@"
fi
shift
. scripts/common.sh
start_tauri_driver
trap 'kill $driver 2>/dev/null || true' EXIT
python3 bench/idle.py "$@"
