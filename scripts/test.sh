#!/usr/bin/env bash
# The whole test suite: starts the local AWS emulator (moto, installed into .venv on first use)
# for the integration tests, runs every test, and stops the emulator again.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/moto.sh)"
trap 'scripts/moto.sh stop' EXIT
cargo test --features failpoints "$@"
