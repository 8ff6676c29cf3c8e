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
# With "test", also what the end-to-end tests use: Xvfb, WebKitWebDriver and a D-Bus session bus; and
# nginx and openssl, which the checklist's tests run (`nginx -T` of their own configurations, with a
# self-signed certificate) and the enforcement tests start; nftables and iproute2 for the kernel
# sink's tests, which run nft in a network namespace they create; prometheus for promtool, which
# checks the metrics Warden serves; crowdsec, whose Local API the CrowdSec tests start on their own
# (offline, on loopback: ../shared/notes/crowdsec-lapi.md). Its package would register with
# CrowdSec's online service at install unless /etc/crowdsec/online_api_credentials.yaml says
# "# no thanks" first (README.Debian), so that file is written before.
install_debian_packages() {
  local want=(build-essential pkg-config ca-certificates curl file libssl-dev
    libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev)
  if [ "${1:-}" = "test" ]; then
    want+=(xvfb xauth webkit2gtk-driver dbus dbus-bin dbus-daemon fonts-dejavu-core nginx openssl nftables iproute2 prometheus crowdsec)
    if ! dpkg -s crowdsec >/dev/null 2>&1 && [ ! -e /etc/crowdsec/online_api_credentials.yaml ]; then
      sudo_if_needed mkdir -p /etc/crowdsec
      echo '# no thanks' | sudo_if_needed tee /etc/crowdsec/online_api_credentials.yaml >/dev/null
    fi
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

# The web-view front end, which the desktop binary embeds (ui/dist must exist before any cargo build
# of src-tauri). Both halves are skipped when nothing changed, so a second run rebuilds nothing:
# - npm packages: `npm ci`, which installs exactly the committed package-lock.json and never rewrites
#   it, and only when node_modules is missing or older than the lock;
# - the build (tsc + vite into ui/dist): only when a hash of the front end's sources differs from the
#   one recorded after the last build. Rewriting ui/dist would make cargo embed it, and so rebuild
#   warden-desktop, again.
ui_source_hash() {
  (cd ui && find src index.html package.json package-lock.json tsconfig.json vite.config.ts -type f -print0 \
    | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

build_ui() {
  if [ ! -f ui/node_modules/.package-lock.json ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
    npm --prefix ui ci --no-audit --no-fund --loglevel=error
  else
    echo "npm packages up to date"
  fi
  local stamp=target/ui-build.sha256 want
  want=$(ui_source_hash)
  if [ -f ui/dist/index.html ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "ui/dist is up to date with the front end's sources"
    return
  fi
  npm --prefix ui run build
  mkdir -p target && echo "$want" > "$stamp"
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

# Starts tauri-driver on port 4444, its output into $1 (default /dev/null), and waits until it
# listens. Sets $driver to its process id.
start_tauri_driver() {
  local bin
  bin=$(command -v tauri-driver || echo "$HOME/.cargo/bin/tauri-driver")
  "$bin" --port 4444 >"${1:-/dev/null}" 2>&1 &
  driver=$!
  for _ in $(seq 1 100); do
    (exec 3<>/dev/tcp/127.0.0.1/4444) 2>/dev/null && break
    sleep 0.1
  done
}
