#!/bin/sh
# startup_bench.sh BUILD_DIR [REPS] — launcher start-up, rdmx vs Open MPI,
# printed as a markdown table (for docs/PERFORMANCE.md, "Launcher
# start-up"). Wall time of the whole command, medians of REPS (default 7)
# runs, the two launchers measured alternately:
#   1. mpirun -n 2 ./hello on this host;
#   2. mpirun -f hosts -n 6 ./hello across 3 fake hosts (fakehosts.sh:
#      network namespaces with a real sshd) over ssh, from inside node1.
# The same examples/hello.c is built with mpicc.openmpi for Open MPI.
# Needs root, openssh-server and openmpi-bin for part 2 (skipped without).
B=$(cd "${1:?usage: startup_bench.sh BUILD_DIR [REPS]}" && pwd) || exit 1
REPS=${2:-7}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
MPIRUN=$B/bin/mpirun
HELLO=$B/bin/examples/hello
T=$(mktemp -d /tmp/rdmx-bench.XXXXXX)
trap '[ -f "$T/hostfile" ] && sh "$HERE/fakehosts.sh" stop "$T/fh"; rm -rf "$T"' EXIT
[ -x "$MPIRUN" ] && [ -x "$HELLO" ] || { echo "build mpirun and hello in $B first" >&2; exit 1; }
mpicc.openmpi -O2 -o "$T/hello_ompi" "$SRC/examples/hello.c" || exit 1

now_ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# run_ms CMD...: wall time in ms (fails the bench if the command fails)
run_ms() {
    t0=$(now_ms)
    "$@" >/dev/null 2>"$T/err" || { echo "failed: $*" >&2; cat "$T/err" >&2; exit 1; }
    echo $(($(now_ms) - t0))
}
# bench NAME "RDMX CMD" "OMPI CMD": alternate REPS times, print a table row
bench() {
    : >"$T/a"; : >"$T/b"
    i=0
    while [ $i -lt "$REPS" ]; do
        run_ms sh -c "$2" >>"$T/a" || exit 1
        run_ms sh -c "$3" >>"$T/b" || exit 1
        i=$((i + 1))
    done
    a=$(median <"$T/a"); b=$(median <"$T/b")
    printf '| %s | %s | %s | %s |\n' "$1" "$a" "$b" \
        "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}')"
}

echo "| command | rdmx mpirun (ms, median of $REPS) | Open MPI 4.1 mpirun (ms, median of $REPS) | rdmx / Open MPI |"
echo "|---|---|---|---|"
bench "\`mpirun -n 2 ./hello\` (one host)" \
    "$MPIRUN -n 2 $HELLO" \
    "mpirun.openmpi --allow-run-as-root -n 2 $T/hello_ompi"

if [ "$(id -u)" != 0 ] || ! command -v /usr/sbin/sshd >/dev/null; then
    echo "(multi-host row skipped: needs root and openssh-server)"
    exit 0
fi
sh "$HERE/fakehosts.sh" start "$T/fh" 3 >/dev/null || exit 1
cp "$T/fh/hostfile" "$T/hostfile"
net=$(sed -n 's/\.[0-9]* node1$//p' "$T/fh/hosts")
ON1="nsenter -t $(cat "$T/fh/holder.node1") -n -u -m"
SSH="ssh -F $T/fh/ssh_config"
bench "\`mpirun -f hosts -n 6 ./hello\` (3 fake hosts, ssh)" \
    "$ON1 $MPIRUN -f $T/hostfile -n 6 --launch-agent '$SSH' $HELLO" \
    "OMPI_MCA_oob_tcp_if_include=$net.0/24 OMPI_MCA_btl_tcp_if_include=$net.0/24 OMPI_MCA_btl=self,vader,tcp $ON1 mpirun.openmpi --allow-run-as-root -n 6 --hostfile $T/hostfile --mca plm_rsh_agent '$SSH' $T/hello_ompi"
