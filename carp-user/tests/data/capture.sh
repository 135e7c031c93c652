#!/usr/bin/env bash
# Regenerates the ucarp captures in this folder: `capture.sh [singles|pair|inject|backup]...`
# (default: all). Needs root, iproute2, python3,
# tcpdump and the Debian `ucarp` package (1.5.2+git20192404.1a9aaf7).
# Everything runs inside a private network namespace that is deleted on exit,
# even on failure; only documentation/private test addresses are used.
set -euo pipefail

NS=xcb_cap
# ucarp logs local time; the replay tests line its log up with pcap (UTC).
export TZ=UTC
OUT=$(cd "$(dirname "$0")" && pwd)

cleanup() { ip netns del "$NS" 2>/dev/null || true; }
trap cleanup EXIT
cleanup

ip netns add "$NS"
ip -n "$NS" link add v0 type veth peer name v1
# Fixed NIC MACs so the GARP fixtures are stable.
ip -n "$NS" link set v0 address 02:00:00:00:99:01
ip -n "$NS" link set v1 address 02:00:00:00:99:02
ip -n "$NS" addr add 10.99.0.1/24 dev v0
ip -n "$NS" addr add 10.99.0.2/24 dev v1
ip -n "$NS" link set lo up
ip -n "$NS" link set v0 up
ip -n "$NS" link set v1 up
sleep 1

# capture NAME SECONDS UCARP-ARGS...: runs one ucarp on v0 and records
# everything it puts on the wire, as seen from the peer end v1.
capture() {
    local name=$1 secs=$2
    shift 2
    ip netns exec "$NS" tcpdump -i v1 -U -s 1500 -w "$OUT/$name.pcap" \
        'proto 112 or arp' 2>/dev/null &
    local tcpdump_pid=$!
    sleep 1
    ip netns exec "$NS" timeout "$secs" ucarp -i v0 -s 10.99.0.1 "$@" \
        >"$OUT/$name.log" 2>&1 || true
    sleep 1
    kill "$tcpdump_pid"
    wait "$tcpdump_pid" 2>/dev/null || true
}

singles() {
# Default: multicast to 224.0.0.18, advbase 1, advskew 0.
capture ucarp_default 7 -v 42 -p love -a 10.99.0.252 -P -n
# --nomcast: broadcast destination MAC, IP destination still the group.
capture ucarp_nomcast 7 -v 42 -p love -a 10.99.0.252 -P -n -M
# Non-default advbase/advskew.
capture ucarp_advskew 12 -v 7 -p secret -a 10.99.0.253 -P -n --advbase=2 --advskew=100
# Custom multicast group.
capture ucarp_mcast 7 -v 200 -p love -a 10.99.0.254 -P -n --mcast=239.192.0.1
}

# Two real ucarp instances on either end of the veth, same vhid and interval:
# A (10.99.0.1) becomes MASTER with random counters, B (10.99.0.2) starts as
# BACKUP and adopts A's counter; SIGUSR2 makes A step down, so B takes over
# and its first adverts continue from A's last counter + 1.
pair() {
ip netns exec "$NS" tcpdump -i v1 -U -s 1500 -w "$OUT/ucarp_pair.pcap" \
    'proto 112 or arp' 2>/dev/null &
tcpdump_pid=$!
sleep 1
ip netns exec "$NS" timeout 14 ucarp -i v0 -s 10.99.0.1 -v 9 -p pairpw -a 10.99.0.250 -n \
    >"$OUT/ucarp_pair_a.log" 2>&1 &
a_pid=$!
sleep 5
ip netns exec "$NS" timeout 9 ucarp -i v1 -s 10.99.0.2 -v 9 -p pairpw -a 10.99.0.250 -n \
    >"$OUT/ucarp_pair_b.log" 2>&1 &
b_pid=$!
sleep 2
kill -USR2 "$(pgrep -P "$a_pid" ucarp)"
wait "$b_pid" || true
wait "$a_pid" || true
sleep 1
kill "$tcpdump_pid"
wait "$tcpdump_pid" 2>/dev/null || true
}

