#!/usr/bin/env bash
# lab-up.sh: build one tapvs lab out of network namespaces (see netns/README.md for the picture).
#
# Run as root, for example:
#   PREFIX=tv1234 RS_COUNT=3 VIPS="198.18.0.100" ARP_SUPPRESSION=1 DIRECTORS="d1" bash netns/lab-up.sh
#   PREFIX=tv1234 LAYOUT=nat2 RS_COUNT=3 bash netns/lab-up.sh
#   PREFIX=tv1234 LAYOUT=knat KNAT_SERVICES="tcp:198.18.0.100:80=198.18.1.11:8080,198.18.1.12:8080" \
#       bash netns/lab-up.sh
#
# Parameters (environment variables, all optional):
#   PREFIX           `tv` + 4 lowercase hex digits; every namespace is `<PREFIX>-<host>`.
#                    Default: a random unused one (printed at the end).
#   LAYOUT           dr   direct routing (default): real servers on br0, VIPs on their lo, default
#                         route via the router 198.18.0.1.
#                    nat2 NAT, two-armed: real servers on a second bridge br1 (inside segment
#                         198.18.1.0/24), default route via NAT_GATEWAY; each director also gets
#                         an inside TAP `<director>i` on br1.
#                    nat1 NAT, one-armed: real servers on br0, default route via NAT_GATEWAY.
#                    knat the kernel's NAT, the reference for nat2: real servers as in nat2, but no
#                         director TAPs; a namespace `<PREFIX>-kn` (eth0 198.18.0.2/24 and the VIPs
#                         on br0, eth1 NAT_GATEWAY/24 on br1) forwards and DNATs KNAT_SERVICES
#                         with nftables (table ip tapvs_knat; needs `nft`).
#                    In the NAT layouts the real servers hold no VIP and keep ARP at the defaults.
#   NAT_GATEWAY      nat2/nat1/knat only: the real servers' default route. nat2/nat1: an address the
#                    directors own in userspace, default 198.18.1.1 (nat2: the floating inside
#                    address) or 198.18.0.2 (nat1: director d1). knat: the kn box's eth1 address,
#                    default 198.18.1.1.
#   KNAT_SERVICES    knat only: what the kn box forwards, "PROTO:VIP:PORT[=ADDR:PORT,...] ...", e.g.
#                    "tcp:198.18.0.100:80=198.18.1.11:8080,198.18.1.12:8081 udp:198.18.0.100:53".
#                    PROTO is tcp or udp, VIP one of VIPS; each new connection (UDP: each new flow)
#                    goes to the next ADDR:PORT, round robin (`numgen inc`). ADDR must be a real
#                    server's. Without "=...": every real server, on PORT. Default: empty (the box
#                    forwards nothing; a connection to the VIP is refused by the box itself).
#   REAL_SERVERS     "name=address ...", e.g. "rs1=198.18.0.11 rs2=198.18.0.12". Overrides RS_COUNT.
#                    Addresses in 198.18.1.4-254 for nat2, in 198.18.0.4-254 otherwise.
#   RS_COUNT         real servers rs1..rsN at 198.18.0.11, .12, ... (nat2: 198.18.1.11, .12, ...)
#                    (default 2).
#   VIPS             virtual IPs on the LAN (default "198.18.0.100"); dr: the real servers hold
#                    them on `lo`.
#   DIRECTORS        TAP devices created on the switch for the directors (default "d1 d2"; knat:
#                    none, and naming any is refused).
#   PEERS            "name=address ...": plain hosts on the LAN br0 besides the real servers, e.g.
#                    "ka=198.18.0.3" (keepalived standing in for director d2). Each gets a namespace
#                    `<PREFIX>-<name>`, eth0 with the address /24 and a default route via the router.
#                    Addresses in 198.18.0.2-254 (default: none).
#   INSIDE_LEGS      nat2 only: "name=address ...": peers (of PEERS) that also get eth1 on br1 at the
#                    address (198.18.1.2-254), switch port `<name>i` (default: none).
#   ARP_SUPPRESSION  dr only (NAT real servers always keep the defaults, 0):
#                    1: arp_ignore=1, arp_announce=2 on the real servers (normal direct routing);
#                    0: both 0, the kernel defaults, which shows the "ARP problem" (default 1).
#   WIRED            links that get an impairment wire (`tapvs wire`, started by the runner): each
#                    word a director (d1), a real server (rs1) or `cl` (the clients' uplink).
#                    Instead of a veth pair the link becomes two TAPs the wire joins:
#                      director d1: TAP d1 (the director's) and TAP d1wa on a small bridge d1br,
#                                   TAP d1wb on br0; the wire joins d1wa and d1wb (all in sw).
#                      real server rs1: TAP eth0 in its namespace, TAP rs1 on the switch.
#                      cl: TAP eth0 in the clients' namespace, TAP cl0 in the router's.
#                    Until the wire opens both TAPs the link has no carrier (default: none).
#   VERBOSE          1: print each step on stderr.
#
# Rules this script keeps:
#   - Every address is in 198.18.0.0/15 and lives inside the lab's own namespaces.
#   - Nothing is created in the root namespace: veth pairs are created directly between two lab
#     namespaces, TAPs inside `<PREFIX>-sw`, knat's nftables table inside `<PREFIX>-kn` (its text is
#     kept in the state dir as knat.nft). Deleting the namespaces (lab-down.sh) removes it all.
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

