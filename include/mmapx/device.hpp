// mmapx/device.hpp - mapping device files: character devices such as the
// reference kernel module's, /dev/mem, PCI sysfs resourceN files.
//
//   auto regs = mmapx::map_device("/dev/mmapx0", 0, 4096);
//
// Device files report size 0 (or a size that means nothing), so the caller
// always gives the length and mmapx never compares it with st_size: the
// driver's mmap handler is the judge of what may be mapped.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "region.hpp"

namespace mmapx {

/// How map_device opens and maps the device file.
struct device_options {
  /// O_SYNC on open: for /dev/mem it asks for an uncached mapping.
  bool sync = false;
  /// Mapping options; explicit huge pages are unavailable for device files
  /// (see map_options::on_no_huge_pages).
  map_options map{};
};

namespace detail {

/// Refuses what no driver maps: a FIFO, a socket or a directory would only
/// give mmap's bare ENODEV later, so say what the file is instead.
inline bool check_device_type(int fd, failure& f) noexcept {
  detail::file_status st {};
  if (!stat_fd(fd, st, f)) return false;
  if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISDIR(st.st_mode)) {
    return f.fail(std::make_error_code(std::errc::no_such_device),
                  "map device (a FIFO, socket or directory cannot be mapped)");
  }
  return true;
}

/// Opens a device file for a mapping of access A and maps [offset, offset + length).
template <access A>
region<A> map_device_impl(const char* path, std::uint64_t offset, std::size_t length,
                          const device_options& o, failure& f) noexcept {
  f.subject = path;
  if (length == 0) {
    f.at(offset).fail(std::make_error_code(std::errc::invalid_argument),
                      "map device (device files have no size: give the length)");
    return {};
  }
  const int flags = (A == access::read ? O_RDONLY : O_RDWR) | (o.sync ? O_SYNC : 0);
  auto fd = open_fd(path, flags, 0, f);
  if (f || !check_device_type(fd.get(), f)) return {};
  return map_fd_range<A>(std::move(fd), offset, length, o.map, f);
}

}  // namespace detail

/// Maps [offset, offset + length) of a device file. `length` is required.
template <access A = access::read_write>
region<A> map_device(const std::filesystem::path& path, std::uint64_t offset, std::size_t length,
                     const device_options& opts = {}) {
  return detail::throwing([&](detail::failure& f) {
    if (!detail::check_path(path.native(), f)) return region<A>{};
    return detail::map_device_impl<A>(path.c_str(), offset, length, opts, f);
  });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
template <access A = access::read_write>
region<A> map_device(const std::filesystem::path& path, std::uint64_t offset, std::size_t length,
                     const device_options& opts, std::error_code& ec) noexcept {
  return detail::reporting(ec, [&](detail::failure& f) {
    if (!detail::check_path(path.native(), f)) return region<A>{};
    return detail::map_device_impl<A>(path.c_str(), offset, length, opts, f);
  });
}

}  // namespace mmapx
