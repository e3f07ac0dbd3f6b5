// mmapx/pci.hpp - PCI memory BARs through sysfs (resourceN, resourceN_wc).
//
//   for (auto& dev : mmapx::find_pci_devices(0x1234, 0x11e8)) ...
//   auto bar0 = mmapx::map_pci_bar("0000:00:04.0", 0);
//
// The BAR's size and kind come from the device's sysfs `resource` file, so a
// mapping is checked against the real BAR. I/O-port BARs cannot be mapped and
// are refused; a prefetchable BAR can also be mapped write-combining.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "detail/sysfs.hpp"
#include "device.hpp"

namespace mmapx {

/// One BAR as the kernel describes it in sysfs.
struct pci_bar {
  /// 0 to 5: which BAR, i.e. which sysfs resourceN file.
  unsigned index = 0;
  std::uint64_t address = 0;  ///< bus address of the BAR's start
  std::uint64_t size = 0;     ///< 0: the BAR is not implemented
  bool io = false;            ///< I/O-port space: not mappable
  bool prefetchable = false;  ///< resourceN_wc exists: write-combining possible
  /// A 64-bit memory BAR: it takes two BAR registers, so the next index is unused.
  bool is_64bit = false;
};

/// Which part of a BAR map_pci_bar maps, and how.
struct pci_map_options {
  std::uint64_t offset = 0;      ///< into the BAR
  std::size_t length = 0;        ///< 0: to the end of the BAR
  bool write_combining = false;  ///< resourceN_wc; only for prefetchable BARs
  /// Mapping options: population, locking, placement.
  map_options map{};
};

/// BARs per PCI function: valid indices are 0 to pci_bar_count - 1.
inline constexpr unsigned pci_bar_count = 6;

namespace detail {

inline constexpr const char* pci_address_syntax = "PCI address (expected DDDD:BB:DD.F, e.g. 0000:00:04.0)";

/// Flags of the `resource` file (include/linux/ioport.h).
inline constexpr std::uint64_t ioresource_io = 0x100;
inline constexpr std::uint64_t ioresource_mem = 0x200;
inline constexpr std::uint64_t ioresource_prefetch = 0x2000;
inline constexpr std::uint64_t ioresource_mem_64 = 0x100000;

inline bool is_hex(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/// Accepts exactly the form sysfs uses: "0000:00:04.0". Also what keeps a
/// caller's string from reaching a path outside the device directory.
inline bool check_pci_address(std::string_view address, failure& f) noexcept {
  f.subject = address;
  const std::string_view a = address;  // an embedded NUL makes it longer than 12: refused
  bool ok = a.size() == 12 && a[4] == ':' && a[7] == ':' && a[10] == '.' && a[11] >= '0' && a[11] <= '7';
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) ok = ok && i < a.size() && is_hex(a[i]);
  if (!ok) return f.fail(errc::parse_error, pci_address_syntax);
  return true;
}

/// Reads BAR `index` from line `index` of the device's sysfs `resource`
/// table ("start end flags" in hex).
inline bool read_pci_resource(std::string_view address, unsigned index, pci_bar& bar, failure& f) noexcept {
  const char* op = "read sysfs resource of PCI device";
  const sysfs_path path("%s/%.*s/resource", sysfs_pci_devices, static_cast<int>(address.size()), address.data());
  char text[1024];
  sysfs_resource line;
  if (path.check(f, op)) {
    const std::size_t length = read_sysfs_text(path.c_str(), text, sizeof text, op, f);
    if (!f) parse_sysfs_resource({text, length}, index, line, op, f);
  }
  f.subject = address;  // `path` is about to go away; the address says the same
  if (f) return false;
  bar = pci_bar{};
  bar.index = index;
  bar.address = line.start;
  const bool implemented = line.end > line.start || (line.end == line.start && line.flags != 0);
  bar.size = implemented ? line.end - line.start + 1 : 0;
  bar.io = (line.flags & ioresource_io) != 0;
  bar.prefetchable = (line.flags & ioresource_mem) != 0 && (line.flags & ioresource_prefetch) != 0;
  bar.is_64bit = (line.flags & ioresource_mem_64) != 0;
  return true;
}

inline pci_bar pci_bar_impl(std::string_view address, unsigned index, failure& f) noexcept {
  pci_bar bar;
  if (!check_pci_address(address, f)) return bar;
  if (index >= pci_bar_count) {
    f.at(index).fail(std::make_error_code(std::errc::invalid_argument), "PCI BAR index (0 to 5)");
    return bar;
  }
  read_pci_resource(address, index, bar, f);
  return bar;
}

/// Rewrites the bare errno of a refused open or mmap of a BAR into what the
/// caller must know (as devmem.hpp does for /dev/mem); the code is kept.
inline void explain_pci_bar_failure(failure& f) noexcept {
  const bool refused = f.code == std::errc::operation_not_permitted || f.code == std::errc::permission_denied;
  if (f.step == stage::open) {
    f.operation = refused ? "open sysfs resource file of PCI BAR (needs root)" : "open sysfs resource file of PCI BAR";
  } else if (f.step == stage::map) {
    f.operation = refused ? "map PCI BAR (refused by the kernel: needs root or CAP_SYS_ADMIN; forbidden under "
                            "kernel lockdown; or a driver has claimed the BAR exclusively)"
                          : "map PCI BAR";
  }
}

template <access A>
region<A> map_pci_bar_impl(std::string_view address, unsigned index, const pci_map_options& o,
                           failure& f) noexcept {
  const pci_bar bar = pci_bar_impl(address, index, f);
  if (f) return {};
  f.at(index);
  if (bar.size == 0) {
    f.fail(std::make_error_code(std::errc::no_such_device_or_address), "map PCI BAR (the BAR is not implemented)");
    return {};
  }
  if (bar.io) {
    f.fail(std::make_error_code(std::errc::operation_not_supported),
           "map PCI BAR (an I/O-port BAR cannot be memory-mapped; use port I/O)");
    return {};
  }
  if (o.write_combining && !bar.prefetchable) {
    f.fail(std::make_error_code(std::errc::operation_not_supported),
           "map PCI BAR write-combining (the BAR is not prefetchable, so it has no resourceN_wc)");
    return {};
  }
  if (o.offset > bar.size || (o.length != 0 && !range_within(o.offset, o.length, bar.size))) {
    f.at(o.offset).fail(errc::range_outside_region, "map PCI BAR (range outside the BAR)");
    return {};
  }
  const std::size_t length = o.length != 0 ? o.length : static_cast<std::size_t>(bar.size - o.offset);
  const sysfs_path path("%s/%.*s/resource%u%s", sysfs_pci_devices, static_cast<int>(address.size()), address.data(),
                        index, o.write_combining ? "_wc" : "");
  if (!path.check(f, "open sysfs resource file of PCI BAR")) return {};
  auto r = map_device_impl<A>(path.c_str(), o.offset, length, {.map = o.map}, f);
  f.subject = address;  // shorter than the sysfs path, and says the same
  if (f) explain_pci_bar_failure(f);
  return r;
}

/// True if the sysfs attribute `name` of PCI device `entry` holds `id`. A
/// device that vanished meanwhile, or an unreadable ID, is not a match.
inline bool pci_id_is(const char* entry, const char* name, std::uint16_t id) noexcept {
  const sysfs_path path("%s/%s/%s", sysfs_pci_devices, entry, name);
  failure ignored;
  std::uint64_t value = 0;
  return path.check(ignored, "") && read_sysfs_number(path.c_str(), value, "", ignored) && value == id;
}

inline std::vector<std::string> find_pci_devices_impl(std::uint16_t vendor, std::uint16_t device,
                                                      failure& f) noexcept {
  std::vector<std::string> found;
  const sysfs_path dir("%s", sysfs_pci_devices);
  if (dir.check(f, "list PCI devices")) {
    list_sysfs_dir(dir.c_str(), "list PCI devices", f, [&](const char* entry) {
      if (pci_id_is(entry, "vendor", vendor) && pci_id_is(entry, "device", device)) found.emplace_back(entry);
    });
  }
  f.subject = sysfs_pci_devices;
  std::sort(found.begin(), found.end());
  return found;
}

/// Sets or clears bits of the command register's byte `which` (4 or 5) in
/// config space, through sysfs.
inline bool pci_command_bits_impl(std::string_view address, file_offset which, unsigned char bits, bool set,
                                  failure& f) noexcept {
  if (!check_pci_address(address, f)) return false;
  const sysfs_path path("%s/%.*s/config", sysfs_pci_devices, static_cast<int>(address.size()), address.data());
  auto fd = path.check(f, "") ? open_fd(path.c_str(), O_RDWR, 0, f) : unique_fd();
  f.subject = address;
  if (f) {
    f.operation = "open sysfs config of PCI device";
    return false;
  }
  unsigned char byte = 0;
  if (!whole_transfer(retry_on_eintr([&] { return lfs_pread(fd.get(), &byte, 1, which); }), 1))
    return f.fail_errno("read PCI command register");
  byte = set ? static_cast<unsigned char>(byte | bits) : static_cast<unsigned char>(byte & ~bits);
  if (!whole_transfer(retry_on_eintr([&] { return lfs_pwrite(fd.get(), &byte, 1, which); }), 1))
    return f.fail_errno("write PCI command register");
  return true;
}
inline constexpr file_offset pci_command_low = 4;
inline constexpr unsigned char pci_bus_master = 0x04;   // command bit 2
inline constexpr file_offset pci_command_high = 5;
inline constexpr unsigned char pci_intx_disable = 0x04;  // command bit 10

}  // namespace detail

/// Clears (enable) or sets the INTx-disable bit of the device's command
/// register: how a uio_pci_generic user re-enables the legacy interrupt
/// after each one, since that driver has no irqcontrol.
inline void pci_enable_intx(const std::string& device, bool enable = true) {
  detail::throwing([&](detail::failure& f) {
    detail::pci_command_bits_impl(device, detail::pci_command_high, detail::pci_intx_disable, !enable, f);
  });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
inline void pci_enable_intx(const std::string& device, bool enable, std::error_code& ec) noexcept {
  detail::reporting(ec, [&](detail::failure& f) {
    detail::pci_command_bits_impl(device, detail::pci_command_high, detail::pci_intx_disable, !enable, f);
  });
}

/// Sets (or clears) Bus Master Enable: without it a device's DMA never
/// reaches memory. A kernel driver does this in pci_set_master(); a
/// user-space driver must do it itself.
inline void pci_enable_bus_master(const std::string& device, bool enable = true) {
  detail::throwing([&](detail::failure& f) {
    detail::pci_command_bits_impl(device, detail::pci_command_low, detail::pci_bus_master, enable, f);
  });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
inline void pci_enable_bus_master(const std::string& device, bool enable, std::error_code& ec) noexcept {
  detail::reporting(ec, [&](detail::failure& f) {
    detail::pci_command_bits_impl(device, detail::pci_command_low, detail::pci_bus_master, enable, f);
  });
}

/// The sysfs addresses of all devices with this vendor and device ID, sorted.
inline std::vector<std::string> find_pci_devices(std::uint16_t vendor, std::uint16_t device) {
  return detail::throwing([&](detail::failure& f) { return detail::find_pci_devices_impl(vendor, device, f); });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
inline std::vector<std::string> find_pci_devices(std::uint16_t vendor, std::uint16_t device,
                                                 std::error_code& ec) noexcept {
  return detail::reporting(ec, [&](detail::failure& f) { return detail::find_pci_devices_impl(vendor, device, f); });
}

/// What sysfs says about BAR `index` (0 to 5) of `device` ("0000:00:04.0").
inline pci_bar pci_bar_info(const std::string& device, unsigned index) {
  return detail::throwing([&](detail::failure& f) { return detail::pci_bar_impl(device, index, f); });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
inline pci_bar pci_bar_info(const std::string& device, unsigned index, std::error_code& ec) noexcept {
  return detail::reporting(ec, [&](detail::failure& f) { return detail::pci_bar_impl(device, index, f); });
}

/// Maps a memory BAR (or part of it) of `device`.
template <access A = access::read_write>
region<A> map_pci_bar(const std::string& device, unsigned index, const pci_map_options& opts = {}) {
  return detail::throwing([&](detail::failure& f) {
    return detail::map_pci_bar_impl<A>(device, index, opts, f);
  });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
template <access A = access::read_write>
region<A> map_pci_bar(const std::string& device, unsigned index, const pci_map_options& opts,
                      std::error_code& ec) noexcept {
  return detail::reporting(ec, [&](detail::failure& f) {
    return detail::map_pci_bar_impl<A>(device, index, opts, f);
  });
}

}  // namespace mmapx