# Is $1 a host address 198.18.$2.$3 to 198.18.$2.254? (e.g. `in_range $a 0 4`: on the LAN, but not
# .0, .1 router, .2/.3 directors, .255)
in_range() {
    [[ "$1" =~ ^198\.18\.$2\.([1-9][0-9]{0,2})$ ]] || return 1
    local last=${BASH_REMATCH[1]}
    ((last >= $3 && last <= 254))
}
# Is $1 a usable host address on the LAN 198.18.0.0/24 (198.18.0.4-254)?
lan_host() { in_range "$1" 0 4; }
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

# The layout decides where the real servers live (RS_NET: 198.18.RS_NET.0/24, on bridge RS_BRIDGE),
# and where their default route points (RS_GATEWAY).
LAYOUT=${LAYOUT:-dr}
case "$LAYOUT" in
dr)
    [[ -z "${NAT_GATEWAY:-}" ]] || die "NAT_GATEWAY is for LAYOUT=nat2 or nat1, not dr"
    RS_NET=0 RS_BRIDGE=br0 RS_GATEWAY=198.18.0.1
    ;;
nat2)
    RS_NET=1 RS_BRIDGE=br1 RS_GATEWAY=${NAT_GATEWAY:-198.18.1.1}
    in_range "$RS_GATEWAY" 1 1 || die "NAT_GATEWAY $RS_GATEWAY is not a host address in 198.18.1.1-254"
    ;;
nat1)
    RS_NET=0 RS_BRIDGE=br0 RS_GATEWAY=${NAT_GATEWAY:-198.18.0.2}
    # Not 198.18.0.1: the router would route the replies around the directors.
    in_range "$RS_GATEWAY" 0 2 || die "NAT_GATEWAY $RS_GATEWAY is not a host address in 198.18.0.2-254"
    ;;
knat)
    # The kn box's inside arm holds the gateway itself.
    RS_NET=1 RS_BRIDGE=br1 RS_GATEWAY=${NAT_GATEWAY:-198.18.1.1}
    in_range "$RS_GATEWAY" 1 1 || die "NAT_GATEWAY $RS_GATEWAY is not a host address in 198.18.1.1-254"
    command -v nft >/dev/null || die "LAYOUT=knat needs nft (apt-get install nftables)"
    ;;
*) die "LAYOUT must be dr, nat2, nat1 or knat, not '$LAYOUT'" ;;
esac
if [[ "$LAYOUT" != knat && -n "${KNAT_SERVICES:-}" ]]; then die "KNAT_SERVICES is for LAYOUT=knat, not $LAYOUT"; fi

if [[ -z "${REAL_SERVERS:-}" ]]; then
    RS_COUNT=${RS_COUNT:-2}
    [[ "$RS_COUNT" =~ ^[0-9]+$ ]] && ((RS_COUNT <= 200)) || die "RS_COUNT must be 0..200, not '$RS_COUNT'"
    REAL_SERVERS=""
    for ((i = 1; i <= RS_COUNT; i++)); do REAL_SERVERS+=" rs$i=198.18.$RS_NET.$((10 + i))"; done
