#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR MIT
# Hosts in network namespaces on this machine, for the bridge's tests and
# benchmark (docs/bridge.md): N namespaces PREFIX-1 .. PREFIX-N, each with
# one interface eth0 at SUBNET.I/24, all plugged into a Linux bridge in a
# namespace of their own, PREFIX-sw (nothing is added to the root
# namespace).  Needs root (ip netns).
#
#   netns.sh up PREFIX N SUBNET      e.g. up rbt42 3 10.201.42
#   netns.sh link PREFIX I down|up   unplugs / plugs host I's cable
#   netns.sh down PREFIX             removes every namespace of PREFIX
#
# Namespaces share the file system, so /dev/shm (and a region directory)
# is the same in all of them: only the network is apart.
set -eu

usage() { echo "usage: netns.sh up PREFIX N SUBNET | link PREFIX I down|up | down PREFIX" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1 prefix=$2
case $prefix in *[!A-Za-z0-9_]*|'') echo "netns.sh: bad PREFIX '$prefix'" >&2; exit 2;; esac

down() {
  for ns in $(ip netns list | awk '{print $1}'); do
    case $ns in "$prefix"-*) ip netns del "$ns" 2>/dev/null || true;; esac
  done
}

case $cmd in
up)
  [ $# -eq 4 ] || usage
  n=$3 subnet=$4
  down
  trap 'down' EXIT
  ip netns add "$prefix-sw"
  ip -n "$prefix-sw" link add br0 type bridge
  ip -n "$prefix-sw" link set br0 up
  ip -n "$prefix-sw" link set lo up
  i=1
  while [ "$i" -le "$n" ]; do
    ns=$prefix-$i
    ip netns add "$ns"
    # the pair is made in the host's namespace, its other end moved to the switch
    ip -n "$ns" link add eth0 type veth peer name p$i netns "$prefix-sw"
    ip -n "$prefix-sw" link set p$i master br0 up
    ip -n "$ns" addr add "$subnet.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    i=$((i + 1))
  done
  trap - EXIT
  ;;
link)
  [ $# -eq 4 ] || usage
  case $4 in up|down) ;; *) usage;; esac
  ip -n "$prefix-sw" link set "p$3" "$4"
  ;;
down)
  [ $# -eq 2 ] || usage
  down
  ;;
*) usage ;;
esac
