#!/usr/bin/env bash
# lab-up.sh: build one tapvs lab out of network namespaces (see netns/README.md for the picture).
#
# Run as root, for example:
#   PREFIX=tv1234 RS_COUNT=3 VIPS="198.18.0.100" ARP_SUPPRESSION=1 DIRECTORS="d1" bash netns/lab-up.sh
#
# Parameters (environment variables, all optional):
#   PREFIX           `tv` + 4 lowercase hex digits; every namespace is `<PREFIX>-<host>`.
#                    Default: a random unused one (printed at the end).
#   REAL_SERVERS     "name=address ...", e.g. "rs1=198.18.0.11 rs2=198.18.0.12". Overrides RS_COUNT.
#   RS_COUNT         real servers rs1..rsN at 198.18.0.11, .12, ... (default 2).
#   VIPS             virtual IPs the real servers hold on `lo` (default "198.18.0.100").
#   DIRECTORS        TAP devices created on the switch for the directors (default "d1 d2").
#   ARP_SUPPRESSION  1: arp_ignore=1, arp_announce=2 on the real servers (normal direct routing);
#                    0: both 0, the kernel defaults, which shows the "ARP problem" (default 1).
#   VERBOSE          1: print each step on stderr.
#
# Rules this script keeps:
#   - Every address is in 198.18.0.0/15 and lives inside the lab's own namespaces.
#   - Nothing is created in the root namespace: veth pairs are created directly between two lab
#     namespaces, TAPs inside `<PREFIX>-sw`. Deleting the namespaces (lab-down.sh) removes it all.
#   - The state dir /run/tapvs/<PREFIX>/ is created first, so `tapvs lab clean` never mistakes a lab
#     that is being built for a leftover. Its owner.pid says which process owns the lab (0 = manual).
#   - Nothing here reads standard input: tapvs feeds this very script to `bash -s`.
#   - If a step fails, the script stops and prints "lab-up: FAILED at step: <step>" on stderr; it does
#     not clean up by itself (tapvs does; by hand, run lab-down.sh with the same PREFIX).
set -Eeuo pipefail

STEP="checking parameters"
step() {
    STEP="$1"
    if [[ "${VERBOSE:-0}" == 1 ]]; then echo "lab-up: $STEP" >&2; fi
}
die() {
    echo "lab-up: FAILED at step: $STEP" >&2
    echo "lab-up:   $*" >&2
    exit 1
}
trap 'echo "lab-up: FAILED at step: $STEP" >&2; echo "lab-up:   line $LINENO: $BASH_COMMAND" >&2' ERR

# --- Parameters ------------------------------------------------------------------------------------

# Is $1 a usable host address on the LAN 198.18.0.0/24? (.0, .1 router, .2/.3 directors, .255 excluded)
lan_host() {
    [[ "$1" =~ ^198\.18\.0\.([1-9][0-9]{0,2})$ ]] || return 1
    local last=${BASH_REMATCH[1]}
    ((last >= 4 && last <= 254))
}
# Is $1 a short host or interface name (it becomes a namespace suffix and an interface name)?
short_name() { [[ "$1" =~ ^[a-z][a-z0-9]{0,9}$ ]]; }
# Names of all namespaces whose name starts with "$1-".
namespaces_of() {
    local listing name _
    # stderr hidden: `ip netns list` warns "Peer netns reference is invalid" (and still succeeds)
    # while another lab is being deleted.
    listing=$(ip netns list 2>/dev/null)
    while read -r name _; do
        if [[ "$name" == "$1"-* ]]; then echo "$name"; fi
    done <<<"$listing"
}

if [[ -z "${PREFIX:-}" ]]; then
    PREFIX="tv$(od -An -N2 -tx2 /dev/urandom | tr -d ' \n')"
    while [[ -n "$(namespaces_of "$PREFIX")" || -e "/run/tapvs/$PREFIX" ]]; do
        PREFIX="tv$(od -An -N2 -tx2 /dev/urandom | tr -d ' \n')"
    done
