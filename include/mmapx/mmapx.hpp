// mmapx/mmapx.hpp - everything in mmapx through one include (device maps such
// as mmapx/devices/edu.hpp are included on their own).
#pragma once

// The core: one owning region, its options and errors.
#include "error.hpp"
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
#include "kmod.hpp"
#include "memfd.hpp"
#include "pci.hpp"
#include "shm.hpp"
#include "uio.hpp"
#include "vfio.hpp"

// SIGBUS-safe copies in and out of file mappings.
#include "sigbus.hpp"

// Typed register maps.
#include "reg.hpp"
