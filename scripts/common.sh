# Shared by scripts/run.sh and scripts/test.sh: make a fresh Debian 12 machine able to build Warden.
# Every step prints its duration.

step() {
  local name=$1; shift
  local t0=$(date +%s)
  echo "==> $name"
  local rc=0
  "$@" || rc=$?
  echo "<== $name: $(( $(date +%s) - t0 )) s (exit $rc)"
  return $rc
}

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian packages: a C compiler for the bundled SQLite, pkg-config, and for the desktop app
# WebKitGTK 4.1, GTK 3, the tray's appindicator, librsvg and xdo (Tauri 2's Linux needs).
# With "test", also what the end-to-end tests use: Xvfb, WebKitWebDriver and a D-Bus session bus.
install_debian_packages() {
  local want=(build-essential pkg-config ca-certificates curl file libssl-dev
    libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev)
  if [ "${1:-}" = "test" ]; then
    want+=(xvfb xauth webkit2gtk-driver dbus dbus-bin dbus-daemon fonts-dejavu-core)
  fi
  local missing=()
  for p in "${want[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo_if_needed apt-get update -q
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    echo "Debian packages already present"
  fi
}

# The web-view front end: npm packages (npm install, not npm ci: see ui/README.md), then the build
# that the desktop binary embeds (ui/dist must exist before any cargo build of src-tauri).
build_ui() {
  npm --prefix ui install --no-audit --no-fund --loglevel=error
  npm --prefix ui run build
}

# Rust 1.90 or newer. Debian 12's own rustc is too old, so rustup is used when cargo is missing.
install_rust() {
  if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  cargo --version
}