fi
[[ "$PREFIX" =~ ^tv[0-9a-f]{4}$ ]] || die "PREFIX must be tv + 4 lowercase hex digits, not '$PREFIX'"
[[ -z "$(namespaces_of "$PREFIX")" ]] || die "lab $PREFIX already exists (ip netns list)"

if [[ -z "${REAL_SERVERS:-}" ]]; then
    RS_COUNT=${RS_COUNT:-2}
    [[ "$RS_COUNT" =~ ^[0-9]+$ ]] && ((RS_COUNT <= 200)) || die "RS_COUNT must be 0..200, not '$RS_COUNT'"
    REAL_SERVERS=""
    for ((i = 1; i <= RS_COUNT; i++)); do REAL_SERVERS+=" rs$i=198.18.0.$((10 + i))"; done
fi
VIPS=${VIPS-198.18.0.100}
DIRECTORS=${DIRECTORS-d1 d2}
ARP_SUPPRESSION=${ARP_SUPPRESSION:-1}
STATE_DIR="/run/tapvs/$PREFIX"

# A real server's name is a namespace suffix and a switch port name, a director's name is its TAP's
# name: all must be unique. Addresses too.
taken=" br0 lo eth0 sw rt cl "
take_name() {
    [[ "$taken" != *" $1 "* ]] || die "name '$1' is used twice or reserved (br0 lo eth0 sw rt cl)"
    taken+="$1 "
}
taken_addrs=" "
take_addr() {
    [[ "$taken_addrs" != *" $1 "* ]] || die "address $1 is used twice"
    taken_addrs+="$1 "
}
for vip in $VIPS; do
    lan_host "$vip" || die "VIP $vip is not a host address in 198.18.0.4-254"
    take_addr "$vip"
done
for d in $DIRECTORS; do
    short_name "$d" || die "director name '$d' must match [a-z][a-z0-9]{0,9}"
    take_name "$d"
done
for rs in $REAL_SERVERS; do
    name=${rs%%=*} addr=${rs#*=}
    short_name "$name" || die "real server name '$name' must match [a-z][a-z0-9]{0,9}"
    take_name "$name"
    lan_host "$addr" || die "real server $name: $addr is not a host address in 198.18.0.4-254"
    take_addr "$addr"
done
case "$ARP_SUPPRESSION" in
1) ARP_IGNORE=1 ARP_ANNOUNCE=2 ;;
0) ARP_IGNORE=0 ARP_ANNOUNCE=0 ;;
*) die "ARP_SUPPRESSION must be 0 or 1, not '$ARP_SUPPRESSION'" ;;
esac

NS_SW="$PREFIX-sw" # the LAN switch (bridge br0) and the directors' TAPs
NS_RT="$PREFIX-rt" # the router between the clients and the LAN
NS_CL="$PREFIX-cl" # the clients (own 198.19.0.0/16)
ALL_NS=("$NS_SW" "$NS_RT" "$NS_CL")
for rs in $REAL_SERVERS; do ALL_NS+=("$PREFIX-${rs%%=*}"); done

# --- State dir: claims the prefix before anything exists in the kernel -----------------------------
step "creating state dir $STATE_DIR"
mkdir -p "$STATE_DIR"
if [[ ! -e "$STATE_DIR/owner.pid" ]]; then echo 0 >"$STATE_DIR/owner.pid"; fi # 0 = brought up by hand

# --- Namespaces ------------------------------------------------------------------------------------
step "creating namespaces"
for ns in "${ALL_NS[@]}"; do ip netns add "$ns"; done

# lo up everywhere; IPv6 off everywhere (before any link exists, so links inherit it), so that the lab
# sends no IPv6 at all (no router solicitations, MLD or DAD on br0) and everything stays in 198.18/15.
step "lo up, IPv6 off"
for ns in "${ALL_NS[@]}"; do
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -q -e -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done

