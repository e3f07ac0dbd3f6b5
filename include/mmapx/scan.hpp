// mmapx/scan.hpp - reading a large file (or any mapping) front to back
// through memory mappings, with the kernel reading ahead (measured faster
// than read() on files that are not cached; see docs/scanning.md for warm).
//
//   std::uint64_t sum = 0;
//   mmapx::scan_file("big.dat", [&](std::span<const std::byte> bytes, std::uint64_t offset) {
//     for (auto b : bytes) sum += std::to_integer<unsigned>(b);
//   });
//
// Why not just map the whole file and read it: every 4 KiB page of a lazy
// mapping is a page fault, and on a file that is not cached each fault waits
// for the disk with nothing queued behind it. A scan instead walks the file in
// windows (scan_options::window bytes, aligned to the window size in the
// file). Before handing out a window it asks the kernel to start reading the
// next read_ahead windows (POSIX_FADV_WILLNEED / MADV_WILLNEED: asynchronous,
// the disk works while the caller computes; the first request starts with
// the first window, so that one is not queued behind the rest), advises the window
// MADV_SEQUENTIAL (the kernel's sequential read-ahead, into large folios),
// then faults the whole window in with one call (MADV_POPULATE_READ, Linux
// 5.14; before that, pages come on first touch). Address space stays
// bounded: one window is mapped at a time.
//
// Threads: none. All the read-ahead is the kernel's own asynchronous I/O;
// the scan runs entirely on the calling thread and costs one mmap, one
// madvise, one fadvise and one munmap per window (a few microseconds per
// 16 MiB). Measured against read() in bench/scan_bench (docs/scanning.md).
//
// Limits: the bytes are handed out as a plain span, not through a guarded
// copy (sigbus.hpp). A file truncated by someone else before a window is
// populated is an EFAULT error from the scan; one truncated while the
// callback is reading a window raises SIGBUS there, as any mapping would.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <type_traits>

#include "file.hpp"

