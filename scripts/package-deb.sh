#!/usr/bin/env bash
# Builds the desktop app in release mode and packages it as a .deb with the Tauri bundler.
# The bundler comes from npm (@tauri-apps/cli, a prebuilt native module) into target/, so it is not
# a dependency of the UI.
#
#   bash scripts/package-deb.sh        ->  target/release/bundle/deb/warden-desktop_0.1.0_amd64.deb
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

# The CLI's release profile uses fat LTO for the replay hot loop; over Tauri's ~400 crates that
# costs minutes for nothing, so the app is built without it.
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16

install_tauri_cli() {
  mkdir -p target/tauri-cli
  [ -x target/tauri-cli/node_modules/.bin/tauri ] || \
    npm --prefix target/tauri-cli install --no-audit --no-fund --loglevel=error @tauri-apps/cli@2.12.5
}

step "Debian packages" install_debian_packages
step "UI: install and build" build_ui
step "build warden-desktop (release)" cargo build --release --locked -p warden-desktop --features custom-protocol
step "Tauri CLI (npm)" install_tauri_cli
step "bundle the .deb" bash -c 'cd src-tauri && ../target/tauri-cli/node_modules/.bin/tauri bundle --bundles deb'
ls -l target/release/bundle/deb/*.deb
