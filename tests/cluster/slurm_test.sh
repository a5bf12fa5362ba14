#!/bin/sh
# slurm_test.sh MODE MPIRUN PMI_PROG TESTDIR [HELLO] — rdmx under a private
# Slurm of 3 nodes: fake hosts node1..node3 (fakehosts.sh: network
# namespaces on a bridge with their own hostnames), one slurmd inside each
# (slurm_env.sh), slurmctld and the client commands in this namespace (the
# "login node"). MODE:
#   pmi2    srun -N3 -n6 --mpi=pmi2: rdmx's PMI2 wire client (and PMI-1
#           through Slurm's plugin), an abort, and the real MPI test
#           programs of TESTDIR (tests/mp, tests/coll) and HELLO;
#   pmix    the same with srun --mpi=pmix (skipped when Slurm has no pmix
#           plugin or rdmx was built without libpmix);
#   mpirun  rdmx's mpirun inside an allocation (SLURM_JOB_ID set, no -f):
#           from salloc on the login node and from a batch script on node1;
#           it must run on the allocation's nodes and reach them through
#           srun (an ssh that only records its use is first in PATH);
#   fail    a rank SIGKILLed on a remote node, under srun --mpi=pmi2 and
#           under mpirun in an allocation, and a SIGKILLed rdmx-proxy
#           (srun step) under mpirun: the job ends within 5 s naming the
#           rank (and host), and nothing of it is left in any namespace.
# Every MPI program runs with RDMX_LOG=info; its "transports:" lines must
# show 6 ranks on 3 different hosts, 2 per host, shm within a host and tcp
# between hosts (and MPI_Get_processor_name agree, for HELLO).
# Exit 77 (skipped) without root, Slurm, munge or openssh-server.
MODE=$1
MPIRUN=$2
PROG=$3
TESTDIR=$4
HELLO=$5
HERE=$(cd "$(dirname "$0")" && pwd)
PROXY=$(dirname "$MPIRUN")/rdmx-proxy
case $MODE in pmi2|pmix|mpirun|fail) ;; *)
    echo "usage: $0 pmi2|pmix|mpirun|fail MPIRUN PMI_PROG TESTDIR [HELLO]" >&2; exit 2 ;;
