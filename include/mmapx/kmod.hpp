// mmapx/kmod.hpp - the user-space side of mmapx's reference kernel module
// (kmod/, interface in <mmapx/uapi/mmapx_kmod.h>).
//
// kmod::device opens one minor (/dev/mmapxN), maps its kernel buffers as
// ordinary regions (eager or lazy, cached, uncached or write-combining),
// drives the module's producer (start, stop, wait for a ready buffer with a
// timeout, hand it back) and reads its statistics. Every call has a throwing
// form and a noexcept std::error_code& form, as everywhere in mmapx.
#pragma once

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>

#include "detail/posix.hpp"
#include "error.hpp"
#include "options.hpp"
#include "region.hpp"
#include "unique_fd.hpp"
#include "uapi/mmapx_kmod.h"

namespace mmapx::kmod {

/// The cache type of a buffer. It belongs to the buffer (the module retypes
/// the kernel's own mapping of it), so choosing one chooses a buffer set.
enum class cache_mode : std::uint32_t {
  cached = MMAPX_KMOD_CACHED,
  uncached = MMAPX_KMOD_UNCACHED,
  write_combining = MMAPX_KMOD_WRITE_COMBINING,
};

/// How the module maps pages: all at mmap time, or each on first touch.
enum class map_method : std::uint32_t {
  eager = MMAPX_KMOD_EAGER,
  lazy = MMAPX_KMOD_LAZY,
};

/// What a minor reports at open: ABI version, minor, page size, buffer count
/// and size, supported cache modes and methods (see the UAPI header).
using geometry = ::mmapx_kmod_geometry;
/// Counters of one minor since the module was loaded (see the UAPI header).
using statistics = ::mmapx_kmod_stats;

/// A buffer the producer filled: its frame's sequence number and its index.
struct ready_buffer {
  /// Frame number; a gap from the previous one counts frames lost to overruns.
  std::uint64_t sequence = 0;
  /// The buffer holding the frame; give it back with device::hand_back(index).
  std::uint32_t index = 0;
};

/// x86 PAT memory types, as MMAPX_KMOD_IOC_MEMTYPE reports them.
enum class memory_type : std::uint32_t {
  uncached = MMAPX_KMOD_PAT_UC,
  write_combining = MMAPX_KMOD_PAT_WC,
  write_through = MMAPX_KMOD_PAT_WT,
  write_protected = MMAPX_KMOD_PAT_WP,
  write_back = MMAPX_KMOD_PAT_WB,
  /// UC-: uncached, unless an MTRR makes the range write-combining.
  uncached_minus = MMAPX_KMOD_PAT_UC_MINUS,
};

/// The memory types the page tables really hold for one mapped page.
struct page_memory_type {
  memory_type user;    ///< in the calling process's mapping
  memory_type kernel;  ///< in the kernel's own mapping of the same page
  /// Physical address of the page; 0 unless the caller has CAP_SYS_ADMIN.
  std::uint64_t physical = 0;
};

/// Which part of which buffer to map.
struct buffer_spec {
  /// Which buffer: below info().buffer_count.
  std::uint32_t index = 0;
  /// Which buffer set: each cache mode has buffers of its own.
  cache_mode cache = cache_mode::cached;
  /// Pages mapped all at mmap time, or each on first touch.
  map_method method = map_method::eager;
  std::uint64_t offset = 0;  ///< into the buffer; any alignment
  std::size_t length = 0;    ///< 0: from offset to the end of the buffer
  /// Mapping options; exec is refused by the module (EPERM).
  map_options map = {};
};

/// The mmap offset of byte 0 of a buffer (the UAPI header's encoding).
constexpr std::uint64_t buffer_offset(cache_mode cache, map_method method,
                                      std::uint32_t index) noexcept {
  return MMAPX_KMOD_BUFFER_OFFSET(static_cast<std::uint32_t>(cache),
                                  static_cast<std::uint32_t>(method), index);
}

/// The path of minor `minor`: "/dev/mmapx<minor>".
inline std::string device_path(unsigned minor) {
  return MMAPX_KMOD_DEVICE_PREFIX + std::to_string(minor);
}

/// One open minor of the module.
class device {
public:
  /// Nothing open: native_handle() is -1.
  device() = default;

