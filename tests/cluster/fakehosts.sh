#!/bin/sh
# fakehosts.sh start|stop DIR [N] [plain-login] — N fake hosts (node1..nodeN)
# on this machine: one network namespace each on a private bridge, its own
# hostname and /etc/hosts (a long-lived "holder" process per node), and a
# real sshd.
# Facts from ../shared/docs/cluster-testing.md. Needs root, iproute2,
# util-linux and openssh-server. After "start":
#   DIR/ssh_config           ssh -F DIR/ssh_config nodeI works
#   DIR/holder.nodeI         pid to enter: nsenter -t PID -n -u -m CMD
#   DIR/agent                launch agent "DIR/agent HOST CMD..." (nsenter)
#   DIR/hostfile             "nodeI slots=2" lines
# plain-login: the fake hosts see an empty ~/.bashrc (bind mount in their
# own mount namespace), so that an ssh login does not pay for this
# machine's shell set-up (pyenv: seconds under load) in correctness tests.
# "stop" removes only what "start" recorded in DIR.
set -e
cmd=$1
D=$2
N=${3:-3}
PLAIN=$4
[ -n "$cmd" ] && [ -n "$D" ] || { echo "usage: $0 start|stop DIR [N] [plain-login]" >&2; exit 2; }

stop() {
    for f in "$D"/sshd.*.pid "$D"/holder.*; do
        [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
    done
    if [ -s "$D/netns" ]; then
        # Whatever still runs in a fake host (daemons such as slurmd or
        # slurmstepd started inside it, leftovers of a failed test) ends
        # with it.
        while read -r ns; do
            pids=$(ip netns pids "$ns" 2>/dev/null || true)
            [ -n "$pids" ] && kill -KILL $pids 2>/dev/null || true
            ip netns del "$ns" 2>/dev/null || true
        done <"$D/netns"
    fi
    [ -s "$D/bridge" ] && ip link del "$(cat "$D/bridge")" 2>/dev/null || true
    rm -f "$D/netns" "$D/bridge"
}
if [ "$cmd" = stop ]; then
    stop
    exit 0
fi

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for b in ip nsenter unshare ssh ssh-keygen /usr/sbin/sshd; do
    command -v $b >/dev/null || { echo "SKIP: $b missing (apt-get install openssh-server iproute2)"; exit 77; }
done
mkdir -p "$D" /run/sshd
# A /24 and names unlikely to collide with other users of this machine.
id=$(( $$ % 200 + 20 ))
net="10.79.$id"
br="rdmxbr$id"
ip link add "$br" type bridge
echo "$br" >"$D/bridge"
ip addr add "$net.1/24" dev "$br"
ip link set "$br" up
: >"$D/netns"
{
    echo "127.0.0.1 localhost"
    i=1; while [ $i -le "$N" ]; do echo "$net.$((10 + i)) node$i"; i=$((i + 1)); done
} >"$D/hosts"
ssh-keygen -q -t ed25519 -N '' -f "$D/id" </dev/null
ssh-keygen -q -t ed25519 -N '' -f "$D/hostkey" </dev/null
cp "$D/id.pub" "$D/authorized_keys"
cat >"$D/ssh_config" <<CONF
Host node*
    IdentityFile $D/id
    StrictHostKeyChecking no
    UserKnownHostsFile /dev/null
    BatchMode yes
    ConnectTimeout 3
    LogLevel ERROR
    User root
CONF
: >"$D/hostfile"
rc=""
home=$(getent passwd "$(id -un)" | cut -d: -f6)
if [ "$PLAIN" = plain-login ] && [ -f "$home/.bashrc" ]; then
    echo "# fake host: no login set-up" >"$D/bashrc"
    rc="mount --bind $D/bashrc $home/.bashrc;"
fi
i=1
while [ $i -le "$N" ]; do
    ns="rdmx$id-n$i"
    ip netns add "$ns"
    echo "$ns" >>"$D/netns"
    ip link add "v$id-$i" type veth peer name "v$id-$i-n"
    ip link set "v$id-$i" master "$br" up
    ip link set "v$id-$i-n" netns "$ns"
    ip -n "$ns" addr add "$net.$((10 + i))/24" dev "v$id-$i-n"
    ip -n "$ns" link set "v$id-$i-n" up
    ip -n "$ns" link set lo up
    nsenter --net=/run/netns/"$ns" unshare --uts --mount --propagation private \
        sh -c "hostname node$i; mount --bind $D/hosts /etc/hosts; $rc exec sleep infinity" &
    echo $! >"$D/holder.node$i"
    cat >"$D/sshd_config.$i" <<CONF
ListenAddress $net.$((10 + i))
HostKey $D/hostkey
AuthorizedKeysFile $D/authorized_keys
PermitRootLogin yes
PasswordAuthentication no
UsePAM no
StrictModes no
PidFile $D/sshd.$i.pid
CONF
    echo "node$i slots=2" >>"$D/hostfile"
    i=$((i + 1))
done
sleep 0.3
i=1
while [ $i -le "$N" ]; do
    nsenter -t "$(cat "$D/holder.node$i")" -n -u -m /usr/sbin/sshd -e -f "$D/sshd_config.$i"
    i=$((i + 1))
done
cat >"$D/agent" <<AGENT
#!/bin/sh
# launch agent: run CMD inside fake host HOST
h=\$1; shift
exec nsenter -t "\$(cat $D/holder.\$h)" -n -u -m "\$@"
AGENT
chmod +x "$D/agent"
sleep 0.3
echo "fake hosts up: node1..node$N on $net.0/24"
