#!/bin/sh
# launcher_test.sh MPIRUN PMI_PROG — end-to-end checks of mpirun's job
# control through the real binary: exit status, failure messages that name
# the rank, killing of the other ranks within the deadline, no leftover
# processes, signal forwarding, stdio and environment handling.
MPIRUN=$1
PROG=$2
TMP=$(mktemp -d /tmp/rdmx-launcher-test.XXXXXX)
MARK="rdmxlt$$"
fails=0
trap 'rm -rf "$TMP"' EXIT

now_ms() { date +%s%3N; }

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
pass() { echo "ok: $*"; }

# run NAME EXPECT_RC -- mpirun args... ; sets $rc, $out, $err, $ms
run() {
    name=$1; shift
    t0=$(now_ms)
    timeout 30 "$MPIRUN" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
    rc=$?
    ms=$(( $(now_ms) - t0 ))
    out=$(cat "$TMP/out")
    err=$(cat "$TMP/err")
}

no_leftovers() {
    sleep 0.3
    if pgrep -f "$1" >/dev/null; then
        fail "$2: processes left behind: $(pgrep -af "$1" | head -3)"
        pgrep -f "$1" | xargs -r kill -KILL 2>/dev/null
    fi
}

expect_rc() { # what expected
    if [ "$rc" -eq "$2" ]; then pass "$1: exit status $rc"
    else fail "$1: expected exit status $2, got $rc; stderr: $err"; fi
}
expect_nonzero() {
    if [ "$rc" -ne 0 ]; then pass "$1: exit status $rc (non-zero)"
    else fail "$1: expected a non-zero exit status, got 0"; fi
}
expect_err() { # what pattern
    if printf '%s\n' "$err" | grep -q -- "$2"; then pass "$1: stderr has '$2'"
    else fail "$1: stderr lacks '$2'; it was: $err"; fi
}
expect_out() {
    if printf '%s\n' "$out" | grep -q -- "$2"; then pass "$1: stdout has '$2'"
    else fail "$1: stdout lacks '$2'; it was: $out"; fi
}
expect_fast() { # what limit_ms
    if [ "$ms" -lt "$2" ]; then pass "$1: ended in $ms ms"
    else fail "$1: took $ms ms (limit $2)"; fi
}

# 1. plain processes, exit status of the first failing rank
run exit3 -n 3 sh -c 'if [ $PMI_RANK = 2 ]; then exit 3; fi; exec sleep 60' "$MARK-a"
expect_rc "exit 3" 3
expect_err "exit 3" "rank 2 (pid [0-9]* on [^)]*) exited with status 3"
expect_fast "exit 3" 5000
no_leftovers "$MARK-a" "exit 3"

# 2. a rank killed by SIGKILL while the others sleep
run sigkill -n 4 sh -c 'if [ $PMI_RANK = 3 ]; then kill -9 $$; fi; exec sleep 60' "$MARK-b"
expect_nonzero "sigkill"
expect_err "sigkill" "rank 3 (pid [0-9]* on [^)]*) killed by signal 9 (Killed)"
expect_fast "sigkill" 5000
no_leftovers "$MARK-b" "sigkill"

# 3. PMI abort while the others wait in a fence
run abort -n 4 "$PROG" abort 1 7 "$MARK-c"
expect_rc "abort" 7
expect_err "abort" "rank 1 (pid [0-9]* on [^)]*) called MPI_Abort with error code 7: pmi_prog test abort"
expect_fast "abort" 5000
no_leftovers "$MARK-c" "abort"

# 4. abort after every other rank finalized and exited
run late-abort -n 3 "$PROG" late-abort "$MARK-d"
expect_rc "late abort" 9
expect_err "late abort" "rank 0 (pid [0-9]* on [^)]*) called MPI_Abort"
no_leftovers "$MARK-d" "late abort"

# 5. non-zero exit after finalize is the job's status, nothing is killed
run exit-after-fin -n 3 "$PROG" exit-after-fin 1 5
expect_rc "exit after finalize" 5
expect_err "exit after finalize" "rank 1 (pid [0-9]* on [^)]*) exited with status 5 after MPI_Finalize"

# 6. exit 0 without finalize while others wait
run no-finalize -n 3 "$PROG" no-finalize 2 "$MARK-e"
expect_nonzero "no finalize"
expect_err "no finalize" "rank 2 (pid [0-9]* on [^)]*) exited with status 0 without calling MPI_Finalize"
expect_fast "no finalize" 5000
no_leftovers "$MARK-e" "no finalize"

