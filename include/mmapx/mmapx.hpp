// mmapx/mmapx.hpp - what a general user of mmapx needs, through one include.
//
// Included on purpose, by name, and not from here: mmapx/kmod.hpp (the
// reference kernel module's interface; it brings <linux/ioctl.h>), vfio.hpp
// (user-space PCI drivers; it brings <linux/vfio.h> and <linux/ioctl.h>), device
// register maps (mmapx/devices/edu.hpp) and test doubles
// (mmapx/reg/recording_bus.hpp), and ring.hpp, sync.hpp, sysv_shm.hpp and
// pkey.hpp, which bring futex, pthread, System V IPC and CPUID headers that
// most users do not need. tests/compile_fail/umbrella_*.cpp check it.
#pragma once

// The core: one owning region, its options and errors.
#include "error.hpp"
#include "number.hpp"
#include "options.hpp"
#include "page.hpp"
#include "region.hpp"
#include "typed.hpp"
#include "unique_fd.hpp"
#include "version.hpp"

// Backends.
#include "anonymous.hpp"
#include "device.hpp"
#include "devmem.hpp"
#include "file.hpp"
#include "memfd.hpp"
#include "pci.hpp"
#include "shm.hpp"
#include "uio.hpp"

// Reserved address space with regions placed inside it.
#include "reservation.hpp"

// SIGBUS-safe copies in and out of file mappings; sequential scans.
#include "scan.hpp"
#include "sigbus.hpp"

// Typed register maps.
#include "reg.hpp"
