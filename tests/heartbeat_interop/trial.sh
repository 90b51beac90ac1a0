#!/bin/bash
# trial.sh TAPVS PRIMARY VICTIM: a tapvs director (node tv1, protocol heartbeat) and a real
# heartbeat 3 node (hb2) pair in two throwaway namespaces joined by a veth (198.19.2.0/24,
# VIP 198.19.2.100); PRIMARY (tv1|hb2) is haresources' owner; after 5 s VICTIM (tapvs|heartbeat)
# is SIGKILLed. Prints `before: tapvs=<state> heartbeat_holds=<yes|no>` and `after: ...` lines.
# heartbeat runs under `unshare -m -u` with a private /etc/ha.d, /var/lib/heartbeat and /run;
# its resource is a script that records calls and puts the VIP on its interface. Everything
# (namespaces, processes, the temporary directory) is removed on exit. Root only.
set -u
TAPVS=$1 P=$2 V=$3
N=$(printf 'tvhb%02d' $(( $$ % 100 )))
D=$(mktemp -d /tmp/tvhb-XXXXXX)
H= T=
cleanup() {
    for p in $H $T; do kill -9 $p $(ps -o pid= --ppid $p 2>/dev/null) 2>/dev/null; done
    ip netns del $N-t 2>/dev/null; ip netns del $N-h 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
set -e
ip netns add $N-t; ip netns add $N-h
ip link add ${N}t type veth peer name ${N}h
ip link set ${N}t netns $N-t; ip link set ${N}h netns $N-h
ip -n $N-t link add br0 type bridge
ip -n $N-t tuntap add dev d1 mode tap
ip -n $N-t link set d1 master br0; ip -n $N-t link set ${N}t master br0
for l in br0 d1 ${N}t lo; do ip -n $N-t link set $l up; done
ip -n $N-h addr add 198.19.2.2/24 dev ${N}h
ip -n $N-h link set ${N}h up; ip -n $N-h link set lo up
cat > $D/t.toml <<T
[interface]
name = "d1"
mac = "02:74:76:00:02:01"
address = "198.19.2.1"
prefix_len = 24
gateway = "198.19.2.254"
[heartbeat]
node = "tv1"
peer_node = "hb2"
peer = "198.19.2.2"
primary = "$P"
keepalive_ms = 200
deadtime_ms = 1000
warntime_ms = 500
initdead_ms = 2000
auth_key = "SECRET"
[[service]]
vip = "198.19.2.100"
port = 80
scheduler = "rr"
[[service.real_server]]
name = "rs1"
address = "198.19.2.11"
port = 80
T
mkdir -p $D/ha.d $D/lib $D/run
cp -a /etc/ha.d/resource.d /etc/ha.d/rc.d /etc/ha.d/shellfuncs /etc/ha.d/harc $D/ha.d/
cp -a /var/lib/heartbeat/. $D/lib/
cat > $D/ha.d/ha.cf <<CF
logfile $D/log
use_logd no
keepalive 200ms
deadtime 1
warntime 500ms
initdead 2
udpport 694
ucast ${N}h 198.19.2.1
auto_failback on
node tv1
node hb2
crm off
CF
printf 'auth 1\n1 sha1 SECRET\n' > $D/ha.d/authkeys; chmod 600 $D/ha.d/authkeys
echo "$P tvrec::198.19.2.100" > $D/ha.d/haresources
cat > $D/ha.d/resource.d/tvrec <<RS
#!/bin/sh
echo "\$(date +%s.%N) \$*" >> $D/calls
case "\$2" in
start) ip addr add \$1/24 dev ${N}h 2>/dev/null; touch $D/holding;;
stop) ip addr del \$1/24 dev ${N}h 2>/dev/null; rm -f $D/holding;;
status) if [ -e $D/holding ]; then echo running; else echo stopped; fi;;
esac
exit 0
RS
chmod 755 $D/ha.d/resource.d/tvrec
ip netns exec $N-h unshare -m -u --propagation private sh -c "
hostname hb2
mount --bind $D/ha.d /etc/ha.d
mount --bind $D/lib /var/lib/heartbeat
mount -t tmpfs tmpfs /run
mkdir -p /run/heartbeat/ccm /run/heartbeat/crm /run/heartbeat/dopd /run/resource-agents
chown -R hacluster:haclient /run/heartbeat
exec /usr/libexec/heartbeat/heartbeat -f" > $D/h.out 2>&1 &
H=$!
sleep 0.5
ip netns exec $N-t "$TAPVS" director --config $D/t.toml --events $D/t.events --max-seconds 30 \
    > $D/t.out 2>&1 &
T=$!
sleep 5
vip_h() { ip -n $N-h addr show ${N}h | grep -q "198.19.2.100" && echo yes || echo no; }
state_t() { grep '"vrrp"' $D/t.events | tail -1 | sed 's/.*"state":"\([a-z]*\)".*/\1/'; }
echo "before: tapvs=$(state_t) heartbeat_holds=$(vip_h)"
K=$(date +%s%3N)
if [ $V = tapvs ]; then kill -9 $T; T=; else kill -9 $H $(ps -o pid= --ppid $H); H=; fi
sleep 2.5
if [ $V = tapvs ]; then
    s=$(awk '$3=="start"{print $1}' $D/calls | tail -1)
    echo "after: heartbeat_holds=$(vip_h) takeover_ms=$(awk -v s="$s" -v k=$K 'BEGIN{printf "%d", s*1000-k}')"
else
    m=$(grep '"state":"master"' $D/t.events | tail -1 | sed 's/.*unix_ms":\([0-9]*\).*/\1/')
    echo "after: tapvs=$(state_t) takeover_ms=$((m-K))"
fi
