#!/usr/bin/env bash
# Runs each target for BUDGET seconds of fuzzing. When a run stops at a crash, the check it broke
# is recorded and added to SVCMIRROR_FUZZ_SKIP, and fuzzing resumes from the corpus for what is
# left of the budget. Usage: campaign.sh BUDGET target...
set -u
budget=$1; shift
cd "$(dirname "$0")"
LOGS=${LOGS:-/tmp/svcmirror-fuzz-logs}
declare -A names=(
  ["nothing foreign is touched"]=ForeignTouched
  ["the fake accepts everything planned"]=FakeRefused
  ["no live mirror is repurposed"]=MirrorRepurposed
  ["no steering key is copied"]=SteeringKeyCopied
  ["converges within the bound, then plans nothing"]=NoConvergence
  ["no orphan survives"]=Orphan
  ["an incremental reconcile equals a whole-link one"]=IncrementalDiffers
)
for target in "$@"; do
  skip=""
  left=$budget
  run=0
  while [ "$left" -gt 5 ]; do
    run=$((run+1))
    log=$LOGS/$target-run$run.log
    mkdir -p "$LOGS"
    start=$(date +%s)
    SVCMIRROR_FUZZ_SKIP=$skip cargo fuzz run -s none "$target" -- -max_total_time="$left" -timeout=10 >"$log" 2>&1
    rc=$?
    took=$(( $(date +%s) - start ))
    left=$(( left - took ))
    stats=$(grep -E "^#[0-9]+" "$log" | tail -n 1)
    echo "$target run$run skip=[$skip] rc=$rc took=${took}s :: $stats" >> $LOGS/summary.txt
    if [ $rc -eq 0 ]; then break; fi
    msg=$(grep -m1 -oE 'invariant "[^"]+"' "$log" | sed 's/invariant "\(.*\)"/\1/')
    echo "  finding: $(grep -m1 -E 'invariant|panicked at' -A1 "$log" | tr '\n' ' ' | cut -c1-400)" >> $LOGS/summary.txt
    echo "  artifact: $(grep -m1 -oE 'Test unit written to [^ ]+' "$log")" >> $LOGS/summary.txt
    check=${names[$msg]:-}
    if [ -z "$check" ]; then echo "  (not an invariant finding: stopping $target)" >> $LOGS/summary.txt; break; fi
    case ",$skip," in *",$check,"*) echo "  ($check found again although skipped: stopping $target)" >> $LOGS/summary.txt; break;; esac
    skip=${skip:+$skip,}$check
  done
done
echo "campaign done" >> $LOGS/summary.txt
