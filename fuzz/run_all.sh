#!/bin/sh
# Run every fuzz harness (fuzz/fuzz_<name>.py, seeds in fuzz/corpus/<name>/) for a few seconds (FUZZ_SECONDS, default 5) on a
# scratch copy of its seed corpus, so the checked-in corpus never changes.
# Exits non-zero as soon as one harness finds a crash (artifacts are kept in
# the scratch directory, whose path is printed).
set -eu
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
SECONDS_EACH="${FUZZ_SECONDS:-5}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/promptwire-fuzz.XXXXXX")"
status=0
for file in fuzz/fuzz_*.py; do
    harness="$(basename "$file" .py)"
    harness="${harness#fuzz_}"
    mkdir -p "$WORK/$harness" "fuzz/corpus/$harness"
    echo "== fuzz_$harness (${SECONDS_EACH}s)"
    if ! PYTHONPATH="fuzz${PYTHONPATH:+:$PYTHONPATH}" "$PY" "fuzz/fuzz_$harness.py" \
        "$WORK/$harness" "fuzz/corpus/$harness" \
        -max_total_time="$SECONDS_EACH" -artifact_prefix="$WORK/$harness-" \
        -rss_limit_mb=1024 -print_final_stats=0 >"$WORK/$harness.log" 2>&1; then
        tail -40 "$WORK/$harness.log"
        echo "fuzz_$harness FAILED; artifacts and log in $WORK"
        status=1
        break
    fi
    grep -E "Done [0-9]+ runs" "$WORK/$harness.log" || tail -2 "$WORK/$harness.log"
done
if [ "$status" -eq 0 ]; then
    rm -rf "$WORK"
fi
exit "$status"
