#!/bin/sh
# tests/vm/vfio_bind.sh PROGRAM [ARG...] - binds every edu device (PCI
# 1234:11e8) to vfio-pci the way docs/vfio.md says, then runs PROGRAM: for
# programs that expect a machine already set up, such as the docs' examples.
for dev in /sys/bus/pci/devices/*; do
	if [ "$(cat "$dev/vendor")" = 0x1234 ] && [ "$(cat "$dev/device")" = 0x11e8 ]; then
		echo vfio-pci > "$dev/driver_override"
		basename "$dev" > /sys/bus/pci/drivers_probe
	fi
done
exec "$@"