fi
VIPS=${VIPS-198.18.0.100}
if [[ "$LAYOUT" == knat ]]; then
    # The kn box takes the directors' place (and d1's address 198.18.0.2).
    DIRECTORS=${DIRECTORS-}
    [[ -z "${DIRECTORS// /}" ]] || die "LAYOUT=knat has no directors (the kn box replaces them), not '$DIRECTORS'"
else
    DIRECTORS=${DIRECTORS-d1 d2}
fi
KNAT_SERVICES=${KNAT_SERVICES:-}
PEERS=${PEERS:-}
INSIDE_LEGS=${INSIDE_LEGS:-}
WIRED=${WIRED:-}
# Is $1 in WIRED?
wired() { [[ " $WIRED " == *" $1 "* ]]; }
ARP_SUPPRESSION=${ARP_SUPPRESSION:-1}
STATE_DIR="/run/tapvs/$PREFIX"

# A real server's name is a namespace suffix and a switch port name, a director's name is its TAP's
# name: all must be unique. Addresses too.
taken=" br0 br1 lo eth0 sw rt cl kn "
take_name() {
    [[ "$taken" != *" $1 "* ]] || die "name '$1' is used twice or reserved (br0 br1 lo eth0 sw rt cl kn)"
    taken+="$1 "
}
taken_addrs=" "
take_addr() { # ADDRESS [WHAT]
    [[ "$taken_addrs" != *" $1 "* ]] || die "${2:-address} $1 is used twice"
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
# Checks and takes a NAME=ADDRESS host: KIND NAME=ADDRESS NET LOWEST [NOTE]
take_host() {
    local name=${2%%=*} addr=${2#*=}
    short_name "$name" || die "$1 name '$name' must match [a-z][a-z0-9]{0,9}"
    take_name "$name"
    in_range "$addr" "$3" "$4" ||
        die "$1 $name: $addr is not a host address in 198.18.$3.$4-254${5:+ ($5)}"
    take_addr "$addr"
}
for rs in $REAL_SERVERS; do take_host "real server" "$rs" "$RS_NET" 4 "LAYOUT=$LAYOUT"; done
for peer in $PEERS; do take_host peer "$peer" 0 2; done
if [[ "$LAYOUT" == nat2 ]]; then
    # Each director's inside TAP is a port of br1, beside the real servers' ports.
    for d in $DIRECTORS; do take_name "${d}i"; done
fi
if [[ "$LAYOUT" == knat ]]; then take_name kni; fi # the kn box's port on br1
for leg in $INSIDE_LEGS; do
    name=${leg%%=*} addr=${leg#*=}
    [[ "$LAYOUT" == nat2 ]] || die "INSIDE_LEGS needs LAYOUT=nat2 (the inside segment br1)"
    [[ " $PEERS " == *" $name="* ]] || die "inside leg of '$name': not a peer"
    take_name "${name}i"
    in_range "$addr" 1 2 || die "inside leg of $name: $addr is not a host address in 198.18.1.2-254"
    take_addr "$addr" "inside leg address"
done
wirable=" cl $DIRECTORS "
for rs in $REAL_SERVERS; do wirable+="${rs%%=*} "; done
for w in $WIRED; do
    [[ "$wirable" == *" $w "* ]] || die "WIRED: '$w' is not cl, a director or a real server"
    if [[ " $DIRECTORS " == *" $w "* ]]; then take_name "${w}br" && take_name "${w}wa" && take_name "${w}wb"; fi
done
if [[ "$LAYOUT" != dr ]]; then take_addr "$RS_GATEWAY" NAT_GATEWAY; fi

# knat: KNAT_SERVICES becomes the kn box's nftables ruleset, one DNAT rule per service:
#   ip daddr VIP PROTO dport PORT dnat ip to numgen inc mod N map { 0 : ADDR . PORT, ... }
# numgen counts per rule, and only a connection's first packet reaches the nat chain (conntrack
# rewrites the rest, and un-NATs the replies), so each rule hands out new connections round robin.
KNAT_RULES=""
port_number() { [[ "$1" =~ ^[1-9][0-9]{0,4}$ ]] && (($1 <= 65535)); }
rs_addrs=" "
for rs in $REAL_SERVERS; do rs_addrs+="${rs#*=} "; done
rs_list=${rs_addrs# } rs_list=${rs_list% } # for messages
knat_seen=" "
for svc in $KNAT_SERVICES; do
    [[ "$svc" =~ ^(tcp|udp):([0-9.]+):([0-9]+)(=(.*))?$ ]] ||
        die "KNAT_SERVICES: '$svc' is not PROTO:VIP:PORT[=ADDR:PORT,...] (PROTO tcp or udp)"
    proto=${BASH_REMATCH[1]} vip=${BASH_REMATCH[2]} port=${BASH_REMATCH[3]}
    mapped=${BASH_REMATCH[4]} targets=${BASH_REMATCH[5]} # (taken now: the next =~ resets them)
    [[ " $VIPS " == *" $vip "* ]] || die "KNAT_SERVICES: $vip in '$svc' is not one of VIPS ($VIPS)"
    port_number "$port" || die "KNAT_SERVICES: port $port in '$svc' is not 1-65535"
    [[ "$knat_seen" != *" $proto:$vip:$port "* ]] || die "KNAT_SERVICES: $proto:$vip:$port is listed twice"
    knat_seen+="$proto:$vip:$port "
    if [[ -z "$mapped" ]]; then # no "=...": every real server, on the service's port
        targets=""
        for addr in $rs_addrs; do targets+="${targets:+,}$addr:$port"; done
        [[ -n "$targets" ]] || die "KNAT_SERVICES: '$svc' has no real server to go to"
    fi
    elements="" n=0
    IFS=, read -r -a target_list <<<"$targets"
    for target in "${target_list[@]}"; do
        addr=${target%:*} tport=${target##*:}
        [[ "$target" == *:* && " $rs_addrs " == *" $addr "* ]] ||
            die "KNAT_SERVICES: '$target' in '$svc' is not ADDR:PORT with ADDR a real server's (${rs_list:-none})"
        port_number "$tport" || die "KNAT_SERVICES: port $tport in '$svc' is not 1-65535"
        elements+="${elements:+, }$n : $addr . $tport"
        n=$((n + 1))
    done
    ((n > 0)) || die "KNAT_SERVICES: '$svc' has no target"
    KNAT_RULES+="		ip daddr $vip $proto dport $port dnat ip to numgen inc mod $n map { $elements }
"
done
case "$ARP_SUPPRESSION" in
1) ARP_IGNORE=1 ARP_ANNOUNCE=2 ;;
0) ARP_IGNORE=0 ARP_ANNOUNCE=0 ;;
*) die "ARP_SUPPRESSION must be 0 or 1, not '$ARP_SUPPRESSION'" ;;
esac
# NAT: the real servers hold no VIP, so there is nothing to suppress: kernel defaults.
if [[ "$LAYOUT" != dr ]]; then ARP_IGNORE=0 ARP_ANNOUNCE=0; fi

NS_SW="$PREFIX-sw" # the LAN switch (bridge br0; nat2: also br1) and the directors' TAPs
NS_RT="$PREFIX-rt" # the router between the clients and the LAN
NS_CL="$PREFIX-cl" # the clients (own 198.19.0.0/16)
NS_KN="$PREFIX-kn" # knat: the kernel NAT box
ALL_NS=("$NS_SW" "$NS_RT" "$NS_CL")
if [[ "$LAYOUT" == knat ]]; then ALL_NS+=("$NS_KN"); fi
for rs in $REAL_SERVERS; do ALL_NS+=("$PREFIX-${rs%%=*}"); done
for peer in $PEERS; do ALL_NS+=("$PREFIX-${peer%%=*}"); done

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
BRIDGES=(br0)
if [[ "$RS_BRIDGE" == br1 ]]; then BRIDGES+=(br1); fi # nat2, knat: the inside segment 198.18.1.0/24
for br in "${BRIDGES[@]}"; do
    step "switch: bridge $br in $NS_SW"
    ip -n "$NS_SW" link add "$br" type bridge stp_state 0 forward_delay 0 mcast_snooping 0
    ip -n "$NS_SW" link set "$br" up
done

# plug HOST_NS PORT BRIDGE: a veth pair whose host end is `eth0` in HOST_NS and whose switch end,
# named PORT after the host, is a port of BRIDGE. Created inside the two namespaces, never in the
# root namespace.
# A wired host (WIRED) gets two TAPs instead: eth0 in HOST_NS and PORT on the switch, which its
# `tapvs wire` joins.
plug() {
    if wired "$2"; then
        ip -n "$1" tuntap add dev eth0 mode tap
        ip -n "$NS_SW" tuntap add dev "$2" mode tap
    else
        ip -n "$NS_SW" link add "$2" type veth peer name eth0 netns "$1"
    fi
    ip -n "$NS_SW" link set "$2" master "$3" up
    ip -n "$1" link set eth0 up
}

# --- Router ----------------------------------------------------------------------------------------
step "router $NS_RT: eth0 198.18.0.1/24 on the LAN"
plug "$NS_RT" rt br0
ip netns exec "$NS_RT" sysctl -q -w net.ipv4.ip_forward=1 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0
ip -n "$NS_RT" addr add 198.18.0.1/24 dev eth0

step "client link: router cl0 198.18.3.1/24 <-> client eth0 198.18.3.2/24"
if wired cl; then # two TAPs, joined by the clients' wire
    ip -n "$NS_CL" tuntap add dev eth0 mode tap
    ip -n "$NS_RT" tuntap add dev cl0 mode tap
else
    ip -n "$NS_RT" link add cl0 type veth peer name eth0 netns "$NS_CL"
fi
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
# dr: each holds its LAN address on eth0 and every VIP as /32 on lo, default route via the router.
# The ARP sysctls are written before any address exists, so the server never answers or announces a
# VIP by mistake.
# nat2/nat1: its address on eth0 (on br1 / br0), no VIP, and one route besides its own subnet: the
# default via the directors' gateway, so every reply to a client (198.19.0.0/16) goes back through a
# director to be rewritten. The ARP sysctls are the kernel defaults, written explicitly.
for rs in $REAL_SERVERS; do
    name=${rs%%=*} addr=${rs#*=}
    ns="$PREFIX-$name"
    if [[ "$LAYOUT" == dr ]]; then on_lo="VIPs on lo"; else on_lo="no VIP"; fi
    step "real server $ns: eth0 $addr/24 on $RS_BRIDGE, default via $RS_GATEWAY, $on_lo, arp_ignore=$ARP_IGNORE arp_announce=$ARP_ANNOUNCE"
    plug "$ns" "$name" "$RS_BRIDGE"
    ip netns exec "$ns" sysctl -q -w \
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0 \
        net.ipv4.conf.all.arp_ignore=$ARP_IGNORE net.ipv4.conf.eth0.arp_ignore=$ARP_IGNORE \
        net.ipv4.conf.all.arp_announce=$ARP_ANNOUNCE net.ipv4.conf.eth0.arp_announce=$ARP_ANNOUNCE
    ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" route add default via "$RS_GATEWAY"
    if [[ "$LAYOUT" == dr ]]; then
        for vip in $VIPS; do ip -n "$ns" addr add "$vip/32" dev lo; done
    fi
done

# --- Peers -----------------------------------------------------------------------------------------
# Plain LAN hosts (e.g. keepalived as a VRRP peer of the directors): the kernel's defaults otherwise.
for peer in $PEERS; do
    name=${peer%%=*} addr=${peer#*=}
    ns="$PREFIX-$name"
    step "peer $ns: eth0 $addr/24 on br0, default via 198.18.0.1"
    plug "$ns" "$name" br0
    ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" route add default via 198.18.0.1
done
# Inside legs (nat2): a peer that checks the real servers behind the directors (ldirectord) also
# has eth1 on br1; the real servers reach it on their own subnet, not through a director.
for leg in $INSIDE_LEGS; do
    name=${leg%%=*} addr=${leg#*=}
    ns="$PREFIX-$name"
    step "peer $ns: eth1 $addr/24 on br1"
    ip -n "$NS_SW" link add "${name}i" type veth peer name eth1 netns "$ns"
    ip -n "$NS_SW" link set "${name}i" master br1 up
    ip -n "$ns" addr add "$addr/24" dev eth1
    ip -n "$ns" link set eth1 up
done

# --- Kernel NAT box (knat) -------------------------------------------------------------------------
# In the directors' place: a router between br0 and br1 that owns d1's address and the VIPs (so it
# answers the router's ARP for them) and DNATs each service to the real servers, round robin. No
# SNAT: the real servers see the clients' addresses and answer via their default route, this box's
# eth1, where conntrack rewrites the replies' source back to VIP:PORT. Its only routes off its two
# segments lead the replies to the clients through the router.
if [[ "$LAYOUT" == knat ]]; then
    step "kernel NAT box $NS_KN: eth0 198.18.0.2/24 + VIPs on br0, eth1 $RS_GATEWAY/24 on br1"
    plug "$NS_KN" kn br0
    # eth1: a second veth pair, its switch end `kni` a port of br1.
    ip -n "$NS_SW" link add kni type veth peer name eth1 netns "$NS_KN"
    ip -n "$NS_SW" link set kni master br1 up
    ip -n "$NS_KN" link set eth1 up
    # arp_ignore=1/arp_announce=2: each arm answers and announces only its own segment's addresses.
    ip netns exec "$NS_KN" sysctl -q -w net.ipv4.ip_forward=1 \
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
        net.ipv4.conf.eth0.rp_filter=0 net.ipv4.conf.eth1.rp_filter=0 \
        net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
    ip -n "$NS_KN" addr add 198.18.0.2/24 dev eth0
    for vip in $VIPS; do ip -n "$NS_KN" addr add "$vip/32" dev eth0; done
    ip -n "$NS_KN" addr add "$RS_GATEWAY/24" dev eth1
    # Back to the clients (198.19/16, and the client link 198.18.3/24), through the router.
    ip -n "$NS_KN" route add 198.19.0.0/16 via 198.18.0.1
    ip -n "$NS_KN" route add 198.18.3.0/24 via 198.18.0.1

    step "kernel NAT box $NS_KN: nftables table ip tapvs_knat ($STATE_DIR/knat.nft)"
    {
        echo "table ip tapvs_knat {"
        echo "	chain prerouting {"
        echo "		type nat hook prerouting priority dstnat; policy accept;"
        printf '%s' "$KNAT_RULES"
        echo "	}"
        echo "}"
    } >"$STATE_DIR/knat.nft"
    ip netns exec "$NS_KN" nft -f "$STATE_DIR/knat.nft"
fi

# --- Directors' TAPs -------------------------------------------------------------------------------
# Persistent TAPs on the switch. A director process runs inside $NS_SW and opens its TAP by name; the
# port has no carrier (and forwards nothing) until then. Its addresses live in userspace.
# nat2: a second TAP `<director>i` on br1, the director's inside arm (198.18.1.2, .3 and the floating
# gateway live in userspace too).
for d in $DIRECTORS; do
    step "director TAP $d on br0 in $NS_SW"
    ip -n "$NS_SW" tuntap add dev "$d" mode tap
    if wired "$d"; then
        step "director $d wired: TAP $d and TAP ${d}wa on bridge ${d}br, TAP ${d}wb on br0"
        ip -n "$NS_SW" link add "${d}br" type bridge stp_state 0 forward_delay 0 mcast_snooping 0
        ip -n "$NS_SW" link set "${d}br" up
        ip -n "$NS_SW" link set "$d" master "${d}br" up
        ip -n "$NS_SW" tuntap add dev "${d}wa" mode tap
        ip -n "$NS_SW" link set "${d}wa" master "${d}br" up
        ip -n "$NS_SW" tuntap add dev "${d}wb" mode tap
        ip -n "$NS_SW" link set "${d}wb" master br0 up
    else
        ip -n "$NS_SW" link set "$d" master br0 up
    fi
    if [[ "$LAYOUT" == nat2 ]]; then
        step "director inside TAP ${d}i on br1 in $NS_SW"
        ip -n "$NS_SW" tuntap add dev "${d}i" mode tap
        ip -n "$NS_SW" link set "${d}i" master br1 up
    fi
done

step "done"
echo "lab $PREFIX ($LAYOUT) is up; state dir $STATE_DIR"
echo "  namespaces: ${ALL_NS[*]}"
echo "  watch the LAN:  ip netns exec $NS_SW tcpdump -ni br0"
if [[ "$RS_BRIDGE" == br1 ]]; then echo "  watch inside:   ip netns exec $NS_SW tcpdump -ni br1"; fi
if [[ "$LAYOUT" == knat ]]; then echo "  NAT rules:      ip netns exec $NS_KN nft list ruleset"; fi
echo "  bring it down:  PREFIX=$PREFIX bash netns/lab-down.sh"