# 7. segfault
run segv -n 2 "$PROG" die 1 11 "$MARK-f"
expect_rc "segv" 139
expect_err "segv" "rank 1 (pid [0-9]* on [^)]*) killed by signal 11"
no_leftovers "$MARK-f" "segv"

# 8. PMI key exchange over PMI_FD and over authenticated PMI_PORT
run kvs -n 5 "$PROG" fence 3
expect_rc "kvs over PMI_FD" 0
[ "$(printf '%s\n' "$out" | grep -c 'rounds ok')" -eq 5 ] && pass "kvs: 5 ranks ok" || fail "kvs: output $out"
run kvs-port -n 3 --pmi-port "$PROG" kvs
expect_rc "kvs over PMI_PORT" 0
[ "$(printf '%s\n' "$out" | grep -c 'kvs ok')" -eq 3 ] && pass "kvs port: 3 ranks ok" || fail "kvs port: output $out"

# 8b. malformed PMI input from a real rank is answered, logged, survived
run garbage -n 2 "$PROG" garbage
expect_rc "malformed PMI lines" 0
expect_err "malformed PMI lines" "rank [01] sent a malformed PMI line (token without '=')"
expect_err "malformed PMI lines" "rank [01] sent a PMI line longer than 2048 bytes"
expect_err "malformed PMI lines" 'rank [01] sent an unknown PMI command "frobnicate"'
expect_err "malformed PMI lines" "embedded NUL byte"

# 8c. PMI_PORT refuses a rank that cannot prove the job secret
ZERO=0000000000000000000000000000000000000000000000000000000000000000
run badsecret -n 2 --pmi-port sh -c "RDMX_JOB_SECRET=$ZERO exec \"$PROG\" info"
expect_nonzero "PMI_PORT with a wrong secret"
expect_err "PMI_PORT with a wrong secret" "failed authentication (wrong job secret)"

# 9. SIGINT and SIGTERM to mpirun reach the ranks and end the job
for sig in INT TERM; do
    t0=$(now_ms)
    "$MPIRUN" -n 3 sh -c 'exec sleep 60' "$MARK-g$sig" >/dev/null 2>"$TMP/err" &
    pid=$!
    sleep 0.5
    kill -$sig $pid
    wait $pid
    rc=$?
    ms=$(( $(now_ms) - t0 ))
    err=$(cat "$TMP/err")
    expect_nonzero "SIG$sig forwarded"
    expect_err "SIG$sig forwarded" "received signal"
    expect_fast "SIG$sig forwarded" 4000
    no_leftovers "$MARK-g$sig" "SIG$sig forwarded"
done

# 10. mpirun killed with SIGKILL: ranks die with it (PR_SET_PDEATHSIG)
"$MPIRUN" -n 3 "$PROG" no-finalize 99 "$MARK-h" >/dev/null 2>&1 &
pid=$!
sleep 0.5
kill -KILL $pid
wait $pid 2>/dev/null
no_leftovers "$MARK-h" "mpirun SIGKILLed"
pass "mpirun SIGKILLed: checked for leftovers"

# 11. shm files of the job are removed at the end
run shm -n 2 sh -c 'touch /dev/shm/rdmx-$RDMX_JOB_ID-rank$PMI_RANK; echo $RDMX_JOB_ID'
jid=$(printf '%s\n' "$out" | head -1)
if [ -n "$jid" ] && ! ls /dev/shm | grep -q "rdmx-$jid-"; then pass "shm cleanup"
else fail "shm cleanup: job id '$jid', left: $(ls /dev/shm | grep rdmx-)"; fi
run shm-fail -n 2 sh -c 'touch /dev/shm/rdmx-$RDMX_JOB_ID-x; echo $RDMX_JOB_ID; kill -9 $$'
jid=$(printf '%s\n' "$out" | head -1)
if [ -n "$jid" ] && ! ls /dev/shm | grep -q "rdmx-$jid-"; then pass "shm cleanup after a failure"
else fail "shm cleanup after a failure: left $(ls /dev/shm | grep rdmx-)"; fi

