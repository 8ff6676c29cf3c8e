#!/usr/bin/env bash
# The reliability harnesses (tests/reliability/), at full size, against an optimised CLI build.
# Each prints its figures and exits non-zero when its claim does not hold. Called by
# scripts/test.sh; runs alone too: `bash scripts/reliability.sh [harness ...]`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
  harnesses=(concurrent_writer rotation_storm crash memory_24h)
fi

step "reliability: CLI build (profile harness)" cargo build --locked --profile harness --bin warden
for h in "${harnesses[@]}"; do
  step "reliability: $h" python3 "tests/reliability/$h.py"
done
