#!/usr/bin/env bash
# model/check.sh [--long] - model-check the MPSC ring protocol (mpsc_ring.pml)
# with SPIN. Exits non-zero if any check fails.
#
#   safety    assertions + end states, 2 producers x 2 records, partial
#             writes, exhaustive (about 9 million states, ~15 s, ~0.5 GB)
#   liveness  no non-progress cycle under weak fairness (-DNP, pan -l -f),
#             2 producers x 1 record (2 records with --long: ~16 million
#             states, ~2 min, ~1.5 GB)
#   turn      the same with -DTURN (claim_waiting()'s turn in the tail word):
#             safety 2 x 2 (~20 million states, ~40 s), liveness 2 x 1
#   mutants   each BUG_* variant of the model must be caught: proof that the
#             checks above can fail, and by which property
#
# Needs spin and a C compiler (CC, default gcc). Prints states stored and
# matched and the depth reached for every run. See docs/reliability.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
model=$here/mpsc_ring.pml
cc=${CC:-gcc}
long=0
case "${1:-}" in
    --long) long=1 ;;
    "") ;;
    *) echo "usage: $0 [--long]" >&2; exit 2 ;;
esac

command -v spin >/dev/null || { echo "check.sh: spin not found" >&2; exit 2; }
command -v "$cc" >/dev/null || { echo "check.sh: $cc not found" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/logbuf-spin.XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0

# verify <name> <pass|fail> <spin defines> <pan compile flags> <pan run flags>
#   pass: the search must be complete (full state space, no depth or memory
#         truncation) and find no error.
#   fail: the search must report an error (a mutant that is caught).
verify() {
    local name=$1 expect=$2 defines=$3 ccflags=$4 runflags=$5
    local dir=$work/$name
    mkdir -p "$dir"
    cp "$model" "$dir/"
    local start=$SECONDS
    # shellcheck disable=SC2086 # the flag lists are word lists
    if ! (cd "$dir" && spin $defines -a mpsc_ring.pml >spin.log 2>&1); then
        echo "FAIL $name: spin -a failed"; cat "$dir/spin.log"; failures=$((failures + 1)); return
    fi
    # shellcheck disable=SC2086
    if ! (cd "$dir" && "$cc" -O2 -w $ccflags -DCOLLAPSE -DMEMLIM=4096 -o pan pan.c \
            >cc.log 2>&1); then
        echo "FAIL $name: compiling pan failed"; cat "$dir/cc.log"; failures=$((failures + 1)); return
    fi
    # shellcheck disable=SC2086
    (cd "$dir" && ./pan $runflags -m20000 >pan.log 2>&1) || true
    local log=$dir/pan.log
    local errors stored matched depth
    errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$log" | tail -1)
    stored=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$log" | tail -1)
    matched=$(sed -n 's/^ *\([0-9.e+]*\) states, matched.*/\1/p' "$log" | tail -1)
    depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' "$log" | tail -1)
    local took=$((SECONDS - start))
    local summary="states stored ${stored:-?}, matched ${matched:-?}, depth ${depth:-?}, ${took}s"
    if [[ -z "$errors" ]]; then
        echo "FAIL $name: pan did not finish ($summary)"; tail -20 "$log"
        failures=$((failures + 1)); return
    fi
    if [[ $expect == pass ]]; then
        if [[ $errors != 0 ]] || ! grep -q "Full statespace search" "$log" ||
            grep -qE "max search depth too small|out of memory|search not completed" "$log"; then
            echo "FAIL $name: $errors error(s) or incomplete search ($summary)"
            grep -E "violated|cycle|invalid end|too small|memory" "$log" | head -5
            (cd "$dir" && spin -t -p -l mpsc_ring.pml 2>/dev/null | tail -40) || true
            failures=$((failures + 1)); return
        fi
        echo "ok   $name: no errors, $summary"
    else
        if [[ $errors == 0 ]]; then
            echo "FAIL $name: the injected bug was NOT caught ($summary)"
            failures=$((failures + 1)); return
        fi
        local what
        what=$(grep -m1 -oE "assertion violated.*\(at|non-progress cycle|invalid end state" "$log" |
            sed 's/ (at$//')
        echo "ok   $name: caught ($what)"
    fi
}

safety_cc="-DSAFETY"
liveness_cc="-DNP"
liveness_run="-l -f"

echo "== the protocol (model/mpsc_ring.pml)"
verify safety pass "-DRECS=2 -DPARTIAL_WRITES" "$safety_cc" ""
if ((long)); then
    verify liveness pass "-DRECS=2 -DPARTIAL_WRITES" "$liveness_cc" "$liveness_run"
else
    verify liveness pass "-DRECS=1 -DPARTIAL_WRITES" "$liveness_cc" "$liveness_run"
fi

# The MPSC turn (claim_waiting()): 2 producers x 2 records, full writes
# (about 20 million states, ~40 s, ~0.9 GB; with partial writes in --long).
if ((long)); then
    verify safety-turn pass "-DTURN -DRECS=2 -DPARTIAL_WRITES" "$safety_cc" ""
else
    verify safety-turn pass "-DTURN -DRECS=2" "$safety_cc" ""
fi
verify liveness-turn pass "-DTURN -DRECS=1 -DPARTIAL_WRITES" "$liveness_cc" "$liveness_run"

echo "== injected bugs, each must be caught"
verify commit-before-payload fail "-DBUG_COMMIT_EARLY" "$safety_cc" ""
verify abort-keeps-payload fail "-DBUG_ABORT_NO_ZERO" "$safety_cc" ""
verify publish-before-zeroing fail "-DBUG_PUBLISH_EARLY" "$safety_cc" ""
verify skip-header-not-cleared fail "-DBUG_SKIP_NO_CLEAR" "$safety_cc" ""
verify plain-store-tail fail "-DBUG_PLAIN_TAIL" "$safety_cc" ""
verify turn-cas-ignores-bit fail "-DTURN -DRECS=2 -DBUG_TURN_IGNORED" "$safety_cc" ""
verify turn-padding-clears-bit fail "-DTURN -DRECS=2 -DBUG_TURN_PADDING_CLEARS" "$safety_cc" ""
# Livelocks: the safety run cannot see them; the liveness run must.
verify rust-wrap-livelock fail "-DRECS=1 -DBUG_RUST_WRAP" "$liveness_cc" "$liveness_run"
verify never-reload-head fail "-DRECS=1 -DBUG_STALE_HEAD" "$liveness_cc" "$liveness_run"
verify no-publish-when-empty fail "-DRECS=1 -DBUG_NO_PUBLISH_ON_EMPTY" "$liveness_cc" \
    "$liveness_run"

if ((failures)); then
    echo "model check: $failures FAILURE(S)"
    exit 1
fi
echo "model check: all passed"