# 12. environment: ids, secret, local rank, -x, -genv, -wdir
FOO_FROM_MPIRUN=copied; export FOO_FROM_MPIRUN
run env -n 2 -x FOO_FROM_MPIRUN -x BAR=set -genv BAZ given -wdir /tmp sh -c \
    'echo "r=$PMI_RANK s=$PMI_SIZE lr=$RDMX_LOCAL_RANK ls=$RDMX_LOCAL_SIZE foo=$FOO_FROM_MPIRUN bar=$BAR baz=$BAZ pwd=$(pwd) secretlen=${#RDMX_JOB_SECRET}"'
expect_rc "env" 0
expect_out "env" "r=1 s=2 lr=1 ls=2 foo=copied bar=set baz=given pwd=/tmp secretlen=64"
ids=$(timeout 10 "$MPIRUN" -n 3 sh -c 'echo $RDMX_JOB_ID' | sort -u | wc -l)
ids2=$(timeout 10 "$MPIRUN" -n 1 sh -c 'echo $RDMX_JOB_ID'; timeout 10 "$MPIRUN" -n 1 sh -c 'echo $RDMX_JOB_ID')
[ "$ids" -eq 1 ] && [ "$(printf '%s\n' "$ids2" | sort -u | wc -l)" -eq 2 ] && pass "job id shared by ranks, unique per job" || fail "job ids: $ids / $ids2"

# 13. stdin goes to rank 0 only
printf 'l1\nl2\nl3\n' | timeout 10 "$MPIRUN" -n 3 --tag-output sh -c 'wc -l' >"$TMP/out" 2>"$TMP/err"
out=$(cat "$TMP/out")
expect_out "stdin" "^\[0\] 3$"
expect_out "stdin" "^\[1\] 0$"
expect_out "stdin" "^\[2\] 0$"

# 14. --tag-output: complete lines only, never mixed
timeout 30 "$MPIRUN" -n 4 --tag-output sh -c \
    'i=0; while [ $i -lt 3000 ]; do echo "line-$i-abcdefghijklmnopqrstuvwxyz0123456789"; i=$((i+1)); done' >"$TMP/out"
bad=$(grep -cvE '^\[[0-3]\] line-[0-9]+-abcdefghijklmnopqrstuvwxyz0123456789$' "$TMP/out")
total=$(wc -l <"$TMP/out")
[ "$bad" -eq 0 ] && [ "$total" -eq 12000 ] && pass "tag-output: 12000 whole lines" || fail "tag-output: $bad malformed of $total lines"

# 15. options: help, version, errors
run help --help
expect_rc "--help" 0
for o in -n --tag-output --stdin -x -genv -wdir --timeout --pmi-port --verbose --version; do
    printf '%s\n' "$out" | grep -q -- "$o" || fail "--help does not document $o"
done
run version --version
expect_out "--version" "rdmx"
run unknown --no-such-option -n 2 true
expect_nonzero "unknown option"
expect_err "unknown option" 'unknown option "--no-such-option"'
run no-n true
expect_nonzero "missing -n"
expect_err "missing -n" "number of ranks"
run badexec -n 2 /nonexistent/program
expect_rc "missing program" 127
expect_err "missing program" "cannot execute /nonexistent/program"

# 16. --timeout ends a hung job
run timeout -n 2 --timeout 1 sh -c 'exec sleep 60' "$MARK-i"
expect_nonzero "--timeout"
expect_err "--timeout" "timed out"
expect_fast "--timeout" 4000
no_leftovers "$MARK-i" "--timeout"

# 17. mpiexec and rdmxrun are the same program
for alias in mpiexec rdmxrun; do
    a="$(dirname "$MPIRUN")/$alias"
    if [ -x "$a" ] && [ "$("$a" -n 2 echo x | wc -l)" -eq 2 ]; then pass "$alias works"
    else fail "$alias missing or broken"; fi
done