esac
for b in munged slurmctld slurmd srun; do
    command -v $b >/dev/null || { echo "SKIP: $b not installed (tests/cluster/install-deps)"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
if [ "$MODE" = pmix ] && ! grep -q "RDMX_HAVE_PMIX 1" "$(dirname "$PROG")/../generated/rdmx_build_config.h" 2>/dev/null; then
    echo "SKIP: rdmx built without libpmix (apt-get install libpmix-dev)"; exit 77
fi

T0=$(date +%s%N)
D=$(mktemp -d /tmp/rdmx-slurm.XXXXXX)
FH=$D/hosts
S=$D/slurm
mkdir -p "$FH" "$S"
fails=0
cleanup() {
    sh "$HERE/slurm_env.sh" stop "$S"
    sh "$HERE/fakehosts.sh" stop "$FH"
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
# If this script is SIGKILLed (a ctest timeout), a detached guard tears
# the cluster down once it is gone (or a zombie).
setsid sh -c "while [ -r /proc/$$/stat ] && [ \"\$(cut -d' ' -f3 /proc/$$/stat)\" != Z ]; do sleep 1; done
    [ -d '$D' ] || exit 0
    sh '$HERE/slurm_env.sh' stop '$S'; sh '$HERE/fakehosts.sh' stop '$FH'; rm -rf '$D'" \
    </dev/null >/dev/null 2>&1 &
sh "$HERE/fakehosts.sh" start "$FH" 3 || { rc=$?; [ $rc -eq 77 ] && exit 77; echo "FAIL: fake hosts"; exit 1; }
sh "$HERE/slurm_env.sh" start "$S" "$FH" || { rc=$?; [ $rc -eq 77 ] && exit 77; echo "FAIL: could not start slurm"; exit 1; }
SLURM_CONF="$S/slurm.conf"; export SLURM_CONF
unset RDMX_TRANSPORTS RDMX_LOG RDMX_LAUNCH_AGENT SLURM_JOB_ID SLURM_JOB_NODELIST
echo "cluster up after $((($(date +%s%N) - T0) / 1000000)) ms"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() { # what expected_count pattern output
    n=$(printf '%s\n' "$4" | grep -c -- "$3")
    if [ "$n" -eq "$2" ]; then echo "ok: $1"
    else fail "$1: expected $2 lines matching '$3', output: $4"; fi
}
# spread WHAT NP OUTPUT: from the RDMX_LOG=info "transports:" lines, NP
# ranks on 3 hosts (NP/3 each), shm to the ranks of the same host, tcp to
# all others; "hello: rank R of N on HOST" lines must name the same host.
spread() {
    r=$(printf '%s\n' "$3" | awk -v np="$2" '
    function ranges(set, n,   s, p, a) {
        s = ""; a = -1
        for (p = 0; p <= n; p++) {
            if (p < n && (p in set)) { if (a < 0) a = p; continue }
            if (a >= 0) { s = s (s == "" ? "" : ",") (a == p - 1 ? a : a "-" (p - 1)); a = -1 }
        }
        return s
    }
    /^\[rdmx:info rank [0-9]+@[^]]*\] transports:/ {
        split($3, a, "@"); r = a[1]; h = a[2]; sub(/\]$/, "", h)
        host[r] = h; line[r] = $0; seen++
    }
    /^hello: rank [0-9]+ of [0-9]+ on / { pn[$3] = $7 }
    END {
        bad = ""
        if (seen != np) bad = bad " " seen " transports lines, expected " np ";"
        for (r in host) nh[host[r]]++
        for (h in nh) { hosts++; if (nh[h] != np / 3) bad = bad " " nh[h] " ranks on " h ";" }
        if (hosts != 3) bad = bad " " hosts " hosts, expected 3;"
        for (r = 0; r < np && bad == ""; r++) {
            delete shm; delete tcp
            for (p = 0; p < np; p++) if (p != r) { if (host[p] == host[r]) shm[p] = 1; else tcp[p] = 1 }
            want = "ranks " ranges(tcp, np) " via tcp;"
            if (index(line[r], want) == 0) bad = bad " rank " r ": no \"" want "\";"
            want = "ranks " ranges(shm, np) " via shm;"
            if (index(line[r], want) == 0) bad = bad " rank " r ": no \"" want "\";"
            if ((r in pn) && pn[r] != host[r]) bad = bad " rank " r ": processor name " pn[r] " on " host[r] ";"
        }
        if (bad != "") { print bad; exit 1 }
        for (h in nh) printf "%s ", h
    }')
    if [ $? -eq 0 ]; then echo "ok: $1: ranks on $r; shm within, tcp between hosts"
    else fail "$1: placement/transports:$r; output: $(printf '%s\n' "$3" | grep -v 'not used\|listening' | tail -30)"; fi
}
PROGRAMS="p2p_pairs --max-size 64K --iters 1|ordering|probe|coll_check -q -n 0,1,1000"
# each_program CMD...: run every test program as "CMD PROGRAM ARGS" with
# RDMX_LOG=info, check exit status and spread.
each_program() {
    cmd="$*"
    IFS='|'
    set -- $PROGRAMS
    unset IFS
    for c in "$@"; do
        set -- $c
        [ -x "$TESTDIR/$1" ] || { echo "skip: $TESTDIR/$1 not built"; continue; }
        p=$1; shift
        t=$(now_ms)
        out=$(RDMX_LOG=info timeout 120 $cmd "$TESTDIR/$p" "$@" 2>&1)
        rc=$?
        if [ $rc -eq 0 ]; then echo "ok: $p: $cmd ($(($(now_ms) - t)) ms)"
        else fail "$p: $cmd: exit $rc: $(printf '%s\n' "$out" | grep -v 'not used\|listening' | tail -20)"; fi
        spread "$p" 6 "$out"
    done
}

# ---- (b), (c): srun --mpi=pmi2|pmix, 6 ranks on 3 nodes -------------------
if [ "$MODE" = pmi2 ] || [ "$MODE" = pmix ]; then
    m=$MODE
    if ! srun --mpi=list 2>&1 | grep -q "$m"; then
        echo "SKIP: this Slurm has no $m plugin"; exit 77
    fi
    SRUN="srun -I10 -N3 -n6 --mpi=$m"
    out=$(timeout 60 $SRUN -l "$PROG" info 2>&1)
    check "$m init on 3 nodes" 6 "size 6 local [01]/2 protocol $m" "$out"
    out=$(timeout 60 $SRUN "$PROG" fence 3 2>&1)
    check "$m put/fence/get across nodes" 6 "3 rounds ok" "$out"
    if [ $m = pmi2 ]; then
        out=$(RDMX_PMI=pmi1 PMI_PROG_VALLEN=800 timeout 60 $SRUN "$PROG" kvs 2>&1)
        check "pmi1 wire through slurm's pmi2 plugin" 6 "kvs ok" "$out"
    else
        out=$(PMI_PROG_VALLEN=800 timeout 60 $SRUN "$PROG" kvs 2>&1)
        check "pmix kvs (missing key -> not found)" 6 "kvs ok" "$out"
    fi
    out=$(timeout 60 $SRUN "$PROG" abort 3 3 2>&1)
    rc=$?
    [ $rc -ne 0 ] && echo "ok: $m abort on node2 ends the step (srun exit $rc)" || fail "$m abort: srun exit 0: $out"
    if [ -n "$HELLO" ]; then
        out=$(RDMX_LOG=info timeout 60 $SRUN "$HELLO" 2>&1)
        rc=$?
        [ $rc -eq 0 ] && echo "ok: hello under $SRUN" || fail "hello: exit $rc: $out"
        spread "hello" 6 "$out"
    fi
    # PMIx changes only the bootstrap: under it the lighter programs
    # suffice (the label stays within its time budget).
    [ $m = pmix ] && PROGRAMS="ordering|coll_check -q -n 0,1,1000"
    each_program $SRUN
fi

# ---- (d): mpirun inside an allocation -------------------------------------
if [ "$MODE" = mpirun ] || [ "$MODE" = fail ]; then
    # An ssh that records that it was used: mpirun must launch through srun.
    mkdir -p "$D/bin"
    printf '#!/bin/sh\necho "ssh $*" >>%s\nexit 255\n' "$D/ssh.log" >"$D/bin/ssh"
    chmod +x "$D/bin/ssh"
    PATH=$D/bin:$PATH; export PATH
    no_ssh() {
        if [ -s "$D/ssh.log" ]; then fail "$1: ssh was used: $(cat "$D/ssh.log")"; : >"$D/ssh.log"
        else echo "ok: $1: no ssh"; fi
    }
fi
if [ "$MODE" = mpirun ]; then
    # From the login node: all 3 nodes are remote, one srun step each.
    if [ -n "$HELLO" ]; then
        out=$(RDMX_LOG=info timeout 60 salloc -Q -I10 -N3 -n6 "$MPIRUN" -v -n 6 "$HELLO" 2>&1)
        rc=$?
        [ $rc -eq 0 ] && echo "ok: salloc -N3 -n6 mpirun -n 6 hello" || fail "salloc mpirun hello: exit $rc: $out"
        check "salloc: one srun step per node" 3 "host node[1-3]: started \"srun .* --nodelist node[1-3] $PROXY\"" "$out"
        spread "salloc mpirun hello" 6 "$out"
        no_ssh "salloc mpirun"
    fi
    # p2p_pairs' data path is the same as under srun (pmi2 mode): here the
    # launch matters.
    PROGRAMS="ordering|probe|coll_check -q -n 0,1,1000"
    each_program salloc -Q -I10 -N3 -n6 "$MPIRUN" -n 6
    no_ssh "salloc mpirun programs"
    # Slots come from the allocation's tasks per node.
    out=$(timeout 60 salloc -Q -I10 -N3 -n6 "$MPIRUN" -n 7 true 2>&1)
    check "more ranks than the allocation's tasks refused" 1 "7 ranks requested but the hosts provide only 6 slots" "$out"
    out=$(timeout 60 salloc -Q -I10 -N3 -n6 "$MPIRUN" -n 6 --map-by node --tag-output sh -c 'echo "$PMI_RANK $(hostname)"' 2>&1)
    check "--map-by node over the allocation: rank 1" 1 "^\[1\] 1 node2$" "$out"
    check "--map-by node over the allocation: rank 5" 1 "^\[5\] 5 node3$" "$out"

    # From a one-task step on node1 (SLURM_TASKS_PER_NODE=1 there): the
    # slots are the job's CPUs per node, node2 and node3 nested steps.
    out=$(timeout 60 salloc -Q -I10 -N3 -n6 srun -N1 -n1 -w node1 "$MPIRUN" -n 6 --tag-output sh -c 'echo "$PMI_RANK $(hostname)"' 2>&1)
    check "mpirun inside a step: 6 ranks, 2 on each node" 6 "^\[\([01]\] [01] node1\|[23]\] [23] node2\|[45]\] [45] node3\)$" "$out"

    # From a batch script: it runs on node1, where mpirun starts its own
    # ranks and reaches node2 and node3 through srun. Submitted with
    # --export=NONE (srun then exports nothing by default): the script's
    # own variables must still reach the ranks on every node.
    cat >"$D/job.sh" <<JOB
#!/bin/sh
PATH=$D/bin:\$PATH; export PATH
MYVAR=fromscript; export MYVAR
echo "batch on \$(hostname) job \$SLURM_JOB_ID tasks per node \$SLURM_TASKS_PER_NODE"
"$MPIRUN" -n 6 sh -c 'echo "rank \$PMI_RANK MYVAR=\$MYVAR"'
run() { # name command...
    n=\$1; shift
    RDMX_LOG=info "\$@" >"$D/job.\$n.out" 2>&1
    echo "\$n exit \$?"
}
# As in the README's example batch script.
run srun_hello srun --mpi=pmi2 "$HELLO"
run hello "$MPIRUN" -v -n "\$SLURM_NTASKS" "$HELLO"
run coll_check "$MPIRUN" -n 6 "$TESTDIR/coll_check" -q -n 0,1,1000
echo "batch done"
JOB
    t=$(now_ms)
    id=$(sbatch --parsable --export=NONE -N3 -n6 -o "$D/job.out" "$D/job.sh")
    # sbatch --wait polls every few seconds; poll the queue faster.
    i=0
    while [ -n "$(squeue -h -j "$id" 2>/dev/null)" ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i + 1)); done
    [ $i -ge 900 ] && { fail "batch job $id did not end within 90 s"; scancel "$id"; }
    out=$(cat "$D/job.out")
    echo "batch job $id: $(($(now_ms) - t)) ms"
    check "batch script on node1" 1 "^batch on node1 job $id tasks per node 2(x3)$" "$out"
    check "batch --export=NONE: the script's variables reach all ranks" 6 "^rank [0-5] MYVAR=fromscript$" "$out"
    check "batch: srun --mpi=pmi2 hello" 1 "^srun_hello exit 0$" "$out"
    # (--export=NONE: this srun passes no RDMX_LOG, so no transport lines)
    check "batch: srun --mpi=pmi2 hello on 3 nodes" 6 "^hello: rank \([01] of 6 on node1\|[23] of 6 on node2\|[45] of 6 on node3\)$" "$(cat "$D/job.srun_hello.out")"
    for p in hello coll_check; do
        check "batch: mpirun $p" 1 "^$p exit 0$" "$out"
        spread "batch: mpirun $p" 6 "$(cat "$D/job.$p.out")"
    done
    hout=$(cat "$D/job.hello.out")
    check "batch: node2, node3 through srun" 2 "host node[23]: started \"srun .* --nodelist node[23] $PROXY\"" "$hout"
    check "batch: node1's ranks started by mpirun itself" 2 "started rank [01] as pid" "$hout"
    no_ssh "batch mpirun"
