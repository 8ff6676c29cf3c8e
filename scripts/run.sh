#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs Warden.
#
#   bash scripts/run.sh                      # the demo: a simulated OpenAlgo under attack
#   bash scripts/run.sh watch --logs-db /var/python/openalgo/db/logs.db
#
# Any arguments are passed to `warden`; with none, it starts `warden demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

step "Debian packages" install_debian_packages
step "Rust toolchain" install_rust
step "build warden (release)" cargo build --release --locked --bin warden
if [ $# -eq 0 ]; then set -- demo; fi
exec target/release/warden "$@"
