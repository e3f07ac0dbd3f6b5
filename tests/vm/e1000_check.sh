#!/bin/sh
# In-guest check of the user-space e1000 driver (mmapx-e1000) against Linux's
# own e1000.ko, on q35 + intel-iommu with two 82540EMs joined by a QEMU hub
# (run by tests/vm/run.py; see examples/e1000/meson.build for the machine).
#
# 1. Linux's e1000.ko drives both NICs: e1000-afpacket sends the test frames
#    through AF_PACKET, 64- and 1514-byte frames (60 and 1514 without FCS).
# 2. Both NICs move to vfio-pci; mmapx-e1000 sends the same frames, polling
#    and with interrupts, and a long mixed-size run with many ring wraps.
# 3. Errors: no such device, wrong driver, bad ring size, frame too long, a
#    descriptor pointing at an IOVA the IOMMU does not map.
# Under TCG only the ratio of the two drivers' frames/s means anything.
# Arguments (optional, for a benchmark by hand): COUNT frames per timed run
# (default 5000) and REPEAT runs of each (default 1; the median is reported).
set -u
failures=0
out=""
COUNT=${1:-5000}
REPEAT=${2:-1}

run() {
	want=$1
	shift
	out=$("$@" 2>&1)
	got=$?
	echo "\$ $*"
	echo "$out"
	if [ "$got" != "$want" ]; then
		echo "FAIL: exit status $got, expected $want"
		failures=$((failures + 1))
	fi
}
# bench VAR COMMAND...: runs COMMAND REPEAT times (each must pass and lose
# nothing), sets VAR to the median frames/s and shows every figure.
bench() {
	var=$1
	shift
	figures=""
	i=0
	while [ $i -lt "$REPEAT" ]; do
		run 0 "$@"
		expect "verified=$COUNT lost=0"
		figures="$figures $(echo "$out" | sed -n 's/.*frames\/s=\([0-9]*\).*/\1/p')"
		i=$((i + 1))
	done
	median=$(echo $figures | tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
	echo "frames/s of $REPEAT run(s):$figures; median $median"
	eval "$var=$median"
}
expect() {
	if ! echo "$out" | grep -q -- "$1"; then
		echo "FAIL: the output lacks '$1'"
		failures=$((failures + 1))
	fi
}

nics=""
for dev in /sys/bus/pci/devices/*; do
	if [ "$(cat "$dev/vendor")" = 0x8086 ] && [ "$(cat "$dev/device")" = 0x100e ]; then
		nics="$nics $(basename "$dev")"
	fi
done
set -- $nics
if [ $# != 2 ]; then
	echo "FAIL: expected two 82540EMs, found: $nics"
	exit 1
fi
A=$1
B=$2
echo "82540EMs: $A (sends) and $B (receives)"

# --- 1. the kernel's driver --------------------------------------------------
insmod /modules/e1000.ko || exit 1
run 2 mmapx-e1000 info "$A"
expect "bound to e1000, not to vfio-pci"
ifa=$(ls "/sys/bus/pci/devices/$A/net")
ifb=$(ls "/sys/bus/pci/devices/$B/net")
run 2 e1000-afpacket "$ifa" "$ifb" 0 60
expect "COUNT must be 1 to 2^32-1"
run 2 e1000-afpacket "$ifa" "$ifb" 10 59
expect "SIZE must be 60 to 1514"
run 2 e1000-afpacket "$ifa" "$ifb" 10 60 0
expect "WINDOW must be 1 to 4096"
bench kernel64 e1000-afpacket "$ifa" "$ifb" "$COUNT" 60
bench kernel1514 e1000-afpacket "$ifa" "$ifb" "$COUNT" 1514
rmmod e1000

# --- 2. the user-space driver ------------------------------------------------
for m in irqbypass vfio vfio_iommu_type1 vfio_virqfd vfio-pci-core vfio-pci; do
	grep -q "^$(echo $m | tr - _) " /proc/modules || insmod "/modules/$m.ko" || exit 1
done
for d in "$A" "$B"; do
	echo vfio-pci > "/sys/bus/pci/devices/$d/driver_override"
	echo "$d" > /sys/bus/pci/drivers_probe
done

run 2 mmapx-e1000 info 0000:00:1f.7
expect "no 82540EM (8086:100e) at 0000:00:1f.7"
run 0 mmapx-e1000 info "$A"
expect "link up, 1000 Mb/s full duplex"
expect "MAC (EEPROM words 0-2): 52:54:00:12:34:01"
expect "MAC (RAL0/RAH0): 52:54:00:12:34:01 (valid)"
run 0 mmapx-e1000 dump "$A"
expect "icr              (not read: reads have side effects)"
expect "gprc             (not read: reads have side effects)"

run 0 mmapx-e1000 dump "$A" --statistics
expect "read-clear statistics: gptc="

# send and recv as two processes, broadcast frames of every size.
mmapx-e1000 recv "$B" 100 60 > /tmp/recv.out 2>&1 &
receiver=$!
waited=0
while ! grep -q "receiving on" /tmp/recv.out && [ $waited -lt 60 ]; do
	sleep 1
	waited=$((waited + 1))
done
run 0 mmapx-e1000 send "$A" 100 mixed
expect "sent 100 frames"
wait $receiver
got=$?
out=$(cat /tmp/recv.out)
echo "\$ mmapx-e1000 recv $B 100 60 (in the background)"
echo "$out"
if [ "$got" != 0 ]; then
	echo "FAIL: recv exited $got"
	failures=$((failures + 1))
fi
expect "received 100 frames, 100 verified, 0 wrong"

bench user64 mmapx-e1000 loop "$A" "$B" "$COUNT" 60
bench user1514 mmapx-e1000 loop "$A" "$B" "$COUNT" 1514
bench irq64 mmapx-e1000 loop "$A" "$B" "$COUNT" 60 --interrupts
bench irq1514 mmapx-e1000 loop "$A" "$B" "$COUNT" 1514 --interrupts

# Many wrap-arounds of small rings, every size from 60 to 1514, both modes.
run 0 mmapx-e1000 loop "$A" "$B" 10000 mixed --rx-ring=64 --tx-ring=32 --window=24
expect "verified=10000 lost=0"
expect "ring wrap-arounds: tx 312 (ring 32), rx 156 (ring 64)"
run 0 mmapx-e1000 loop "$A" "$B" 10000 mixed --interrupts --rx-ring=64 --tx-ring=32 --window=24
expect "mode=interrupts"
expect "verified=10000 lost=0"
if echo "$out" | grep -q "^interrupts: 0$"; then
	echo "FAIL: no interrupt counted in interrupt mode"
	failures=$((failures + 1))
fi

# --- 3. errors -----------------------------------------------------------------
run 2 mmapx-e1000 loop "$A" "$B" 10 60 --rx-ring=12
expect "receive ring of 12 descriptors: the 82540EM takes a multiple of 8"
run 2 mmapx-e1000 loop "$A" "$B" 10 2000
expect "frame of 2000 bytes"
run 2 mmapx-e1000 loop "$A" "$B" 10 60 --rx-ring=64 --window=64
expect "must be smaller than the receive ring (64 descriptors)"
run 2 mmapx-e1000 loop "$A" "$B" 0 60
expect "COUNT must be 1 to 2^32-1"
run 2 mmapx-e1000 loop ../../../dev/mem "$B" 10 60
expect "no 82540EM (8086:100e) at ../../../dev/mem"
run 3 mmapx-e1000 fault "$A" "$B"
expect "frame 0 (mapped buffer): received intact"
expect "device error: frame 1"
expect "device error: the device took transmit descriptors but wrote none back"
expect "frame 3 (ring set up again): received intact"

echo "frames/s under TCG (only the ratio means anything), median of $REPEAT run(s) of $COUNT frames:"
echo "  64-byte frames:   mmapx-e1000 polling $user64, interrupts $irq64; kernel e1000.ko $kernel64"
echo "  1514-byte frames: mmapx-e1000 polling $user1514, interrupts $irq1514; kernel e1000.ko $kernel1514"
if [ -n "$kernel64" ] && [ -n "$user64" ] && [ -n "$kernel1514" ] && [ -n "$user1514" ] &&
	[ -n "$irq64" ] && [ -n "$irq1514" ]; then
	awk -v a="$user64" -v b="$kernel64" -v c="$user1514" -v d="$kernel1514" -v e="$irq64" -v f="$irq1514" \
		'BEGIN { printf "  ratio mmapx/kernel, polling: 64 bytes %.2f, 1514 bytes %.2f; interrupts: 64 bytes %.2f, 1514 bytes %.2f\n", a / b, c / d, e / b, f / d }'
fi
echo "failures: $failures"
[ "$failures" = 0 ]
