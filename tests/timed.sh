#!/usr/bin/env bash
# tests/timed.sh NAME COMMAND...: runs COMMAND, then appends "NAME<TAB>seconds<TAB>exit status"
# to _build/test/stages.tsv, which the test run's time table includes (tests/notebook_runs.py).
name=$1
shift
start=$(date +%s.%N)
"$@"
status=$?
mkdir -p _build/test
awk -v name="$name" -v start="$start" -v end="$(date +%s.%N)" -v status="$status" \
    'BEGIN { printf "%s\t%.1f\t%s\n", name, end - start, status }' >> _build/test/stages.tsv
exit $status
