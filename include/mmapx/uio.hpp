// mmapx/uio.hpp - Linux UIO devices (/dev/uioN): their memory maps and
// their interrupts, the user-space half of a UIO driver.
//
//   auto dev = mmapx::uio_device::open_by_name("uio_pci_generic");
//   for (auto& m : dev.maps()) ...                     // from sysfs
//   auto ev = dev.wait(std::chrono::milliseconds(100));  // errc::timed_out if none
//   dev.enable_interrupts();                             // where the driver has irqcontrol
//
// The kernel's UIO core (drivers/uio/uio.c) fixes the protocol: mmap offset
// N x page size selects map N; read() of 4 bytes blocks until the interrupt
// count changes and returns it; writing a 4-byte 1 or 0 enables or disables
// the interrupt through the driver's irqcontrol. For a PCI device,
// pci_address() names it for mmapx/pci.hpp (BAR info, resource files, INTx).
// uio_pci_generic has no irqcontrol: its handler masks the device's INTx
// (the command register's INTx-disable bit) and leaves it masked, so its
// user unmasks it with pci_enable_intx(pci_address()) after each interrupt.
// Everything the device says about itself comes from sysfs (detail/sysfs.hpp).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "detail/posix.hpp"
#include "detail/sysfs.hpp"
#include "device.hpp"
#include "pci.hpp"

namespace mmapx {

/// One memory map of a UIO device, as /sys/class/uio/uioN/maps/mapM says.
struct uio_map {
  /// M of mapM: what uio_device::map takes.
  unsigned index = 0;
  /// The name the driver gave the map, or "" if it gave none.
  std::string name;
  std::uint64_t address = 0;  ///< physical address
  /// Length in bytes: the size of the region map() returns.
  std::uint64_t size = 0;
  std::uint64_t offset = 0;   ///< of the first byte within its page
};

/// An interrupt received by uio_device::wait.
struct uio_event {
  std::uint32_t count = 0;   ///< the kernel's total interrupt count
  std::uint32_t missed = 0;  ///< interrupts since the previous wait that this one did not see
};

namespace detail {

/// N of a sysfs entry named "uioN"; false for any other name.
inline bool uio_entry_number(std::string_view entry, unsigned& number) noexcept {
  failure ignored;
  std::uint64_t n = 0;
  if (entry.substr(0, 3) != "uio" || !parse_unsigned(entry.substr(3), n, ignored, "") || n > ~0U) return false;
  number = static_cast<unsigned>(n);
  return true;
}

/// The lowest N whose class/uio/uioN/name is `name`: ENODEV when none is.
inline bool find_uio_by_name(const char* name, unsigned& number, failure& f) noexcept {
  const char* op = "find UIO device by name (no class/uio in sysfs: is the uio module loaded?)";
  const sysfs_path dir("%s", sysfs_uio_class);
  unsigned best = ~0U;
  if (dir.check(f, op)) {
    list_sysfs_dir(dir.c_str(), op, f, [&](const char* entry) {
      unsigned n = 0;
      char text[128];
      failure ignored;  // a device that vanished meanwhile is not a match
      const sysfs_path path("%s/%s/name", sysfs_uio_class, entry);
      if (uio_entry_number(entry, n) && path.check(ignored, "") &&
          read_sysfs_string(path.c_str(), text, sizeof text, "", ignored) && std::strcmp(text, name) == 0)
        best = std::min(best, n);
    });
  }
  f.subject = name;
  if (!f && best == ~0U) f.fail(std::make_error_code(std::errc::no_such_device), "find UIO device by name");
  number = best;
  return !f;
}

/// The kernel's interrupt count so far (class/uio/uioN/event).
inline bool read_uio_event_count(unsigned number, std::uint32_t& count, failure& f) noexcept {
  const char* op = "read UIO event count";
  const sysfs_path path("%s/uio%u/event", sysfs_uio_class, number);
  std::uint64_t value = 0;
  if (path.check(f, op) && read_sysfs_number(path.c_str(), value, op, f) && value > UINT32_MAX) {
    f.fail(errc::value_out_of_range, op);
    f.subject = path.c_str();
  }
  if (f) return false;
  count = static_cast<std::uint32_t>(value);
  return true;
}

/// Map `index` of uioN from class/uio/uioN/maps/map<index>; false with f
/// untouched when there is no such map (the end of the list).
inline bool read_uio_map(unsigned number, unsigned index, uio_map& m, failure& f) {
  const char* op = "read UIO map attributes";
  const char* names[] = {"addr", "size", "offset"};
  std::uint64_t* fields[] = {&m.address, &m.size, &m.offset};
  const sysfs_path dir("%s/uio%u/maps/map%u", sysfs_uio_class, number, index);
  if (!dir.check(f, op) || ::access(dir.c_str(), F_OK) != 0) return false;
  m.index = index;
  for (int i = 0; i < 3 && !f; ++i) {
    const sysfs_path path("%s/uio%u/maps/map%u/%s", sysfs_uio_class, number, index, names[i]);
    if (path.check(f, op)) read_sysfs_number(path.c_str(), *fields[i], op, f);
  }
  if (f) return false;  // named by the attribute's path
  char text[128];
  failure no_name;  // optional: drivers may leave maps unnamed
  const sysfs_path path("%s/uio%u/maps/map%u/name", sysfs_uio_class, number, index);
  if (path.check(no_name, "") && read_sysfs_string(path.c_str(), text, sizeof text, "", no_name)) m.name = text;
  return true;
}

/// The memory maps of uioN, in index order.
inline std::vector<uio_map> read_uio_maps(unsigned number, failure& f) noexcept {
  std::vector<uio_map> found;
  try {
    uio_map m;
    while (read_uio_map(number, static_cast<unsigned>(found.size()), m, f)) found.push_back(std::exchange(m, {}));
  } catch (...) {
    f.fail(std::make_error_code(std::errc::not_enough_memory), "list UIO maps");
  }
  if (f) found.clear();
  return found;
}

/// The PCI address behind uioN (its class/uio/uioN/device link), or "".
inline std::string uio_pci_address(unsigned number) {
  char name[64];
  failure ignored;
  const sysfs_path link("%s/uio%u/device", sysfs_uio_class, number);
  if (!link.check(ignored, "") || !read_sysfs_link_name(link.c_str(), name, sizeof name)) return {};
  return check_pci_address(name, ignored) ? std::string(name) : std::string();
}

}  // namespace detail

/// An open /dev/uioN: its memory maps and its interrupt. Move-only; closes
/// the device when destroyed.
class uio_device {
public:
  /// No device: is_open() is false.
  uio_device() noexcept = default;

