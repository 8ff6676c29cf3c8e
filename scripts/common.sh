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

# Debian packages: a C compiler for the bundled SQLite, and pkg-config.
install_debian_packages() {
  local missing=()
  for p in build-essential pkg-config ca-certificates curl; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo_if_needed apt-get update -q
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    echo "Debian packages already present"
  fi
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