  /// Opens a minor (see device_path) and reads its geometry;
  /// std::errc::protocol_not_supported if the module's ABI version differs.
  static device open(const std::string& path) {
    return detail::throwing([&](detail::failure& f) { return open_impl(path, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  static device open(const std::string& path, std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return open_impl(path, f); });
  }

  /// Buffer count and size, page size, supported modes: read once at open.
  [[nodiscard]] const geometry& info() const noexcept { return geometry_; }
  /// The descriptor (still owned by this object), or -1.
  [[nodiscard]] int native_handle() const noexcept { return fd_.get(); }
  /// The path open() was given.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

  /// Maps (part of) a buffer. A range outside the buffer is
  /// errc::range_outside_region before the kernel is asked.
  template <access A = access::read_write>
  region<A> map(const buffer_spec& spec) const {
    return detail::throwing([&](detail::failure& f) { return map_impl<A>(spec, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  template <access A = access::read_write>
  region<A> map(const buffer_spec& spec, std::error_code& ec) const noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return map_impl<A>(spec, f); });
  }

  /// The module's read-only status page (it holds the geometry).
  ro_region map_status() const {
    return detail::throwing([&](detail::failure& f) { return map_status_impl(f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  ro_region map_status(std::error_code& ec) const noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return map_status_impl(f); });
  }

  /// The minor's counters now.
  statistics stats() const {
    return detail::throwing([&](detail::failure& f) { return stats_impl(f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  statistics stats(std::error_code& ec) const noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return stats_impl(f); });
  }

  /// Starts (or restarts) the producer: one buffer of `cache` every `period`
  /// (MMAPX_KMOD_PERIOD_FLOOR_NS(info().buffer_size) .. MMAPX_KMOD_PERIOD_MAX_NS,
  /// else std::errc::invalid_argument). It runs until stop() or until this
  /// device (every copy of its descriptor and every mapping) is closed.
  void start(std::chrono::nanoseconds period, cache_mode cache = cache_mode::cached) const {
    detail::throwing([&](detail::failure& f) { start_impl(period, cache, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void start(std::chrono::nanoseconds period, cache_mode cache,
             std::error_code& ec) const noexcept {
    detail::reporting(ec, [&](detail::failure& f) { start_impl(period, cache, f); });
  }

  /// Stops the producer; ready buffers are dropped, held ones become free.
  void stop() const {
    detail::throwing([&](detail::failure& f) { stop_impl(f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void stop(std::error_code& ec) const noexcept {
    detail::reporting(ec, [&](detail::failure& f) { stop_impl(f); });
  }

  /// Changes the period of a running producer from its next buffer on, without
  /// restarting it; same range and error as start().
  void set_period(std::chrono::nanoseconds period) const {
    detail::throwing([&](detail::failure& f) { set_period_impl(period, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void set_period(std::chrono::nanoseconds period, std::error_code& ec) const noexcept {
    detail::reporting(ec, [&](detail::failure& f) { set_period_impl(period, f); });
  }

  /// The oldest ready buffer, now held by the caller until hand_back();
  /// errc::timed_out when none becomes ready within `timeout` (negative:
  /// wait forever; zero: only check; the rule of every mmapx wait).
  ready_buffer wait(std::chrono::milliseconds timeout) const {
    return detail::throwing([&](detail::failure& f) { return wait_impl(timeout, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  ready_buffer wait(std::chrono::milliseconds timeout, std::error_code& ec) const noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return wait_impl(timeout, f); });
  }

  /// Gives a held buffer back to the producer (invalid_argument if not held).
  void hand_back(std::uint32_t index) const {
    detail::throwing([&](detail::failure& f) { hand_back_impl(index, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void hand_back(std::uint32_t index, std::error_code& ec) const noexcept {
    detail::reporting(ec, [&](detail::failure& f) { hand_back_impl(index, f); });
  }

  /// The address a device's DMA engine uses for byte 0 of a buffer (below
  /// 4 GiB). Needs CAP_SYS_ADMIN: permission_denied otherwise.
  std::uint64_t bus_address(cache_mode cache, std::uint32_t index) const {
    return detail::throwing([&](detail::failure& f) { return bus_address_impl(cache, index, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  std::uint64_t bus_address(cache_mode cache, std::uint32_t index,
                            std::error_code& ec) const noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return bus_address_impl(cache, index, f); });
  }

  /// The memory types of the page at `address` in a mapping of this device,
  /// read back from the page tables (x86 only; bad_address if the page is
  /// not mapped yet, e.g. a lazy page never touched).
  page_memory_type memory_type_of(const void* address) const {
    return detail::throwing([&](detail::failure& f) { return memory_type_impl(address, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  page_memory_type memory_type_of(const void* address, std::error_code& ec) const noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return memory_type_impl(address, f); });
  }

private:
  unique_fd fd_;
  geometry geometry_{};
  std::string path_;

  detail::failure& about(detail::failure& f) const noexcept {
    f.subject = path_.c_str();
    return f;
  }

  bool control(unsigned long request, void* arg, const char* operation,
               detail::failure& f) const noexcept {
    if (detail::retry_on_eintr([&] { return ::ioctl(fd_.get(), request, arg); }) == 0) return true;
    return about(f).fail_errno(operation);
  }

  static device open_impl(const std::string& path, detail::failure& f) noexcept {
    device d;
    if (!detail::check_path(path, f)) return d;
    try {
      d.path_ = path;
    } catch (...) {
      f.fail(std::make_error_code(std::errc::not_enough_memory), "open");
      return d;
    }
    // Non-blocking: wait() waits in poll(), where it can time out.
    d.fd_ = detail::open_fd(path.c_str(), O_RDWR | O_NONBLOCK, 0, f);
    if (d.fd_ && d.control(MMAPX_KMOD_IOC_GEOMETRY, &d.geometry_, "query geometry", f) &&
        d.geometry_.abi_version != MMAPX_KMOD_ABI_VERSION) {
      f.fail(std::make_error_code(std::errc::protocol_not_supported),
             "open (module ABI version differs)");
    }
    // The message names the caller's path: d, and its copy, go away.
    if (f) {
      f.subject = path.c_str();
      return device{};
    }
    return d;
  }

  template <access A>
  region<A> map_impl(const buffer_spec& spec, detail::failure& f) const noexcept {
    const std::uint64_t size = geometry_.buffer_size;
    if (spec.index >= geometry_.buffer_count || spec.offset > size ||
        spec.length > size - spec.offset) {
      about(f).at(spec.offset).fail(errc::range_outside_region, "map kernel buffer");
      return {};
    }
    const std::size_t length =
        spec.length != 0 ? spec.length : static_cast<std::size_t>(size - spec.offset);
    unique_fd copy = detail::dup_fd(fd_.get(), about(f));
    if (!copy) return {};
    const std::uint64_t base = buffer_offset(spec.cache, spec.method, spec.index);
    region<A> r = detail::map_fd_range<A>(std::move(copy), base + spec.offset, length, spec.map, f);
    if (f) about(f);
    return r;
  }

  ro_region map_status_impl(detail::failure& f) const noexcept {
    unique_fd copy = detail::dup_fd(fd_.get(), about(f));
    if (!copy) return {};
    ro_region r = detail::map_fd_range<access::read>(std::move(copy), MMAPX_KMOD_STATUS_OFFSET,
                                                     sizeof(geometry), {}, f);
    if (f) about(f);
    return r;
  }

  statistics stats_impl(detail::failure& f) const noexcept {
    statistics s{};
    control(MMAPX_KMOD_IOC_STATS, &s, "read statistics", f);
    return s;
  }

  void start_impl(std::chrono::nanoseconds period, cache_mode cache,
                  detail::failure& f) const noexcept {
    ::mmapx_kmod_producer p{};
    p.period_ns = static_cast<std::uint64_t>(std::max<std::int64_t>(period.count(), 0));
    p.cache = static_cast<std::uint32_t>(cache);
    control(MMAPX_KMOD_IOC_START, &p, "start producer", f);
  }

  void stop_impl(detail::failure& f) const noexcept {
    control(MMAPX_KMOD_IOC_STOP, nullptr, "stop producer", f);
  }

  void set_period_impl(std::chrono::nanoseconds period, detail::failure& f) const noexcept {
    std::uint64_t ns = static_cast<std::uint64_t>(std::max<std::int64_t>(period.count(), 0));
    control(MMAPX_KMOD_IOC_SET_PERIOD, &ns, "set producer period", f);
  }

  ready_buffer wait_impl(std::chrono::milliseconds timeout, detail::failure& f) const noexcept {
    const detail::deadline until(timeout);
    for (;;) {
      // The descriptor is non-blocking: a read that finds nothing ready
      // (EAGAIN) sends us to poll, which waits without spinning.
      ::mmapx_kmod_event event{};
      const ssize_t n = detail::retry_on_eintr([&] { return ::read(fd_.get(), &event, sizeof event); });
      if (detail::whole_transfer(n, sizeof event)) return {event.sequence, event.index};
      if (errno != EAGAIN) {
        about(f).fail_errno(n >= 0 ? "read ready buffer (short read)" : "read ready buffer");
        return {};
      }
      if (until.expired() || !detail::poll_until(fd_.get(), POLLIN, until, f, "poll")) {
        if (!f) f.fail(errc::timed_out, "wait for a ready buffer");
        about(f);
        return {};
      }
    }
  }

  void hand_back_impl(std::uint32_t index, detail::failure& f) const noexcept {
    control(MMAPX_KMOD_IOC_RELEASE, &index, "hand back buffer", f);
  }

  std::uint64_t bus_address_impl(cache_mode cache, std::uint32_t index,
                                 detail::failure& f) const noexcept {
    ::mmapx_kmod_bus_address ba{};
    ba.cache = static_cast<std::uint32_t>(cache);
    ba.index = index;
    if (!control(MMAPX_KMOD_IOC_BUS_ADDRESS, &ba, "query bus address", f)) return 0;
    return ba.address;
  }

  page_memory_type memory_type_impl(const void* address, detail::failure& f) const noexcept {
    ::mmapx_kmod_memtype mt{};
    mt.address = reinterpret_cast<std::uintptr_t>(address);
    if (!control(MMAPX_KMOD_IOC_MEMTYPE, &mt, "query memory type", f)) {
      f.at(mt.address);
      return {};
    }
    return {static_cast<memory_type>(mt.user_type), static_cast<memory_type>(mt.kernel_type),
            mt.physical};
  }
};

}  // namespace mmapx::kmod
