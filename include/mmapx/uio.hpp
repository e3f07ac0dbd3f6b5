// mmapx/uio.hpp - Linux UIO devices (/dev/uioN): their memory maps and
// their interrupts, the user-space half of a UIO driver.
//
//   auto dev = mmapx::uio_device::open_by_name("uio_pci_generic");
//   for (auto& m : dev.maps()) ...                     // from sysfs
//   if (auto ev = dev.wait(std::chrono::milliseconds(100))) handle(ev->count);
//   dev.enable_interrupts();                            // where the driver supports it
//
// The kernel's UIO core (drivers/uio/uio.c) fixes the protocol: mmap offset
// N x page size selects map N; read() of 4 bytes blocks until the interrupt
// count changes and returns it; writing a 4-byte 1 or 0 enables or disables
// the interrupt through the driver's irqcontrol. For a PCI device,
// pci_address() names it for mmapx/pci.hpp (BAR info, resource files, INTx:
// uio_pci_generic has no irqcontrol, so its users re-enable INTx there).
#pragma once

#include <dirent.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

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

/// An open /dev/uioN: its memory maps and its interrupt. Move-only; closes
/// the device when destroyed.
class uio_device {
public:
  /// No device: is_open() is false.
  uio_device() noexcept = default;

  /// Opens /dev/uio<number>.
  static uio_device open(unsigned number) {
    return detail::throwing([&](detail::failure& f) { return open_impl(number, f); });
  }
  static uio_device open(unsigned number, std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return open_impl(number, f); });
  }

  /// Opens the lowest-numbered UIO device whose sysfs name is `name`.
  static uio_device open_by_name(const std::string& name) {
    return detail::throwing([&](detail::failure& f) { return open_by_name_impl(name.c_str(), f); });
  }
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
  [[nodiscard]] std::string pci_address() const {
    char link[64], target[256];
    std::snprintf(link, sizeof link, "/sys/class/uio/uio%u/device", number_);
    const ssize_t n = ::readlink(link, target, sizeof target - 1);
    if (n <= 0) return {};
    target[n] = '\0';
    const char* base = std::strrchr(target, '/');
    base = base != nullptr ? base + 1 : target;
    detail::failure ignored;
    return detail::check_pci_address(base, ignored) ? std::string(base) : std::string();
  }

  /// The device's memory maps, in index order (uio_pci_generic: one per memory BAR).
  [[nodiscard]] std::vector<uio_map> maps() const {
    return detail::throwing([&](detail::failure& f) { return maps_impl(f); });
  }
  [[nodiscard]] std::vector<uio_map> maps(std::error_code& ec) const noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return maps_impl(f); });
  }

  /// Maps map `index` whole (its size from sysfs).
  template <access A = access::read_write>
  region<A> map(unsigned index, const map_options& opts = {}) const {
    return detail::throwing([&](detail::failure& f) { return map_impl<A>(index, opts, f); });
  }
  template <access A = access::read_write>
  region<A> map(unsigned index, const map_options& opts, std::error_code& ec) const noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return map_impl<A>(index, opts, f); });
  }

  /// Waits up to `timeout` for an interrupt; nullopt when none came.
  std::optional<uio_event> wait(std::chrono::milliseconds timeout) {
    return detail::throwing([&](detail::failure& f) { return wait_impl(timeout, f); });
  }
  std::optional<uio_event> wait(std::chrono::milliseconds timeout, std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return wait_impl(timeout, f); });
  }

  /// Re-enables (or disables) the interrupt through the driver's irqcontrol.
  /// Drivers without one report ENOSYS; uio_pci_generic is one of them and
  /// re-enables the interrupt itself before each wait.
  void enable_interrupts(bool on = true) {
    detail::throwing([&](detail::failure& f) { enable_impl(on, f); });
  }
  void enable_interrupts(bool on, std::error_code& ec) noexcept {
    detail::reporting(ec, [&](detail::failure& f) { enable_impl(on, f); });
  }

