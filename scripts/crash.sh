#!/usr/bin/env bash
# Runs the crash test for many kill cycles: the real binary is killed with
# SIGKILL at random moments under concurrent redemptions and restarted,
# and the ledger invariants are checked against what clients were told.
#
#   scripts/crash.sh            # 50 cycles
#   scripts/crash.sh 500        # 500 cycles
#   CANASTA_CRASH_SEED=N scripts/crash.sh   # replay one schedule
set -euo pipefail
cd "$(dirname "$0")/.."
export CANASTA_CRASH_CYCLES=${1:-${CANASTA_CRASH_CYCLES:-50}}
args=()
if [[ -n "${CANASTA_CRASH_SEED:-}" ]]; then
	args+=(-crash.seed "$CANASTA_CRASH_SEED")
fi
exec go test ./cmd/canasta -run '^TestCrash$' -count=1 -v -timeout 0 "${args[@]+"${args[@]}"}"