fi

# ---- failure: a rank SIGKILLed on a remote node ----------------------------
# ended_within WHAT OUTPUT END_MS: abort_death printed "killing itself
# (SIGKILL) at SECONDS"; the job must have ended within 5 s of it.
ended_within() {
    k=$(printf '%s\n' "$2" | sed -n 's/.*killing itself (SIGKILL) at \([0-9.]*\).*/\1/p' | head -1)
    if [ -z "$k" ]; then fail "$1: the victim never reported its SIGKILL: $2"; return; fi
    dt=$(awk -v e="$3" -v k="$k" 'BEGIN { printf "%d", e - k * 1000 }')
    if [ "$dt" -lt 5000 ]; then echo "ok: $1: job ended $dt ms after the SIGKILL"
    else fail "$1: job ended $dt ms after the SIGKILL"; fi
}
# live PATTERN: pids matching PATTERN, zombies excepted (PID 1 reaps late).
live() {
    for p in $(pgrep -f "$1"); do
        [ "$(cut -d' ' -f3 "/proc/$p/stat" 2>/dev/null)" = Z ] || echo "$p"
    done
}
leftovers() { # WHAT MARK: nothing of the job in any namespace
    i=0
    while [ $i -lt 30 ] && [ -n "$(live "$2|$PROXY")" ]; do sleep 0.1; i=$((i + 1)); done
    left=$(live "$2|$PROXY")
    if [ -n "$left" ]; then
        fail "$1: processes left: $(ps -o pid,args -p "$(echo $left | tr ' ' ,)")"
        kill -KILL $left 2>/dev/null
    else echo "ok: $1: no processes left in any namespace"; fi
    steps=$(squeue -h -s 2>/dev/null)
    [ -z "$steps" ] || fail "$1: steps left: $steps"
}
if [ "$MODE" = fail ]; then
    [ -x "$TESTDIR/abort_death" ] || { echo "SKIP: abort_death not built"; exit 77; }
    # Rank 4 runs on node3, a remote node for srun and for node1.
    mark="slurmdeath$$a"
    out=$(timeout 60 srun -I10 -N3 -n6 --mpi=pmi2 "$TESTDIR/abort_death" kill 4 "$mark" 2>&1)
    rc=$?
    end=$(now_ms)
    [ $rc -ne 0 ] && echo "ok: srun: exit $rc after rank 4's SIGKILL" || fail "srun: exit 0 after a SIGKILL: $out"
    ended_within "srun --mpi=pmi2" "$out" "$end"
    check "srun: ranks name the dead rank" 1 "rank [0-3] lost its connection to rank 4" "$(printf '%s\n' "$out" | grep 'lost its connection' | head -1)"
    check "srun: Slurm names the killed task" 1 "node3: tasks* [0-9,-]*4.*Killed" "$out"
    leftovers "srun --mpi=pmi2" "$mark"

    mark="slurmdeath$$b"
    out=$(timeout 60 salloc -Q -I10 -N3 -n6 "$MPIRUN" -n 6 "$TESTDIR/abort_death" kill 4 "$mark" 2>&1)
    rc=$?
    end=$(now_ms)
    [ $rc -ne 0 ] && echo "ok: mpirun in salloc: exit $rc after rank 4's SIGKILL" || fail "mpirun in salloc: exit 0 after a SIGKILL: $out"
    ended_within "mpirun in salloc" "$out" "$end"
    # Whichever mpirun hears of first: the proxy on node3 reporting the
    # signal, or a rank on node1 aborting after its connection to rank 4
    # broke.
    check "mpirun names the dead rank" 1 "rank 4 (pid [0-9]* on node3) killed by signal 9\|^mpirun: rank [0-3] .* called MPI_Abort .* lost its connection to rank 4" "$out"
    leftovers "mpirun in salloc" "$mark"

    # The srun step of node3's rdmx-proxy SIGKILLed while 6 ranks sleep.
    mark="slurmdeath$$c"
    ln -s "$(command -v sleep)" "$D/$mark"
    salloc -Q -I10 -N3 -n6 timeout 60 "$MPIRUN" -n 6 sh -c "echo \"\$PMI_RANK up\"; exec $D/$mark 300" >"$D/fail.out" 2>&1 &
    job=$!
    i=0
    while [ "$(grep -c ' up$' "$D/fail.out")" -lt 6 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
    u=$(readlink "/proc/$(cat "$FH/holder.node3")/ns/uts")
    px=$(for p in $(live "$PROXY"); do [ "$(readlink "/proc/$p/ns/uts")" = "$u" ] && echo "$p"; done | head -1)
    if [ -z "$px" ]; then
        fail "no rdmx-proxy on node3: $(cat "$D/fail.out")"
        kill $job
    else
        t=$(now_ms)
        kill -KILL "$px"
        wait $job
        t=$(($(now_ms) - t))
        [ $t -lt 5000 ] && echo "ok: killed proxy: job ended $t ms after" || fail "killed proxy: job took $t ms to end"
        check "killed proxy: mpirun names host and ranks" 1 "lost rdmx-proxy on host node3 .*(rank 4,5)" "$(cat "$D/fail.out")"
    fi
    leftovers "killed proxy" "$mark"
    no_ssh "mpirun in salloc"
fi

echo "mode $MODE: $((($(now_ms) - T0 / 1000000))) ms in all"
[ $fails -eq 0 ] && echo "all slurm $MODE checks passed"
exit $((fails != 0))
