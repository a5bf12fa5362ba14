#!/bin/sh
# Validate the collective tests themselves against Open MPI:
#   tests/coll/run_openmpi.sh
# Builds the programs with mpicc.openmpi and runs the default matrix.
set -e
here=$(cd "$(dirname "$0")" && pwd)
out=${TMPDIR:-/tmp}/rdmx-coll-ompi
mkdir -p "$out"
mpicc.openmpi -O2 -Wall -o "$out/coll_check" "$here/coll_check.c"
mpicc.openmpi -O2 -Wall -o "$out/dt_check" "$here/dt_check.c"
run() {
    n=$1
    shift
    timeout 300 mpirun.openmpi --allow-run-as-root --oversubscribe -n "$n" "$@"
}
for np in 1 2 3 4 5 7 8; do
    run $np "$out/coll_check"
done
run 16 "$out/coll_check" -q -n 0,1,1000
run 3 "$out/coll_check" -q -n 65536 -b 1048581
for np in 1 2 3 5; do
    run $np "$out/dt_check"
done
