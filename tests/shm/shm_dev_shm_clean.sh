#!/bin/sh
# shm_dev_shm_clean.sh MPIRUN PROGRAM abort|kill
# Runs a 3-rank job that ends with MPI_Abort or a SIGKILLed rank and checks
# that it leaves no /dev/shm/rdmx-<job>-* behind. The job must fail (non-zero
# status) and must not hang.
mpirun=$1 prog=$2 mode=$3
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
timeout 90 "$mpirun" -n 3 "$prog" "$mode" >"$out" 2>&1
rc=$?
cat "$out"
if [ "$rc" -eq 0 ]; then
    echo "FAIL: job ending with $mode exited with status 0"
    exit 1
fi
if [ "$rc" -eq 124 ]; then
    echo "FAIL: job ending with $mode hung (killed by timeout)"
    exit 1
fi
job=$(sed -n 's/^RDMX_JOB_ID=//p' "$out" | head -n 1)
if [ -z "$job" ]; then
    echo "FAIL: the job did not print its id (did it start?)"
    exit 1
fi
left=$(ls /dev/shm 2>/dev/null | grep -F "rdmx-$job-")
if [ -n "$left" ]; then
    echo "FAIL: left in /dev/shm after $mode: $left"
    exit 1
fi
echo "PASS: $mode left nothing in /dev/shm (job $job, status $rc)"
