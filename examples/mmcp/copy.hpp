// examples/mmcp/copy.hpp - mmcp's copy engine: which bytes hold data, how
// they get from one file to the other, and how to check they arrived.
//
// Only data extents are copied (SEEK_DATA/SEEK_HOLE), so a sparse source
// gives an equally sparse destination. Each extent is copied in windows of a
// fixed size, aligned to that size in the file, so address-space use stays
// bounded whatever the file size and windows line up with huge pages. The
// caller reserves the destination's space first (reserve_extents), so a full
// disk is an error before the first byte is written, never a SIGBUS.
//
// Every step reports through mmapx::detail::failure, naming the file.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include <mmapx/file.hpp>
#include <mmapx/sigbus.hpp>

namespace mmcp {

using mmapx::detail::failure;

/// An open file and the name to use for it in messages.
struct file_ref {
  int fd;
  const char* name;
};

/// A run of bytes that may hold data; everything between extents is a hole.
struct extent {
  std::uint64_t offset;
  std::uint64_t length;
  friend bool operator==(const extent&, const extent&) = default;
};

/// How the bytes of one window move from source to destination.
enum class strategy {
  write,            ///< map the source window, write(2) it to the destination
  mmap,             ///< map both windows, memcpy between them
  mmap_populate,    ///< as mmap, with the destination window faulted in for writing first
  huge,             ///< as mmap, windows asking for transparent huge pages
  copy_file_range,  ///< no mapping at all: the kernel copies (comparison point only)
};

struct strategy_name {
  strategy value;
  std::string_view name;
  std::string_view summary;
};

inline constexpr std::array<strategy_name, 5> strategies{{
    {strategy::write, "write", "map the source, write(2) to the destination (default)"},
    {strategy::mmap, "mmap", "map both, memcpy between the mappings (MADV_RANDOM destination)"},
    {strategy::mmap_populate, "mmap-populate", "as mmap, destination pre-faulted (MADV_POPULATE_WRITE)"},
    {strategy::huge, "huge", "as mmap, with MADV_HUGEPAGE (destination: whole 2 MiB of data)"},
    {strategy::copy_file_range, "copy_file_range", "no mmap: copy_file_range(2), for comparison"},
}};

inline std::optional<strategy> parse_strategy(std::string_view name) noexcept {
  for (const auto& s : strategies) {
    if (s.name == name) return s.value;
  }
  return std::nullopt;
}

inline constexpr strategy default_strategy = strategy::write;
inline constexpr std::size_t default_window = std::size_t{64} << 20;

/// Bytes per write(2) in the write strategy. The page cache sizes a new folio
/// by the write, and large folios were measured slow to allocate on a VM whose
/// hypervisor takes back free memory (free page reporting: 2-4 s per GiB for
/// writes of 128 KiB and more, 0.4 s for 64 KiB, like cp); 16384 system calls
/// per GiB cost next to nothing.
inline constexpr std::size_t write_chunk = std::size_t{64} << 10;

/// Records an error about `file`; returns false.
inline bool fail_on(failure& f, const file_ref& file, std::error_code code, const char* operation) noexcept {
  f.subject = file.name;
  return f.fail(code, operation);
}
inline bool fail_errno_on(failure& f, const file_ref& file, const char* operation) noexcept {
  return fail_on(f, file, std::error_code(errno, std::system_category()), operation);
}

/// The data extents among the first `size` bytes of `file`. A file system
/// that cannot tell data from holes reports the whole file as one extent.
inline bool data_extents(const file_ref& file, std::uint64_t size, std::vector<extent>& out, failure& f) {
  out.clear();
  off_t pos = 0;
  const auto end = static_cast<off_t>(size);
  while (pos < end) {
    const off_t data = ::lseek(file.fd, pos, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // only a hole is left
      if (errno == EINVAL || errno == EOPNOTSUPP) {
        out.assign({extent{0, size}});
        return true;
      }
      return fail_errno_on(f, file, "find data in");
    }
    if (data >= end) break;
    off_t hole = ::lseek(file.fd, data, SEEK_HOLE);
    if (hole < 0) return fail_errno_on(f, file, "find holes in");
    hole = std::min(hole, end);
    out.push_back({static_cast<std::uint64_t>(data), static_cast<std::uint64_t>(hole - data)});
    pos = hole;
  }
  return true;
}

/// Sizes `file` to `size` bytes and allocates disk space for every extent,
/// leaving holes as holes.
inline bool reserve_extents(const file_ref& file, std::uint64_t size, const std::vector<extent>& extents,
                            failure& f) noexcept {
  if (::ftruncate(file.fd, static_cast<off_t>(size)) != 0) return fail_errno_on(f, file, "resize");
  for (const auto& e : extents) {
    if (!mmapx::detail::reserve_range(file.fd, e.offset, e.length, f)) {
      f.subject = file.name;
      f.operation = "reserve space for";
      return false;
    }
  }
  return true;
}

/// Maps [offset, offset + length) of `file` through the mmapx core.
template <mmapx::access A>
mmapx::region<A> map_window(const file_ref& file, std::uint64_t offset, std::size_t length,
                            const mmapx::map_options& opts, failure& f) noexcept {
  auto r = mmapx::detail::map_file_fd<A>(file.fd, {.offset = offset, .length = length, .map = opts}, f);
  if (f) {
    f.subject = file.name;
    f.fd = -1;
    f.has_address = false;
    f.operation = "map";
  }
  return r;
}

/// A SIGBUS while reading or writing a mapping: the file shrank or could not be read.
inline bool fail_sigbus(failure& f, const file_ref& src) noexcept {
  return fail_on(f, src, std::make_error_code(std::errc::io_error), "read");
}

inline bool write_all(const file_ref& dst, const std::byte* from, std::size_t length, std::uint64_t at,
                      const file_ref& src, failure& f) noexcept {
  while (length > 0) {
    const ssize_t n = ::pwrite(dst.fd, from, std::min(length, write_chunk), static_cast<off_t>(at));
    if (n < 0) {
      if (errno == EINTR) continue;
      // The kernel could not read our source mapping: the same cause as a SIGBUS.
      if (errno == EFAULT) return fail_sigbus(f, src);
      return fail_errno_on(f, dst, "write");
    }
    from += n;
    length -= static_cast<std::size_t>(n);
    at += static_cast<std::uint64_t>(n);
  }
  return true;
}

/// Copies one window (same offset in both files) with the given strategy.
inline bool copy_window(const file_ref& src, const file_ref& dst, std::uint64_t offset, std::size_t length,
                        strategy how, failure& f) noexcept {
  using mmapx::access;
  using mmapx::advice;
  if (how == strategy::copy_file_range) {
    loff_t in = static_cast<loff_t>(offset), out = static_cast<loff_t>(offset);
    while (length > 0) {
      const ssize_t n = ::copy_file_range(src.fd, &in, dst.fd, &out, length, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail_errno_on(f, dst, "copy_file_range to");
      if (n == 0) return fail_on(f, src, std::make_error_code(std::errc::io_error), "read");
      length -= static_cast<std::size_t>(n);
    }
    return true;
  }

  const mmapx::map_options source_options{
      .populate = true, .huge = how == strategy::huge ? mmapx::huge_pages::transparent : mmapx::huge_pages::none};
  auto in = map_window<access::read>(src, offset, length, source_options, f);
  if (f) return false;
  if (how == strategy::write) return write_all(dst, in.data(), in.size(), offset, src, f);

  // Huge pages on the destination only where a whole huge page is data: a
  // huge page-cache folio over a hole would fill the hole when written back.
  const bool whole_huge_pages = offset % mmapx::detail::huge_2m == 0 && length % mmapx::detail::huge_2m == 0;
  const mmapx::map_options destination_options{
      .huge = how == strategy::huge && whole_huge_pages ? mmapx::huge_pages::transparent : mmapx::huge_pages::none};
  auto out = map_window<access::read_write>(dst, offset, length, destination_options, f);
  if (f) return false;
  std::error_code ec;  // advice is a hint: if the kernel refuses it, the copy still works
  if (how != strategy::huge) {
    // No readahead on the destination: it would allocate large page-cache
    // folios, measured twice as slow here (see write_chunk); base pages win.
    out.advise(advice::random, ec);
  }
  if (how == strategy::mmap_populate) out.advise(advice::populate_write, ec);
  const std::byte* from = in.data();
  std::byte* to = out.data();
  mmapx::detail::failure fault;  // a SIGBUS becomes this error instead of killing us
  if (!mmapx::detail::guarded_memcpy(to, from, length, offset, "copy", fault)) return fail_sigbus(f, src);
  return true;
}

/// Copies every extent of `src` into `dst` (already sized and reserved),
/// window by window. `progress` is told the bytes done after each window.
inline bool copy_extents(const file_ref& src, const file_ref& dst, const std::vector<extent>& extents,
                         strategy how, std::size_t window, const std::function<void(std::uint64_t)>& progress,
                         failure& f) noexcept {
  std::uint64_t done = 0;
  for (const auto& e : extents) {
    std::uint64_t offset = e.offset;
    const std::uint64_t end = e.offset + e.length;
    while (offset < end) {
      // Windows end on multiples of `window`, so each mapping starts aligned to it.
      const std::uint64_t window_end = std::min(end, (offset / window + 1) * window);
      const auto length = static_cast<std::size_t>(window_end - offset);
      if (!copy_window(src, dst, offset, length, how, f)) return false;
      done += length;
      offset = window_end;
      if (progress) progress(done);
    }
  }
  return true;
}

/// Extents covering the data of either list (sorted, merged).
inline std::vector<extent> extent_union(std::vector<extent> a, const std::vector<extent>& b) {
  a.insert(a.end(), b.begin(), b.end());
  std::sort(a.begin(), a.end(), [](const extent& x, const extent& y) { return x.offset < y.offset; });
  std::vector<extent> merged;
  for (const auto& e : a) {
    if (!merged.empty() && e.offset <= merged.back().offset + merged.back().length) {
      auto& last = merged.back();
      last.length = std::max(last.offset + last.length, e.offset + e.length) - last.offset;
    } else if (e.length > 0) {
      merged.push_back(e);
    }
  }
  return merged;
}

/// Re-reads both files through fresh mappings and compares them. Returns the
/// offset of the first differing byte, or nothing when they are equal. Only
/// ranges where either file holds data are read: holes in both are equal.
inline std::optional<std::uint64_t> first_difference(const file_ref& a, const file_ref& b, std::size_t window,
                                                     failure& f) {
  using mmapx::access;
  struct ::stat sa {}, sb {};
  if (::fstat(a.fd, &sa) != 0) return fail_errno_on(f, a, "stat"), std::nullopt;
  if (::fstat(b.fd, &sb) != 0) return fail_errno_on(f, b, "stat"), std::nullopt;
  const auto size_a = static_cast<std::uint64_t>(sa.st_size);
  const auto size_b = static_cast<std::uint64_t>(sb.st_size);
  const std::uint64_t common = std::min(size_a, size_b);

  std::vector<extent> ea, eb;
  if (!data_extents(a, common, ea, f) || !data_extents(b, common, eb, f)) return std::nullopt;
  for (const auto& e : extent_union(std::move(ea), eb)) {
    for (std::uint64_t offset = e.offset; offset < e.offset + e.length;) {
      const std::uint64_t window_end = std::min(e.offset + e.length, (offset / window + 1) * window);
      const auto length = static_cast<std::size_t>(window_end - offset);
      auto ma = map_window<access::read>(a, offset, length, {.populate = true}, f);
      if (f) return std::nullopt;
      auto mb = map_window<access::read>(b, offset, length, {.populate = true}, f);
      if (f) return std::nullopt;
      mmapx::detail::failure fault;  // a SIGBUS becomes this error instead of killing us
      const std::size_t at = mmapx::detail::guarded_mismatch(ma.data(), mb.data(), length, offset, "compare", fault);
      if (fault) {
        return fail_on(f, a, std::make_error_code(std::errc::io_error), "read"),
               std::nullopt;
      }
      if (at < length) return offset + at;
      offset = window_end;
    }
  }
  if (size_a != size_b) return common;
  return std::nullopt;
}

}  // namespace mmcp
