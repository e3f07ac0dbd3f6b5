// mmapx/file.hpp - mapping regular files, by path or by an open descriptor.
//
//   auto in  = mmapx::map_file("in.dat");                          // read-only, whole file
//   auto out = mmapx::map_file<mmapx::access::read_write>("out.dat",
//                  {.open = mmapx::open_mode::create, .size = 1 << 20});
//
// Rules: a length of 0 means "to the end of the file"; an empty file maps to
// an empty region; a read-only or copy-on-write mapping never reaches past the
// end of its file (that would SIGBUS on access); a writable mapping that does
// reach past it reserves the space first (posix_fallocate), so a full disk
// fails here, not with a SIGBUS later.
#pragma once

#include <sys/stat.h>

#include <filesystem>

#include "region.hpp"

namespace mmapx {

/// How map_file opens its path.
enum class open_mode {
  existing,    ///< the file must exist
  create,      ///< open, or create if missing
  create_new,  ///< create; fail if it exists (O_EXCL)
  truncate,    ///< open or create, then empty it
};

/// Which bytes of a writable file mapping get disk space reserved up front.
enum class reserve_space {
  extension,    ///< only what lies past the current end of the file (keeps holes)
  whole_range,  ///< every mapped byte: holes inside the range are filled too
  none,         ///< nothing: the file is extended with ftruncate, sparse (SIGBUS risk on a full disk)
};

/// Which bytes of which file, how to open it, and how to map it.
struct file_options {
  std::uint64_t offset = 0;   ///< byte offset in the file; any alignment
  std::size_t length = 0;     ///< bytes to map; 0 means to the end of the file
  /// How map_file opens the path (map_fd ignores it); creating needs access::read_write.
  open_mode open = open_mode::existing;
  std::uint64_t size = 0;     ///< writable only: make the file at least this large first
  /// Which bytes get disk space up front (read_write mappings only).
  reserve_space reserve = reserve_space::extension;
  mode_t permissions = 0644;  ///< for files the call creates
  /// Mapping options: population, locking, huge pages (hugetlbfs files only), placement.
  map_options map{};
};

namespace detail {

/// Grows the file behind `fd` to end at `end`: sparse (ftruncate) for
/// reserve_space::none, else with disk space reserved for [from, end).
inline bool grow_file(int fd, std::uint64_t from, std::uint64_t end, reserve_space reserve, failure& f) noexcept {
  if (reserve != reserve_space::none) return reserve_range(fd, from, end - from, f);
  if (lfs_ftruncate(fd, static_cast<file_offset>(end)) == 0) return true;
  return f.at(end).fail_errno("resize file");
}

/// Maps an open regular file by file_options' rules (top of this header).
template <access A>
region<A> map_open_file(unique_fd fd, const file_options& o, failure& f) noexcept {
  detail::file_status st {};
  if (!stat_fd(fd.get(), st, f)) return {};
  if (!S_ISREG(st.st_mode)) {
    f.fail(errc::not_regular_file, "map file");
    return {};
  }
  const auto file_size = static_cast<std::uint64_t>(st.st_size);
  // The size a writable mapping grows the file to first. Everything is
  // checked against it before the file changes, so a failure loses nothing.
  std::uint64_t grown_size = file_size;
  if constexpr (A == access::read_write) {
    if (o.size > largest_file_end) {
      f.at(o.size).fail(errc::size_overflow, "resize file");
      return {};
    }
    grown_size = o.size > file_size ? o.size : file_size;
  }

  std::uint64_t length = o.length;
  if (length == 0) {
    if (o.offset > grown_size) {
      f.at(o.offset).fail(errc::offset_beyond_end, "map file");
      return {};
    }
    length = grown_size - o.offset;
  }
  const auto end = checked_file_end(o.offset, length);
  if (!end || !span_fits_address_space(o.offset, length, page_size())) {
    f.at(o.offset).fail(errc::size_overflow, "map file");  // on 32-bit targets: map a window instead
    return {};
  }
  if (*end > grown_size && A != access::read_write) {
    f.at(o.offset).fail(o.offset > grown_size ? errc::offset_beyond_end : errc::length_beyond_end, "map file");
    return {};
  }
  if constexpr (A == access::read_write) {
    if (grown_size > file_size && !grow_file(fd.get(), file_size, grown_size, o.reserve, f)) return {};
    const std::uint64_t from = o.offset > grown_size ? o.offset : grown_size;
    if (*end > grown_size && !grow_file(fd.get(), from, *end, o.reserve, f)) return {};
    if (o.reserve == reserve_space::whole_range && !reserve_range(fd.get(), o.offset, length, f)) return {};
  }
  return map_fd_range<A>(std::move(fd), o.offset, static_cast<std::size_t>(length), o.map, f);
}

template <access A>
region<A> map_file_path(const std::filesystem::path& whole, const file_options& o, failure& f) noexcept {
  if (!check_path(whole.native(), f)) return {};
  const char* path = whole.c_str();
  f.subject = path;
  if (A != access::read_write && o.open != open_mode::existing) {
    f.fail(std::make_error_code(std::errc::invalid_argument),
           "map file (creating a file needs access::read_write)");
    return {};
  }
  int flags = A == access::read_write ? O_RDWR : O_RDONLY;
  switch (o.open) {
    case open_mode::existing: break;
    case open_mode::create: flags |= O_CREAT; break;
    case open_mode::create_new: flags |= O_CREAT | O_EXCL; break;
    case open_mode::truncate: flags |= O_CREAT | O_TRUNC; break;
  }
  unique_fd fd = open_fd(path, flags, o.permissions, f);
  if (!fd) return {};
  return map_open_file<A>(std::move(fd), o, f);
}

template <access A>
region<A> map_file_fd(int fd, const file_options& o, failure& f) noexcept {
  f.fd = fd;
  unique_fd own = dup_fd(fd, f);
  if (!own) return {};
  return map_open_file<A>(std::move(own), o, f);
}

/// reserve_range for a caller's descriptor, the end checked first
/// (posix_fallocate would take an overflowing off_t for a negative one).
inline bool reserve_file_range(int fd, std::uint64_t offset, std::uint64_t length, failure& f) noexcept {
  f.fd = fd;
  const auto end = checked_add(offset, length);
  if (!end || *end > largest_file_end) return f.at(offset).fail(errc::size_overflow, "reserve space");
  return reserve_range(fd, offset, length, f);
}

}  // namespace detail

/// Maps a file by path. Throws std::system_error naming the path.
template <access A = access::read>
region<A> map_file(const std::filesystem::path& path, const file_options& opts = {}) {
  return detail::throwing([&](detail::failure& f) { return detail::map_file_path<A>(path, opts, f); });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
template <access A = access::read>
region<A> map_file(const std::filesystem::path& path, const file_options& opts, std::error_code& ec) noexcept {
  return detail::reporting(ec, [&](detail::failure& f) { return detail::map_file_path<A>(path, opts, f); });
}

/// Maps an already-open file. The region keeps its own duplicate of `fd`;
/// the caller's descriptor stays the caller's. `opts.open` is ignored.
template <access A = access::read>
region<A> map_fd(int fd, const file_options& opts = {}) {
  return detail::throwing([&](detail::failure& f) { return detail::map_file_fd<A>(fd, opts, f); });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
template <access A = access::read>
region<A> map_fd(int fd, const file_options& opts, std::error_code& ec) noexcept {
  return detail::reporting(ec, [&](detail::failure& f) { return detail::map_file_fd<A>(fd, opts, f); });
}

/// Allocates disk space for bytes [offset, offset + length) of the open file
/// `fd` (posix_fallocate), growing the file if it ends earlier and leaving
/// bytes outside the range (holes included) as they are. Do it before
/// writing through a mapping: a full disk is then ENOSPC here, never a SIGBUS
/// on first touch. A length of 0 does nothing; offset + length past the
/// largest file size is errc::size_overflow. The caller's `fd` is only borrowed.
inline void reserve_file_range(int fd, std::uint64_t offset, std::uint64_t length) {
  detail::throwing([&](detail::failure& f) { detail::reserve_file_range(fd, offset, length, f); });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
inline void reserve_file_range(int fd, std::uint64_t offset, std::uint64_t length, std::error_code& ec) noexcept {
  detail::reporting(ec, [&](detail::failure& f) { detail::reserve_file_range(fd, offset, length, f); });
}

}  // namespace mmapx
