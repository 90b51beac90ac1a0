#!/usr/bin/env bash
# lab-down.sh: remove one tapvs lab: exactly the namespaces `<PREFIX>-*` and /run/tapvs/<PREFIX>/.
#
# Run as root, for example:
#   PREFIX=tv1234 bash netns/lab-down.sh
#
# Deleting a namespace removes everything in it: the bridges (br0, and br1 in the nat2 and knat
# layouts), the veth pairs (both ends; a pair never outlives either of its namespaces), the
# directors' TAPs, and knat's nftables table and conntrack entries (they belong to `<PREFIX>-kn`).
# Nothing of a lab lives in the root namespace, so nothing else needs removing. The same for every
# LAYOUT: no parameter but PREFIX is needed.
#
# Processes still running inside the lab are NOT killed (whoever started them ends them, by PID);
# they are listed on stderr, and keep their namespace alive, unnamed, until they exit.
#
# Removing a lab that is already (partly) gone is not an error, so this is safe to run twice and
# safe to run concurrently with `tapvs lab clean`. Nothing here reads standard input: tapvs feeds
# this very script to `bash -s`.
set -Eeuo pipefail

STEP="checking parameters"
step() {
    STEP="$1"
    if [[ "${VERBOSE:-0}" == 1 ]]; then echo "lab-down: $STEP" >&2; fi
}
die() {
    echo "lab-down: FAILED at step: $STEP" >&2
    echo "lab-down:   $*" >&2
    exit 1
}
trap 'echo "lab-down: FAILED at step: $STEP" >&2; echo "lab-down:   line $LINENO: $BASH_COMMAND" >&2' ERR

PREFIX=${PREFIX:-}
[[ "$PREFIX" =~ ^tv[0-9a-f]{4}$ ]] || die "PREFIX must be tv + 4 lowercase hex digits, not '$PREFIX'"
STATE_DIR="/run/tapvs/$PREFIX"

# Names of all namespaces whose name starts with "$PREFIX-".
lab_namespaces() {
    local listing name _
    # stderr hidden: `ip netns list` warns "Peer netns reference is invalid" (and still succeeds)
    # while another lab is being deleted.
    listing=$(ip netns list 2>/dev/null)
    while read -r name _; do
        if [[ "$name" == "$PREFIX"-* ]]; then echo "$name"; fi
    done <<<"$listing"
}

step "listing namespaces of $PREFIX"
namespaces=$(lab_namespaces)

step "looking for processes left in the lab"
for ns in $namespaces; do
    pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ') || true
    if [[ -n "$pids" ]]; then
        echo "lab-down: warning: processes still running in $ns (not killed): $pids" >&2
    fi
done

step "deleting namespaces"
errors=""
for ns in $namespaces; do
    # Fails harmlessly if someone else (a concurrent clean) deleted it first: checked below.
    errors+=$(ip netns del "$ns" 2>&1) || true
done
left=$(lab_namespaces)
[[ -z "$left" ]] || die "could not delete:" $left "${errors:+($errors)}"

step "removing state dir $STATE_DIR"
rm -rf -- "$STATE_DIR"

if [[ -n "$namespaces" ]]; then echo "lab $PREFIX is down:" $namespaces; fi
