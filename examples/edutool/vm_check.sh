#!/bin/sh
# In-guest check of the example tools edutool and devmem against QEMU's edu
# device. Two machines run it (examples/edutool/meson.build):
#   vm_check.sh        UIO and kernel-module mode: both tools in /bin, the UIO
#                      modules and mmapx_kmod loaded, edu with a 32-bit DMA mask
#   vm_check.sh vfio   edutool --vfio: q35 with QEMU's Intel IOMMU, the VFIO
#                      modules loaded, edu with its default 28-bit DMA mask
# Each step runs one command and checks its exit status and a piece of its output.
set -u
failures=0
out=""

# run EXPECTED_STATUS COMMAND...: runs it, shows it, keeps its output in $out.
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

# expect TEXT: the last output contains TEXT (a grep pattern).
expect() {
	if ! echo "$out" | grep -q -- "$1"; then
		echo "FAIL: the output lacks '$1'"
		failures=$((failures + 1))
	fi
}

edu=""
for dev in /sys/bus/pci/devices/*; do
	if [ "$(cat "$dev/vendor")" = 0x1234 ] && [ "$(cat "$dev/device")" = 0x11e8 ]; then
		edu=$(basename "$dev")
	fi
done
bar0=$(head -n 1 "/sys/bus/pci/devices/$edu/resource" | cut -d ' ' -f 1)
echo "edu at $edu, BAR0 at $bar0"

# edutool --vfio: everything through VFIO, DMA into IOMMU-mapped anonymous memory.
if [ "${1:-}" = vfio ]; then
	run 3 edutool --vfio info
	expect "bound to no driver, not to vfio-pci"
	expect "echo vfio-pci > /sys/bus/pci/devices/$edu/driver_override"
	echo vfio-pci > "/sys/bus/pci/devices/$edu/driver_override"
	echo "$edu" > /sys/bus/pci/drivers_probe
	run 0 edutool --vfio info
	expect "edu $edu: version 1.0"
	expect "vfio: BAR0 region at descriptor offset 0x0, mappable"
	expect "vfio: IOVA range 0x0-0xfedfffff"
	run 0 edutool --vfio dump
	expect "0x0000 id  *0x010000ed  code=0xed minor=0x0 major=0x1"
	run 0 edutool --vfio live 100
	expect "100 of 100 values came back complemented"
	run 0 edutool --vfio fact 10
	expect "10! = 3628800 (0x375f00)"
	run 0 edutool --vfio fact 12 --irq
	expect "completion interrupt through VFIO MSI (cause 0x1)"
	expect "12! = 479001600"
	run 0 edutool --vfio irq 5
	expect "5 of 5 MSI interrupts arrived"
	run 0 edutool --vfio irq 4 --intx
	expect "4 of 4 INTx interrupts arrived"
	run 0 edutool --vfio dma
	expect "anonymous memory at IOVA 0x.* -> edu -> IOVA 0x.*: verified"
	run 0 edutool --vfio dma --dma-bits 40
	expect "verified"
	run 3 edutool --vfio dma --dma-bits 12
	expect "no free IOVA range of 0x2000 bytes below the limit 0xfff"
	run 2 edutool irq 3
	expect "irq needs --vfio"
	run 2 edutool --vfio irq 3 --msi
	run 3 edutool --vfio --device 0000:00:1f.7 info
	expect "0000:00:1f.7"
	echo "$failures failure(s)"
	[ "$failures" = 0 ]
	exit
fi

# --- edutool ---
run 0 edutool --help
expect "usage: edutool"
run 2 edutool
expect "no command"
run 2 edutool frobnicate
expect "unknown command"
run 0 edutool info
expect "edu $edu: version 1.0"
run 0 edutool dump
expect "0x0000 id  *0x010000ed  code=0xed minor=0x0 major=0x1"
run 0 edutool live 100
expect "100 of 100 values came back complemented"
run 0 edutool fact 10
expect "10! = 3628800 (0x375f00)"
run 2 edutool fact 13
expect "n <= 12"
run 2 edutool fact ten
run 3 edutool fact 5 --irq
expect "has no UIO device"
run 3 edutool --device 0000:00:1f.7 info
expect "0000:00:1f.7"
echo "1234 11e8" > /sys/bus/pci/drivers/uio_pci_generic/new_id
run 0 edutool fact 12 --irq
expect "completion interrupt 1 (cause 0x1)"
expect "12! = 479001600"
run 0 edutool fact 7 --irq
expect "completion interrupt 2"
run 0 edutool dma --dma-bits 32
expect "verified"
run 2 edutool dma --dma-bits 99

# --- mmapx-devmem ---
run 0 mmapx-devmem --help
expect "usage: mmapx-devmem"
run 0 mmapx-devmem "$bar0"
expect ": 0x010000ed"
run 0 mmapx-devmem "$((bar0 + 4))" 0x12345678
expect "read 0x.*: 0xedcba987"
run 0 mmapx-devmem --width 64 --pci "$edu" 0x80 0x1000
expect "read 0x80: 0x0000000000001000"
run 0 mmapx-devmem --pci "$edu" 0x0
expect "read 0x0: 0x010000ed"
run 0 mmapx-devmem --map edu dump
expect "liveness"
run 0 mmapx-devmem --map edu id
expect "code=0xed"
run 0 mmapx-devmem --map edu status.irq_on_done=1
run 0 mmapx-devmem --map edu status.irq_on_done
expect "status.irq_on_done = 0x1"
run 0 mmapx-devmem --map edu status.irq_on_done=0
run 0 mmapx-devmem --map edu status
expect "computing=0 irq_on_done=0"
run 0 mmapx-devmem --map edu irq_raise=0
expect "write-only"
run 2 mmapx-devmem --map edu nosuch
run 2 mmapx-devmem --map edu id=5
run 2 mmapx-devmem --map edu "status.irq_on_done=2"
run 2 mmapx-devmem --map floppy dump
run 2 mmapx-devmem --width 12 0
run 2 mmapx-devmem 0x3
expect "aligned"
run 3 mmapx-devmem 0x1000000
expect "STRICT_DEVMEM"
run 2 mmapx-devmem --pci 0000:00:04 0
expect "expected DDDD:BB:DD.F"

echo "$failures failure(s)"
[ "$failures" = 0 ]
