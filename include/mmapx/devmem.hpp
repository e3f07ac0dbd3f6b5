// mmapx/devmem.hpp - physical memory through /dev/mem, at any alignment.
//
//   auto regs = mmapx::map_physical(0xfebf0000, 0x100);          // uncached
//   auto rom  = mmapx::map_physical<mmapx::access::read>(0xf0000, 0x10000,
//                                                        {.cache = mmapx::devmem_cache::cached});
//
// The kernel decides what may be mapped: it needs root or CAP_SYS_RAWIO, and
// with CONFIG_STRICT_DEVMEM (Debian's default) it refuses RAM beyond the first
// MiB and, with IO_STRICT_DEVMEM, device memory a driver has claimed. Each
// refusal is reported with an explanation and the address.
#pragma once

#include "device.hpp"

namespace mmapx {

/// The caching map_physical asks for.
enum class devmem_cache {
  uncached,  ///< O_SYNC: the right choice for device registers
  cached,    ///< write-back where the kernel allows it (RAM, ROM shadows)
};

/// Options of map_physical.
struct devmem_options {
  /// Uncached by default: right for device registers, slow for RAM.
  devmem_cache cache = devmem_cache::uncached;
  /// Mapping options: population, locking, placement.
  map_options map{};
  const char* path = "/dev/mem";  ///< another memory device, e.g. in a container
};

namespace detail {

/// Rewrites the bare errno of a refused open or mmap into what the caller must know.
inline void explain_devmem_failure(failure& f) noexcept {
  const bool opening = f.step == stage::open;
  if (f.code == std::errc::no_such_file_or_directory && opening) {
    f.operation = "open (no /dev/mem: kernel without CONFIG_DEVMEM, or /dev not populated)";
  } else if ((f.code == std::errc::permission_denied || f.code == std::errc::operation_not_permitted) &&
             opening) {
    f.operation = "open (/dev/mem needs root or CAP_SYS_RAWIO)";
  } else if (f.code == std::errc::operation_not_permitted || f.code == std::errc::permission_denied) {
    f.operation =
        "map physical range (refused by the kernel: STRICT_DEVMEM allows no RAM beyond the first "
        "MiB and no device memory claimed by a driver)";
  } else if (f.code == std::errc::invalid_argument || f.code == std::errc::value_too_large) {
    f.operation = "map physical range (outside the physical address space)";
  } else if (f.step == stage::map) {
    f.operation = "map physical range";
  }
}

template <access A>
region<A> map_physical_impl(std::uint64_t address, std::size_t length, const devmem_options& o,
                            failure& f) noexcept {
  auto r = map_device_impl<A>(o.path, address, length,
                              {.sync = o.cache == devmem_cache::uncached, .map = o.map}, f);
  if (f) {
    explain_devmem_failure(f);
    f.at(address);
  }
  return r;
}

}  // namespace detail

/// Maps [address, address + length) of physical memory; any alignment.
template <access A = access::read_write>
region<A> map_physical(std::uint64_t address, std::size_t length, const devmem_options& opts = {}) {
  return detail::throwing([&](detail::failure& f) { return detail::map_physical_impl<A>(address, length, opts, f); });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
template <access A = access::read_write>
region<A> map_physical(std::uint64_t address, std::size_t length, const devmem_options& opts,
                       std::error_code& ec) noexcept {
  return detail::reporting(ec, [&](detail::failure& f) { return detail::map_physical_impl<A>(address, length, opts, f); });
}

}  // namespace mmapx