# --- LAN switch ------------------------------------------------------------------------------------
step "LAN switch: bridge br0 in $NS_SW"
ip -n "$NS_SW" link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
ip -n "$NS_SW" link set br0 up

# plug HOST_NS PORT: a veth pair whose host end is `eth0` in HOST_NS and whose switch end, named PORT
# after the host, is a port of br0. Created inside the two namespaces, never in the root namespace.
plug() {
    ip -n "$NS_SW" link add "$2" type veth peer name eth0 netns "$1"
    ip -n "$NS_SW" link set "$2" master br0 up
    ip -n "$1" link set eth0 up
}

# --- Router ----------------------------------------------------------------------------------------
step "router $NS_RT: eth0 198.18.0.1/24 on the LAN"
plug "$NS_RT" rt
ip netns exec "$NS_RT" sysctl -q -w net.ipv4.ip_forward=1 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0
ip -n "$NS_RT" addr add 198.18.0.1/24 dev eth0

step "client link: router cl0 198.18.3.1/24 <-> client eth0 198.18.3.2/24"
ip -n "$NS_RT" link add cl0 type veth peer name eth0 netns "$NS_CL"
ip netns exec "$NS_RT" sysctl -q -w net.ipv4.conf.cl0.rp_filter=0
ip -n "$NS_RT" addr add 198.18.3.1/24 dev cl0
ip -n "$NS_RT" link set cl0 up
ip -n "$NS_RT" route add 198.19.0.0/16 via 198.18.3.2

# --- Clients ---------------------------------------------------------------------------------------
# The client namespace owns all of 198.19.0.0/16 as one local route, so one load generator can bind
# to (and speak as) thousands of distinct client addresses.
step "clients $NS_CL: eth0 198.18.3.2/24, local 198.19.0.0/16"
ip -n "$NS_CL" addr add 198.18.3.2/24 dev eth0
ip -n "$NS_CL" link set eth0 up
ip -n "$NS_CL" route add 198.18.0.0/16 via 198.18.3.1
ip -n "$NS_CL" route add local 198.19.0.0/16 dev lo

# --- Real servers ----------------------------------------------------------------------------------
# Each holds its LAN address on eth0 and every VIP as /32 on lo (direct routing). The ARP sysctls are
# written before any address exists, so the server never answers or announces a VIP by mistake.
for rs in $REAL_SERVERS; do
    name=${rs%%=*} addr=${rs#*=}
    ns="$PREFIX-$name"
    step "real server $ns: eth0 $addr/24, VIPs on lo, arp_ignore=$ARP_IGNORE arp_announce=$ARP_ANNOUNCE"
    plug "$ns" "$name"
    ip netns exec "$ns" sysctl -q -w \
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0 \
        net.ipv4.conf.all.arp_ignore=$ARP_IGNORE net.ipv4.conf.eth0.arp_ignore=$ARP_IGNORE \
        net.ipv4.conf.all.arp_announce=$ARP_ANNOUNCE net.ipv4.conf.eth0.arp_announce=$ARP_ANNOUNCE
    ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" route add default via 198.18.0.1
    for vip in $VIPS; do ip -n "$ns" addr add "$vip/32" dev lo; done
done

# --- Directors' TAPs -------------------------------------------------------------------------------
# Persistent TAPs on the switch. A director process runs inside $NS_SW and opens its TAP by name; the
# port has no carrier (and forwards nothing) until then. Its addresses live in userspace.
for d in $DIRECTORS; do
    step "director TAP $d on br0 in $NS_SW"
    ip -n "$NS_SW" tuntap add dev "$d" mode tap
    ip -n "$NS_SW" link set "$d" master br0 up
done

step "done"
echo "lab $PREFIX is up; state dir $STATE_DIR"
echo "  namespaces: ${ALL_NS[*]}"
echo "  watch the LAN:  ip netns exec $NS_SW tcpdump -ni br0"
echo "  bring it down:  PREFIX=$PREFIX bash netns/lab-down.sh"