# 18. hostfiles and placement (all hosts local here)
printf '# test hosts\nlocalhost:2\n\nlocalhost slots=1\n' >"$TMP/hosts"
run hostfile -n 3 -f "$TMP/hosts" sh -c 'echo "$PMI_RANK $RDMX_LOCAL_RANK/$RDMX_LOCAL_SIZE"'
expect_rc "hostfile" 0
expect_out "hostfile" "^2 2/3$"
run hostfile-over -n 4 --hostfile "$TMP/hosts" true
expect_nonzero "hostfile oversubscription refused"
expect_err "hostfile oversubscription refused" "4 ranks requested but the hosts provide only 3 slots"
run hostfile-over-ok -n 4 --hostfile "$TMP/hosts" --oversubscribe true
expect_rc "--oversubscribe" 0
printf 'localhost\nlocalhost slots=two\n' >"$TMP/badhosts"
run hostfile-bad -n 1 --hostfile "$TMP/badhosts" true
expect_nonzero "bad hostfile"
expect_err "bad hostfile" "badhosts:2"
run missing-hostfile -n 1 --hostfile /nonexistent/hosts true
expect_nonzero "missing hostfile"
expect_err "missing hostfile" "cannot open hostfile /nonexistent/hosts"
run bind -n 1 --bind-to core --report-bindings sh -c 'echo "cpuset=$RDMX_CPUSET"; grep Cpus_allowed_list /proc/self/status'
expect_rc "--bind-to core" 0
expect_err "--bind-to core" "rank 0 on .*: bound to core L#0"
expect_out "--bind-to core" "cpuset=0$"
run nobind -n 1 --bind-to none sh -c 'echo "cpuset=[$RDMX_CPUSET]"'
expect_out "--bind-to none" "cpuset=\[\]"
run badbind -n 1 --bind-to board true
expect_nonzero "--bind-to board"
expect_err "--bind-to board" "expected core, l3cache, numa, socket or none"

# 19. remote hosts through rdmx-proxy (a fake launch agent runs the proxy
# here as if it were on host fakeA/fakeB)
AGENT="$(cd "$(dirname "$0")" && pwd)/fake_agent.sh"
FAKE_AGENT_PIDDIR="$TMP"; export FAKE_AGENT_PIDDIR
run proxy-kvs -n 5 --host fakeA:2,fakeB:2,localhost:1 --launch-agent "$AGENT" --tag-output "$PROG" info
expect_rc "proxy: job over 3 hosts" 0
expect_out "proxy: job over 3 hosts" "^\[3\] rank 3 size 5 local 1/2 protocol pmi1"
expect_out "proxy: job over 3 hosts" "^\[4\] rank 4 size 5 local 0/1 protocol pmi1"
run proxy-fence -n 4 --host fakeA:2,fakeB:2 --launch-agent "$AGENT" "$PROG" fence 3
expect_rc "proxy: fences" 0
run proxy-abort -n 4 --host fakeA:2,fakeB:2 --launch-agent "$AGENT" "$PROG" abort 3 6 "$MARK-j"
expect_rc "proxy: remote abort" 6
expect_err "proxy: remote abort" "rank 3 (pid [0-9]* on [^)]*) called MPI_Abort with error code 6"
expect_fast "proxy: remote abort" 5000
no_leftovers "$MARK-j" "proxy: remote abort"
run proxy-exit -n 4 --host fakeA:2,fakeB:2 --launch-agent "$AGENT" sh -c 'if [ $PMI_RANK = 2 ]; then exit 5; fi; exec sleep 60' "$MARK-k"
expect_rc "proxy: remote exit 5" 5
expect_err "proxy: remote exit 5" "rank 2 (pid [0-9]* on [^)]*) exited with status 5"
no_leftovers "$MARK-k" "proxy: remote exit 5"
RDMX_LAUNCH_AGENT="$AGENT" run proxy-env -n 2 --host fakeA,fakeB -x FOO=bar sh -c 'echo "foo=$FOO secret=${#RDMX_JOB_SECRET}"'
expect_out "RDMX_LAUNCH_AGENT and -x through a proxy" "foo=bar secret=64"
printf 'x\ny\n' | timeout 20 "$MPIRUN" -n 2 --host fakeA,localhost --launch-agent "$AGENT" --tag-output sh -c 'wc -l' >"$TMP/out" 2>&1
out=$(cat "$TMP/out")
expect_out "proxy: stdin to a remote rank 0" "^\[0\] 2$"
# a proxy that dies (ssh connection lost) ends the job; its ranks die too
"$MPIRUN" -n 4 --host fakeA:2,fakeB:2 --launch-agent "$AGENT" "$PROG" no-finalize 99 "$MARK-l" >/dev/null 2>"$TMP/err" &
pid=$!
sleep 1.5
[ -s "$TMP/fakeB" ] && kill -KILL "$(cat "$TMP/fakeB")"
wait $pid
rc=$?
err=$(cat "$TMP/err")
expect_nonzero "proxy lost"
expect_err "proxy lost" "lost rdmx-proxy on host fakeB"
no_leftovers "$MARK-l" "proxy lost"
unset FAKE_AGENT_PIDDIR

if [ $fails -ne 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all launcher checks passed"