# Frames built by inject.py (independently of xcarp) sent to a real ucarp
# MASTER (10.99.0.1, vhid 42, no preempt), same interval, two sources:
# - 10.99.0.3 (counter 1000): higher with octets reversed → ucarp keeps
#   MASTER, reasserts with a GARP and continues from counter 1001;
# - 10.99.1.0 (counter 2000): numerically higher than 10.99.0.1 but lower
#   with octets reversed → ucarp sends one advert (2001) and yields.
inject() {
ip netns exec "$NS" tcpdump -i v1 -U -s 1500 -w "$OUT/ucarp_inject.pcap" \
    'proto 112 or arp' 2>/dev/null &
tcpdump_pid=$!
sleep 1
ip netns exec "$NS" timeout 12 ucarp -i v0 -s 10.99.0.1 -v 42 -p love -a 10.99.0.252 -n \
    >"$OUT/ucarp_inject.log" 2>&1 &
ucarp_pid=$!
sleep 5
ip netns exec "$NS" "$OUT/inject.py" v1 10.99.0.3 42 love 10.99.0.252 1 0 1000 4660
sleep 3
ip netns exec "$NS" "$OUT/inject.py" v1 10.99.1.0 42 love 10.99.0.252 1 0 2000 22136
wait "$ucarp_pid" || true
sleep 1
kill "$tcpdump_pid"
wait "$tcpdump_pid" 2>/dev/null || true
}

# A BACKUP ucarp receiving injected adverts (BACKUP rules, notes §4.3):
# - ucarp_preempt: with --preempt, two equal-interval adverts from
#   10.99.0.3 keep it BACKUP; a third with advskew 10 (slower) makes it
#   preempt at once;
# - ucarp_timeout: without --preempt, one advert with advbase 4 (slower
#   than 3 × 1 s) makes it take over at once ("going to time out").
backup() {
ip netns exec "$NS" tcpdump -i v1 -U -s 1500 -w "$OUT/ucarp_preempt.pcap" \
    'proto 112 or arp' 2>/dev/null &
tcpdump_pid=$!
sleep 1
ip netns exec "$NS" timeout 8 ucarp -i v0 -s 10.99.0.1 -v 42 -p love -a 10.99.0.252 -P -n \
    >"$OUT/ucarp_preempt.log" 2>&1 &
ucarp_pid=$!
sleep 1
ip netns exec "$NS" "$OUT/inject.py" v1 10.99.0.3 42 love 10.99.0.252 1 0 100 1
sleep 1
ip netns exec "$NS" "$OUT/inject.py" v1 10.99.0.3 42 love 10.99.0.252 1 0 101 2
sleep 1
ip netns exec "$NS" "$OUT/inject.py" v1 10.99.0.3 42 love 10.99.0.252 1 10 102 3
wait "$ucarp_pid" || true
sleep 1
kill "$tcpdump_pid"
wait "$tcpdump_pid" 2>/dev/null || true

ip netns exec "$NS" tcpdump -i v1 -U -s 1500 -w "$OUT/ucarp_timeout.pcap" \
    'proto 112 or arp' 2>/dev/null &
tcpdump_pid=$!
sleep 1
ip netns exec "$NS" timeout 6 ucarp -i v0 -s 10.99.0.1 -v 42 -p love -a 10.99.0.252 -n \
    >"$OUT/ucarp_timeout.log" 2>&1 &
ucarp_pid=$!
sleep 1
ip netns exec "$NS" "$OUT/inject.py" v1 10.99.0.3 42 love 10.99.0.252 4 0 500 4
wait "$ucarp_pid" || true
sleep 1
kill "$tcpdump_pid"
wait "$tcpdump_pid" 2>/dev/null || true
}

# Scenarios to run: any of singles, pair, inject, backup (default: all).
for scenario in "${@:-singles pair inject backup}"; do
    for s in $scenario; do "$s"; done
done
