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

step "Debian packages" install_debian_packages
step "Rust toolchain" install_rust
step "cargo-nextest" install_nextest
step "format check" cargo fmt --all --check
step "clippy (warnings are errors)" cargo clippy --locked --all-targets -- -D warnings
step "tests" cargo nextest run --locked --workspace --no-fail-fast
step "doc tests" cargo test --locked --doc
step "docs build without warnings" env RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps
echo "all tests passed"
