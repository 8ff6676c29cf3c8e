#!/usr/bin/env bash
# End-to-end tests of the real desktop app in the real WebKit webview: Xvfb for the display, a
# private D-Bus session with dbus-monitor recording every Notify call, tauri-driver in front of
# WebKitWebDriver, and pytest + selenium driving it. Screenshots go to target/e2e-shots/.
#
#   bash scripts/e2e.sh [path/to/warden-desktop [pytest args...]]   (default: target/debug/warden-desktop)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--inner" ]; then
  app=$(realpath "${1:-target/debug/warden-desktop}")
  [ -x "$app" ] || { echo "error: $app is not built; run cargo build -p warden-desktop" >&2; exit 1; }
  export WARDEN_APP=$app
  export WARDEN_SHOTS=${WARDEN_SHOTS:-$PWD/target/e2e-shots}
  shift || true
  exec xvfb-run -a -s "-screen 0 1280x820x24 -nolisten tcp" dbus-run-session -- bash "$0" --inner "$@"
fi
shift

export WARDEN_DBUS_LOG=$PWD/target/e2e-dbus.log
rm -f "$WARDEN_DBUS_LOG"
dbus-monitor --session "type='method_call',interface='org.freedesktop.Notifications'" >"$WARDEN_DBUS_LOG" 2>&1 &
monitor=$!
. scripts/common.sh
start_tauri_driver target/e2e-driver.log
trap 'kill $driver $monitor 2>/dev/null || true; pkill -f "$WARDEN_APP" 2>/dev/null || true' EXIT
# Extra arguments go to pytest, e.g. -k near.
python3 -m pytest -q -p no:cacheprovider tests/e2e "$@"
