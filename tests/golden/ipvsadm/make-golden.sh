#!/bin/sh
# Writes NAME.out for every line of `cases`: the output of the real /usr/sbin/ipvsadm 1.31
# (Debian) for a table given to it by fake-kernel.so (an LD_PRELOAD shim answering libipvs's
# IP_VS_SO_GET_* sockopts from TABLE.tab, and /proc/net/ip_vs_conn from TABLE.conn). Run as
# root (libipvs opens a raw socket) from this folder: sh make-golden.sh
set -eu
cd "$(dirname "$0")"
so=$(mktemp -d)/fake-kernel.so
gcc -shared -fPIC -O1 -o "$so" fake-kernel.c -ldl
grep -v '^#' cases | while IFS='|' read -r name table args; do
    IPVS_FAKE="$PWD/$table.tab" IPVS_FAKE_CONN="$PWD/$table.conn" LD_PRELOAD="$so" \
        /usr/sbin/ipvsadm $args > "$name.out"
done
rm -r "$(dirname "$so")"