private:
  uio_device(unique_fd fd, unsigned number) noexcept : fd_(std::move(fd)), number_(number) {}

  static uio_device open_impl(unsigned number, detail::failure& f) noexcept {
    char path[32];
    std::snprintf(path, sizeof path, "/dev/uio%u", number);
    auto fd = detail::open_fd(path, O_RDWR, 0, f);
    if (f) {
      f.subject = "/dev/uioN";
      f.at(number);
      return {};
    }
    uio_device dev(std::move(fd), number);
    char text[128];
    std::snprintf(path, sizeof path, "/sys/class/uio/uio%u/name", number);
    detail::read_text_file(path, text, sizeof text, "read UIO device name", f);
    if (f) return {};
    text[std::strcspn(text, "\n")] = '\0';
    // The count so far, so the first wait can tell what it missed.
    char count[32];
    std::snprintf(path, sizeof path, "/sys/class/uio/uio%u/event", number);
    detail::read_text_file(path, count, sizeof count, "read UIO event count", f);
    std::uint64_t seen = 0;
    const char* p = count;
    if (f || !detail::parse_number(p, seen)) {
      f.subject = "/sys/class/uio/uioN/event";
      f.at(number);
      if (!f) f.fail(errc::parse_error, "read UIO event count");
      return {};
    }
    dev.last_count_ = static_cast<std::uint32_t>(seen);
    try {
      dev.name_ = text;
    } catch (...) {
      f.fail(std::make_error_code(std::errc::not_enough_memory), "open UIO device");
      return {};
    }
    return dev;
  }

  static uio_device open_by_name_impl(const char* name, detail::failure& f) noexcept {
    f.subject = name;
    DIR* dir = ::opendir("/sys/class/uio");
    if (dir == nullptr) {
      f.fail_errno("find UIO device by name (no /sys/class/uio: is the uio module loaded?)");
      return {};
    }
    unsigned best = ~0U;
    while (const dirent* entry = ::readdir(dir)) {
      unsigned number = 0;
      char tail = 0;
      if (std::sscanf(entry->d_name, "uio%u%c", &number, &tail) != 1) continue;
      char path[300], text[128];
      std::snprintf(path, sizeof path, "/sys/class/uio/%s/name", entry->d_name);
      detail::failure ignored;
      detail::read_text_file(path, text, sizeof text, "read", ignored);
      text[std::strcspn(text, "\n")] = '\0';
      if (!ignored && std::strcmp(text, name) == 0 && number < best) best = number;
    }
    ::closedir(dir);
    if (best == ~0U) {
      f.fail(std::make_error_code(std::errc::no_such_device), "find UIO device by name");
      return {};
    }
    auto dev = open_impl(best, f);
    if (f) f.subject = name;
    return dev;
  }

  std::vector<uio_map> maps_impl(detail::failure& f) const noexcept {
    std::vector<uio_map> found;
    try {
      for (unsigned index = 0;; ++index) {
        char dir[96];
        std::snprintf(dir, sizeof dir, "/sys/class/uio/uio%u/maps/map%u", number_, index);
        if (::access(dir, F_OK) != 0) break;
        uio_map m;
        m.index = index;
        const char* numbers[] = {"addr", "size", "offset"};
        std::uint64_t* fields[] = {&m.address, &m.size, &m.offset};
        for (int i = 0; i < 3; ++i) {
          char path[128], text[64];
          std::snprintf(path, sizeof path, "%s/%s", dir, numbers[i]);
          detail::read_text_file(path, text, sizeof text, "read UIO map attributes", f);
          const char* p = text;
          if (f || !detail::parse_number(p, *fields[i])) {
            f.subject = "/sys/class/uio/uioN/maps";
            f.at(index);
            if (!f) f.fail(errc::parse_error, "read UIO map attributes");
            return {};
          }
        }
        char path[128], text[128];
        std::snprintf(path, sizeof path, "%s/name", dir);
        detail::failure no_name;  // optional: drivers may leave maps unnamed
        if (detail::read_text_file(path, text, sizeof text, "read", no_name) > 0) {
          text[std::strcspn(text, "\n")] = '\0';
          m.name = text;
        }
        found.push_back(std::move(m));
      }
    } catch (...) {
      f.fail(std::make_error_code(std::errc::not_enough_memory), "list UIO maps");
      return {};
    }
    return found;
  }

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

  std::optional<uio_event> wait_impl(std::chrono::milliseconds timeout, detail::failure& f) noexcept {
    f.subject = name_.c_str();
    pollfd p{fd_.get(), POLLIN, 0};
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      const int n = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, left.count())));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        f.fail_errno("wait for UIO interrupt");
        return std::nullopt;
      }
      if (n == 0) return std::nullopt;
      break;
    }
    std::uint32_t count = 0;
    ssize_t got;
    do {
      got = ::read(fd_.get(), &count, sizeof count);
    } while (got < 0 && errno == EINTR);
    if (got != static_cast<ssize_t>(sizeof count)) {
      if (got >= 0) errno = EIO;
      f.fail_errno("read UIO interrupt count");
      return std::nullopt;
    }
    uio_event ev{count, count - last_count_ - 1};  // unsigned: wraps like the kernel's counter
    last_count_ = count;
    return ev;
  }

  bool enable_impl(bool on, detail::failure& f) noexcept {
    f.subject = name_.c_str();
    const std::uint32_t value = on ? 1 : 0;
    ssize_t put;
    do {
      put = ::write(fd_.get(), &value, sizeof value);
    } while (put < 0 && errno == EINTR);
    if (put == static_cast<ssize_t>(sizeof value)) return true;
    if (put >= 0) errno = EIO;
    if (errno == ENOSYS) {
      return f.fail_errno(on ? "enable UIO interrupt (the driver has no irqcontrol; uio_pci_generic re-enables by itself)"
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
