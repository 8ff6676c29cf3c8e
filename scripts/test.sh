#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs every test Warden has. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

if [ ! -d ../shared/spec/fixtures ]; then
  echo "error: ../shared/spec/fixtures is missing: the tests read OpenAlgo's reference databases from there" >&2
  exit 1
fi

install_nextest() {
  if cargo nextest --version >/dev/null 2>&1; then cargo nextest --version; return; fi
  cargo install cargo-nextest --locked
}

install_tauri_driver() {
  if command -v tauri-driver >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/tauri-driver" ]; then echo "tauri-driver present"; return; fi
  # Pinned: crates.io also serves a 3.0 alpha.
  cargo install tauri-driver --version 2.1.0 --locked
}

install_cargo_deny() {
  if command -v cargo-deny >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/cargo-deny" ]; then echo "cargo-deny present"; return; fi
  cargo install cargo-deny --version 0.20.2 --locked
}

install_python_test_packages() {
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore selenium==4.51.0 pytest==9.2.0
}

export CARGO_PROFILE_DEV_DEBUG=${CARGO_PROFILE_DEV_DEBUG:-0}
step "Debian packages" install_debian_packages test
step "Rust toolchain" install_rust
step "cargo-nextest" install_nextest
step "tauri-driver" install_tauri_driver
step "cargo-deny" install_cargo_deny
step "Python test packages" install_python_test_packages
step "UI: install and build" build_ui
step "UI: unit tests" npm --prefix ui test
step "format check" cargo fmt --all --check
step "clippy (warnings are errors)" cargo clippy --locked --workspace --all-targets -- -D warnings
# Licenses and bans only: advisories need the RustSec database from GitHub, which is unreachable here.
step "licenses and banned crates (cargo deny)" cargo deny --locked check licenses bans
step "tests (engine, CLI, desktop shell on the mock runtime)" cargo nextest run --locked --workspace --no-fail-fast
step "doc tests" cargo test --locked --doc
step "docs build without warnings" env RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps --workspace
# Concurrent writer, rotation storm, 100 kill -9, 24 h of 50 M lines: about 8 minutes.
step "reliability harnesses" bash scripts/reliability.sh
step "desktop app: debug build" cargo build --locked -p warden-desktop
step "desktop app: end-to-end in WebKit under Xvfb" bash scripts/e2e.sh target/debug/warden-desktop
echo "all tests passed"