namespace mmapx {

/// Which bytes a scan reads and how it walks them.
struct scan_options {
  std::uint64_t offset = 0;  ///< first byte to read (any alignment)
  std::uint64_t length = 0;  ///< bytes to read; 0: to the end of the file or region
  /// Bytes mapped and handed out at a time: a power of two, at least the page
  /// size. Windows end on multiples of it, so only the first may be shorter
  /// at the start and the last at the end.
  std::size_t window = std::size_t{16} << 20;
  /// Windows asked for ahead of the one being handed out (0: none).
  unsigned read_ahead = 4;
  /// Fault each window in with one MADV_POPULATE_READ before handing it out
  /// (false: pages come on first touch, with the kernel's own read-ahead).
  bool populate = true;
  /// MADV_SEQUENTIAL on each window: the kernel's own sequential read-ahead,
  /// which reads into large page-cache folios (WILLNEED reads base pages).
  bool sequential = true;
};

/// The largest piece read_ahead asks for in one call. The kernel trims one
/// WILLNEED request to the device's read-ahead size (max of read_ahead_kb and
/// max_sectors_kb; 128 KiB to a few MiB), so a larger range goes in pieces.
inline constexpr std::uint64_t read_ahead_chunk = std::uint64_t{512} << 10;

/// Asks the kernel to start reading bytes [offset, offset + length) of the
/// regular file `fd` into the page cache, and returns without waiting
/// (POSIX_FADV_WILLNEED, in pieces of read_ahead_chunk; the range is clipped
/// to the file's size). A hint: it reports nothing, and a descriptor it does
/// not apply to (a pipe, a closed fd, a device) is left alone. Pages already
/// cached cost a look-up each.
inline void read_ahead(int fd, std::uint64_t offset, std::uint64_t length) noexcept {
  detail::file_status st {};
  if (detail::lfs_fstat(fd, st) != 0 || !S_ISREG(st.st_mode)) return;
  const auto end = checked_add(offset, length);
  const std::uint64_t stop = std::min(end ? *end : UINT64_MAX, static_cast<std::uint64_t>(st.st_size));
  for (std::uint64_t at = offset; at < stop; at += read_ahead_chunk) {
    const std::uint64_t n = std::min(read_ahead_chunk, stop - at);
    const auto advised = detail::lfs_fadvise(fd, static_cast<detail::file_offset>(at), static_cast<detail::file_offset>(n),
                                             POSIX_FADV_WILLNEED);
    if (advised != 0) return;
  }
}

/// The callback a scan accepts: fn(bytes, offset) with the window's bytes and
/// the offset of its first byte in the file (for scan(region): in the
/// region's file or object, region.offset() included); returning void, or
/// bool where false stops the scan early (not an error).
template <class Fn>
concept scan_callback = std::is_invocable_v<Fn&, std::span<const std::byte>, std::uint64_t>;

namespace detail {

/// Calls fn and says whether to go on (a void callback always goes on).
template <class Fn>
bool call_scan_callback(Fn& fn, std::span<const std::byte> bytes, std::uint64_t offset) {
  if constexpr (std::is_same_v<std::invoke_result_t<Fn&, std::span<const std::byte>, std::uint64_t>, void>) {
    fn(bytes, offset);
    return true;
  } else {
    return static_cast<bool>(fn(bytes, offset));
  }
}

/// The options checked: a window that is a power of two of at least a page.
inline bool check_scan_options(const scan_options& o, failure& f) noexcept {
  if (o.window < page_size() || !std::has_single_bit(o.window)) {
    return f.fail(std::make_error_code(std::errc::invalid_argument),
                  "scan (window must be a power of two, at least a page)");
  }
  return true;
}

/// Walks [begin, end) in windows aligned to o.window: `hint(offset, length)`
/// for each window read_ahead ahead (each once), then `visit(offset, length)`
/// for each window in order, until visit returns false (stopped or failed).
/// With read_ahead on, the first hint starts at the first window, so its
/// reads are queued before those of the windows behind it (asking only for
/// the windows ahead made the first window wait behind them: 64 MiB cold
/// scans 20 % slower than read()).
template <class Hint, class Visit>
void walk_windows(std::uint64_t begin, std::uint64_t end, const scan_options& o, Hint&& hint, Visit&& visit) {
  const std::uint64_t w = o.window;
  auto window_end = [&](std::uint64_t at) { return std::min(end, (at / w + 1) * w); };
  std::uint64_t hinted = begin;  // bytes before this have been asked for
  for (std::uint64_t at = begin; at < end;) {
    const std::uint64_t next = window_end(at);
    if (o.read_ahead != 0) {  // keep read_ahead windows past this one asked for, each byte once
      const std::uint64_t left = end - next;  // read_ahead windows, or what is left (no overflow)
      const std::uint64_t ahead_end = next + (left / w < o.read_ahead ? left : std::uint64_t{o.read_ahead} * w);
      if (hinted < ahead_end) {
        hint(hinted, ahead_end - hinted);
        hinted = ahead_end;
      }
    }
    if (!visit(at, static_cast<std::size_t>(next - at))) return;
    at = next;
  }
}

/// Faults a window in for reading. Only EFAULT (pages past the end of the
/// file: it shrank) is an error; a kernel without MADV_POPULATE_READ, or a
/// mapping it cannot populate (device memory), reads on first touch.
template <access A>
bool populate_window(region<A>& r, std::size_t at, std::size_t length, std::uint64_t offset,
                     failure& f) noexcept {
  std::error_code ec;
  r.advise(advice::populate_read, at, length, ec);
  if (ec == std::errc::bad_address) return f.at(offset).fail(ec, "scan (file shrank)");
  return true;
}

template <class Fn>
void scan_fd_impl(int fd, Fn& fn, const scan_options& o, failure& f) {
  if (f.subject == nullptr) f.fd = fd;
  if (!check_scan_options(o, f)) return;
  detail::file_status st {};
  if (!stat_fd(fd, st, f)) return;
  if (!S_ISREG(st.st_mode)) return void(f.fail(errc::not_regular_file, "scan"));
  const auto file_size = static_cast<std::uint64_t>(st.st_size);
  if (o.offset > file_size) return void(f.at(o.offset).fail(errc::offset_beyond_end, "scan"));
  const std::uint64_t length = o.length == 0 ? file_size - o.offset : o.length;
  const auto end = checked_add(o.offset, length);
  if (!end) return void(f.at(o.offset).fail(errc::size_overflow, "scan"));
  if (*end > file_size) return void(f.at(o.offset).fail(errc::length_beyond_end, "scan"));

  auto hint = [&](std::uint64_t at, std::uint64_t n) { read_ahead(fd, at, n); };
  auto visit = [&](std::uint64_t at, std::size_t n) {
    std::error_code ec;
    auto window = map_fd(fd, {.offset = at, .length = n}, ec);
    if (ec) return f.at(at).fail(ec, "scan (map window)");
    if (o.sequential) window.advise(advice::sequential, ec);  // a hint: a refusal changes nothing
    if (o.populate && !populate_window(window, 0, n, at, f)) return false;
    return call_scan_callback(fn, window.bytes(), at);
  };
  walk_windows(o.offset, *end, o, hint, visit);
}

template <access A, class Fn>
void scan_region_impl(region<A>& r, Fn& fn, const scan_options& o, failure& f) {
  f.fd = r.native_handle();
  if (!check_scan_options(o, f)) return;
  const std::uint64_t length = o.length == 0 && o.offset <= r.size() ? r.size() - o.offset : o.length;
  if (!range_within(o.offset, length, r.size())) return void(f.at(o.offset).fail(errc::range_outside_region, "scan"));
  // Windows aligned in the file, as for scan_fd: the mapping's page offset
  // shifts positions in the region against offsets in the file.
  const std::uint64_t base = r.offset();
  auto hint = [&](std::uint64_t at, std::uint64_t n) {
    if (r.native_handle() >= 0) return read_ahead(r.native_handle(), at, n);
    std::error_code ignored;  // anonymous memory: swap read-ahead, a hint too
    r.advise(advice::will_need, static_cast<std::size_t>(at - base), static_cast<std::size_t>(n), ignored);
  };
  auto visit = [&](std::uint64_t at, std::size_t n) {
    const auto pos = static_cast<std::size_t>(at - base);
    std::error_code ignored;  // a hint, as in scan_fd
    if (o.sequential) r.advise(advice::sequential, pos, n, ignored);
    if (o.populate && !populate_window(r, pos, n, at, f)) return false;
    return call_scan_callback(fn, r.bytes().subspan(pos, n), at);
  };
  walk_windows(base + o.offset, base + o.offset + length, o, hint, visit);
}

}  // namespace detail

/// Reads bytes [o.offset, o.offset + o.length) of the open regular file `fd`
/// (borrowed: it stays the caller's) window by window, calling
/// fn(bytes, offset) for each, in order. Errors: not a regular file
/// (errc::not_regular_file), a range past the end (errc::offset_beyond_end,
/// errc::length_beyond_end, errc::size_overflow), a bad window
/// (std::errc::invalid_argument), the file shrinking under the scan (EFAULT),
/// and what mmap reports. An exception thrown by fn propagates.
template <scan_callback Fn>
void scan_fd(int fd, Fn&& fn, const scan_options& o = {}) {
  detail::throwing([&](detail::failure& f) { detail::scan_fd_impl(fd, fn, o, f); });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
template <scan_callback Fn>
void scan_fd(int fd, Fn&& fn, const scan_options& o, std::error_code& ec) {
  detail::reporting(ec, [&](detail::failure& f) { detail::scan_fd_impl(fd, fn, o, f); });
}

/// scan_fd for a path, opened read-only for the scan; errors name the path.
template <scan_callback Fn>
void scan_file(const std::filesystem::path& path, Fn&& fn, const scan_options& o = {}) {
  detail::throwing([&](detail::failure& f) {
    const unique_fd fd = detail::open_fd(path.c_str(), O_RDONLY, 0, f);
    if (fd) detail::scan_fd_impl(fd.get(), fn, o, f);
  });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
template <scan_callback Fn>
void scan_file(const std::filesystem::path& path, Fn&& fn, const scan_options& o, std::error_code& ec) {
  detail::reporting(ec, [&](detail::failure& f) {
    const unique_fd fd = detail::open_fd(path.c_str(), O_RDONLY, 0, f);
    if (fd) detail::scan_fd_impl(fd.get(), fn, o, f);
  });
}

/// Scans an existing mapping of any backend (file, memfd, shm, anonymous
/// memory, a device) the same way, without mapping anything new (the region
/// is not const: its pages get advice): region
/// bytes [o.offset, o.offset + o.length), windows aligned in the region's
/// file or object. Read-ahead and population are hints where the backend
/// has no use for them. A range outside the region is
/// errc::range_outside_region; an empty region scans nothing.
template <access A, scan_callback Fn>
void scan(region<A>& r, Fn&& fn, const scan_options& o = {}) {
  detail::throwing([&](detail::failure& f) { detail::scan_region_impl(r, fn, o, f); });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
template <access A, scan_callback Fn>
void scan(region<A>& r, Fn&& fn, const scan_options& o, std::error_code& ec) {
  detail::reporting(ec, [&](detail::failure& f) { detail::scan_region_impl(r, fn, o, f); });
}

}  // namespace mmapx
