#!/bin/sh
# run-demo.sh BUILD_DIR [NP] — run every example under BUILD_DIR/bin/mpirun
# with NP ranks (default 4) and print a one-line-per-example summary.
# Exit status: 0 when every example passed, 1 otherwise.
# Environment: MPIRUN overrides the launcher (e.g. "mpirun.openmpi
# --allow-run-as-root --oversubscribe"), DEMO_TIMEOUT the per-example limit
# in seconds (default 60).
set -u
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
    [ $# -lt 1 ] && exit 2
    exit 0
fi
build=$1
np=${2:-4}
mpirun=${MPIRUN:-$build/bin/mpirun}
limit=${DEMO_TIMEOUT:-60}
exdir=$build/bin/examples
examples="hello send_recv_probe bcast_array scatter_values gather_values nonblocking_overlap"

if [ -z "${MPIRUN:-}" ] && [ ! -x "$mpirun" ]; then
    echo "run-demo: no launcher at $mpirun (build the tree first)" >&2
    exit 2
fi
log=$(mktemp -d "${TMPDIR:-/tmp}/rdmx-demo.XXXXXX")
trap 'rm -rf "$log"' EXIT INT TERM

pass=0
fail=0
summary=""
for ex in $examples; do
    if [ ! -x "$exdir/$ex" ]; then
        summary="$summary$(printf '  %-22s MISSING (%s not built)' "$ex" "$exdir/$ex")
"
        fail=$((fail + 1))
        continue
    fi
    start=$(date +%s.%N)
    # shellcheck disable=SC2086 # MPIRUN may carry options
    timeout "$limit" $mpirun -n "$np" "$exdir/$ex" >"$log/$ex.out" 2>&1
    rc=$?
    end=$(date +%s.%N)
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    echo "==== $ex (-n $np) ===="
    cat "$log/$ex.out"
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1))
        summary="$summary$(printf '  %-22s PASS  %6ss' "$ex" "$secs")
"
    else
        fail=$((fail + 1))
        why="exit $rc"
        [ $rc -eq 124 ] && why="timed out after ${limit}s"
        summary="$summary$(printf '  %-22s FAIL  %6ss  (%s)' "$ex" "$secs" "$why")
"
    fi
done

echo
echo "Summary: $pass passed, $fail failed ($np ranks, launcher: $mpirun)"
printf '%s' "$summary"
[ $fail -eq 0 ]
