#!/bin/sh
# run_death.sh MODE NP PROGRAM MPIRUN [MPIRUN_ARGS...]
#
# Runs abort_death in MODE (abort | kill | exitcode) under MPIRUN with NP
# ranks and checks how the job ends:
#   abort, kill: non-zero exit status, within 5 s of the victim's MPI_Abort /
#                SIGKILL, with a launcher message that names the victim rank;
#   exitcode:    the job's exit status is the victim's 3;
#   all:         no survivor returned from a receive, and no process of the
#                job is left afterwards (pgrep -f on a unique marker).
# Exit 0 if all hold; otherwise prints what was expected and seen, exit 1.
set -u
mode=$1 np=$2 prog=$3 mpirun=$4
shift 4
victim=1
[ "$np" -le 1 ] && victim=0
marker="rdmxdeath-$mode-$$-$(date +%s%N)"
out=$(mktemp /tmp/rdmx-death.XXXXXX)
fail=0

say() { echo "run_death[$mode np=$np]: $*"; }

t0=$(date +%s.%N)
timeout -k 5 60 "$mpirun" -n "$np" "$@" "$prog" "$mode" "$victim" "$marker" >"$out" 2>&1
rc=$?
t1=$(date +%s.%N)

echo "----- job output -----"
cat "$out"
echo "----- end (exit status $rc) -----"

# 137 alone is ambiguous (a launcher may report its SIGKILLed rank as 128+9).
if [ "$rc" -eq 124 ] || [ "$(echo "$t1 - $t0 >= 59" | bc -l)" -eq 1 ]; then
    say "FAIL: the job did not end by itself within 60 s (timeout killed it)"
    fail=1
fi
case $mode in
abort|kill)
    if [ "$rc" -eq 0 ]; then
        say "FAIL: exit status 0, expected non-zero after rank $victim's $mode"
        fail=1
    fi
    ev=$(sed -n 's/^abort_death: rank [0-9]* .* at \([0-9.]*\)$/\1/p' "$out" | head -n 1)
    [ -n "$ev" ] || ev=$t0
    dt=$(echo "$t1 - $ev" | bc -l)
    if [ "$(echo "$dt >= 5" | bc -l)" -eq 1 ]; then
        say "FAIL: the job took $dt s to end after the $mode, expected < 5 s"
        fail=1
    else
        say "job ended $dt s after the $mode"
    fi
    # The launcher (not the program's own lines) must name the rank.
    if ! grep -v '^abort_death:' "$out" | grep -Eiq "rank[^0-9]{0,12}$victim([^0-9]|$)"; then
        say "FAIL: no message from the launcher/library names rank $victim"
        fail=1
    fi
    ;;
exitcode)
    if [ "$rc" -ne 3 ]; then
        say "FAIL: exit status $rc, expected 3 (rank $victim returned 3 after MPI_Finalize)"
        fail=1
    fi
    ;;
*)
    say "unknown mode"; exit 2 ;;
esac
if grep -q SURVIVOR "$out"; then
    say "FAIL: a rank returned from a receive from the dead rank"
    fail=1
fi
sleep 1
left=$(pgrep -f "$marker")
if [ -n "$left" ]; then
    say "FAIL: processes left after the job ended:"
    ps -o pid,ppid,stat,etime,args -p $(echo $left | tr ' ' ',')
    # Only the processes of this job (they carry our unique marker).
    for p in $left; do kill -9 "$p" 2>/dev/null; done
    fail=1
fi
rm -f "$out"
[ $fail -eq 0 ] && say "PASS"
exit $fail