  /// Opens /dev/uio`number`.
  static uio_device open(unsigned number) {
    return detail::throwing([&](detail::failure& f) { return open_impl(number, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  static uio_device open(unsigned number, std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return open_impl(number, f); });
  }

  /// Opens the lowest-numbered UIO device whose sysfs name is `name`.
  static uio_device open_by_name(const std::string& name) {
    return detail::throwing([&](detail::failure& f) { return open_by_name_impl(name.c_str(), f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  static uio_device open_by_name(const std::string& name, std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return open_by_name_impl(name.c_str(), f); });
  }

  /// N of /dev/uioN.
  [[nodiscard]] unsigned number() const noexcept { return number_; }
  /// The driver's name for the device (sysfs "name"), e.g. "uio_pci_generic".
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  /// The /dev/uioN descriptor (still owned by this object), or -1.
  [[nodiscard]] int native_handle() const noexcept { return fd_.get(); }
  /// True when a device is open (false when default-constructed or moved from).
  [[nodiscard]] bool is_open() const noexcept { return static_cast<bool>(fd_); }

  /// The PCI address of the device behind it ("0000:00:04.0"), or "" when
  /// it is not a PCI device.
  [[nodiscard]] std::string pci_address() const { return detail::uio_pci_address(number_); }

  /// The device's memory maps, in index order (uio_pci_generic: one per memory BAR).
  [[nodiscard]] std::vector<uio_map> maps() const {
    return detail::throwing([&](detail::failure& f) { return maps_impl(f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  [[nodiscard]] std::vector<uio_map> maps(std::error_code& ec) const noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return maps_impl(f); });
  }

  /// Maps map `index` whole (its size from sysfs).
  template <access A = access::read_write>
  region<A> map(unsigned index, const map_options& opts = {}) const {
    return detail::throwing([&](detail::failure& f) { return map_impl<A>(index, opts, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  template <access A = access::read_write>
  region<A> map(unsigned index, const map_options& opts, std::error_code& ec) const noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return map_impl<A>(index, opts, f); });
  }

  /// Waits for an interrupt: errc::timed_out when none comes within
  /// `timeout` (negative: wait forever; zero: only check; the rule of
  /// every mmapx wait).
  uio_event wait(std::chrono::milliseconds timeout) {
    return detail::throwing([&](detail::failure& f) { return wait_impl(timeout, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  uio_event wait(std::chrono::milliseconds timeout, std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return wait_impl(timeout, f); });
  }

  /// Re-enables (or disables) the interrupt through the driver's irqcontrol.
  /// Drivers without one report ENOSYS. uio_pci_generic is one of them: it
  /// masks INTx in the device on each interrupt and never unmasks it, so its
  /// user calls pci_enable_intx(pci_address()) instead, after each interrupt.
  void enable_interrupts(bool on = true) {
    detail::throwing([&](detail::failure& f) { enable_impl(on, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void enable_interrupts(bool on, std::error_code& ec) noexcept {
    detail::reporting(ec, [&](detail::failure& f) { enable_impl(on, f); });
  }

private:
  uio_device(unique_fd fd, unsigned number) noexcept : fd_(std::move(fd)), number_(number) {}

  static uio_device open_impl(unsigned number, detail::failure& f) noexcept {
    char path[32];
    std::snprintf(path, sizeof path, "/dev/uio%u", number);
    auto fd = detail::open_fd(path, O_RDWR, 0, f);
    if (f) return {};
    uio_device dev(std::move(fd), number);
    char name[128];
    const detail::sysfs_path name_path("%s/uio%u/name", detail::sysfs_uio_class, number);
    if (name_path.check(f, "read UIO device name"))
      detail::read_sysfs_string(name_path.c_str(), name, sizeof name, "read UIO device name", f);
    if (f) return {};  // named by the attribute's path
    // The count so far, so the first wait can tell what it missed.
    if (!detail::read_uio_event_count(number, dev.last_count_, f)) return {};
    try {
      dev.name_ = name;
    } catch (...) {
      f.fail(std::make_error_code(std::errc::not_enough_memory), "open UIO device");
      return {};
    }
    return dev;
  }

  static uio_device open_by_name_impl(const char* name, detail::failure& f) noexcept {
    unsigned number = 0;
    if (!detail::find_uio_by_name(name, number, f)) return {};
    auto dev = open_impl(number, f);
    const char* file = f.subject;
    if (f && file == nullptr) f.subject = name;
    if (f && file != nullptr) {  // the name asked for, and the file that failed ("uio_pci_generic: /dev/uio2")
      char both[detail::bounded_text::capacity];
      std::snprintf(both, sizeof both, "%s: %s", name, file);
      f.subject = both;
    }
    return dev;
  }

  std::vector<uio_map> maps_impl(detail::failure& f) const noexcept { return detail::read_uio_maps(number_, f); }

  template <access A>
  region<A> map_impl(unsigned index, const map_options& opts, detail::failure& f) const noexcept {
    const auto all = maps_impl(f);
    if (f) return {};
    f.subject = name_.c_str();
    if (index >= all.size()) {
      f.at(index).fail(std::make_error_code(std::errc::invalid_argument),
                       "map UIO map (no map with this index)");
      return {};
    }
    auto fd = detail::dup_fd(fd_.get(), f);
    if (f) return {};
    // The kernel maps map N at offset N pages. Adding the map's offset within
    // its page (less than a page, so the aligned offset stays N pages) makes
    // data() the map's first byte.
    const std::uint64_t select = std::uint64_t{index} * page_size();
    return detail::map_fd_range<A>(std::move(fd), select + all[index].offset,
                                   static_cast<std::size_t>(all[index].size), opts, f);
  }

  uio_event wait_impl(std::chrono::milliseconds timeout, detail::failure& f) noexcept {
    f.subject = name_.c_str();
    if (!detail::poll_until(fd_.get(), POLLIN, detail::deadline(timeout), f, "wait for UIO interrupt")) {
      if (!f) f.fail(errc::timed_out, "wait for UIO interrupt");
      return {};
    }
    std::uint32_t count = 0;
    if (!detail::whole_transfer(detail::retry_on_eintr([&] { return ::read(fd_.get(), &count, sizeof count); }),
                                sizeof count)) {
      f.fail_errno("read UIO interrupt count");
      return {};
    }
    uio_event ev{count, count - last_count_ - 1};  // unsigned: wraps like the kernel's counter
    last_count_ = count;
    return ev;
  }

  bool enable_impl(bool on, detail::failure& f) noexcept {
    f.subject = name_.c_str();
    const std::uint32_t value = on ? 1 : 0;
    if (detail::whole_transfer(detail::retry_on_eintr([&] { return ::write(fd_.get(), &value, sizeof value); }),
                               sizeof value))
      return true;
    if (errno == ENOSYS) {
      return f.fail_errno(on ? "enable UIO interrupt (the driver has no irqcontrol; "
                               "uio_pci_generic users call pci_enable_intx instead)"
                             : "disable UIO interrupt (the driver has no irqcontrol)");
    }
    return f.fail_errno(on ? "enable UIO interrupt" : "disable UIO interrupt");
  }

  unique_fd fd_;
  unsigned number_ = 0;
  std::string name_;
  std::uint32_t last_count_ = 0;
};

}  // namespace mmapx
