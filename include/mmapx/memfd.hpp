// mmapx/memfd.hpp - anonymous memory with a file descriptor (memfd_create):
// shareable with other processes by passing the fd, sizeable, sealable.
//
//   auto buf = mmapx::map_memfd("frames", 1 << 20, {.seals = mmapx::seal::shrink | mmapx::seal::grow});
//   send_fd(sock, buf.native_handle());
#pragma once

#include <sys/mman.h>

#include "region.hpp"

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

namespace mmapx {

/// memfd seals (fcntl F_ADD_SEALS). Combine with |.
enum class seal : unsigned {
  none = 0,
  seal = F_SEAL_SEAL,                  ///< no further seals
  shrink = F_SEAL_SHRINK,              ///< size cannot shrink
  grow = F_SEAL_GROW,                  ///< size cannot grow
  write = F_SEAL_WRITE,                ///< contents frozen (needs no writable shared mapping)
  future_write = F_SEAL_FUTURE_WRITE,  ///< no new writable mappings or write(2); existing ones keep writing
};
/// Combines seals.
constexpr seal operator|(seal a, seal b) noexcept {
  return static_cast<seal>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}

/// Options of map_memfd.
struct memfd_options {
  seal seals = seal::none;  ///< applied once the memory is sized and mapped
  /// MFD_ALLOW_SEALING, so add_seals() works later; false with no `seals` makes
  /// a memfd that can never be sealed.
  bool allow_sealing = true;
  map_options map{};        ///< map.huge = explicit_2m/1g creates a hugetlb memfd
};

namespace detail {

inline bool add_seals(int fd, seal seals, failure& f) noexcept {
  if (seals == seal::none) return true;
  if (::fcntl(fd, F_ADD_SEALS, static_cast<int>(seals)) != 0) return f.fail_errno("seal memfd");
  return true;
}

/// Creates, sizes, maps and seals one memfd with memfd_create `flags`. A
/// hugetlb memfd is sized in whole huge pages (hugetlbfs accepts no other
/// size); the region still shows `size` bytes.
template <access A>
region<A> map_new_memfd(const char* name, std::size_t size, unsigned flags, const memfd_options& o,
                        failure& f) noexcept {
  const std::uint64_t huge = huge_page_bytes(o.map.huge);
  unique_fd fd(::memfd_create(name, flags));
  if (!fd && huge != 0) {
    f.fail(errc::huge_pages_unavailable, "memfd_create (huge pages of this size)");
    return {};
  }
  if (!fd) {
    f.fail_errno("memfd_create");
    return {};
  }
  f.fd = fd.get();
  const std::uint64_t file_size = huge != 0 ? align_up(size, huge).value_or(size) : size;
  if (detail::lfs_ftruncate(fd.get(), static_cast<detail::file_offset>(file_size)) != 0) {
    f.at(size).fail_errno("size memfd");
    return {};
  }
  const int raw = fd.get();
  auto r = map_fd_range<A>(std::move(fd), 0, size, o.map, f);
  if (f || !add_seals(raw, o.seals, f)) return {};
  return r;
}

/// Explicit huge pages follow map_anonymous's rules: when none can be had,
/// base pages (huge_fallback::base_pages) or errc::huge_pages_unavailable.
template <access A>
region<A> map_memfd_impl(const char* name, std::size_t size, const memfd_options& o, failure& f) noexcept {
  f.subject = name;
  if (size > largest_file_end) {
    f.at(size).fail(errc::size_overflow, "size memfd");
    return {};
  }
  unsigned flags = MFD_CLOEXEC;
  if (o.allow_sealing || o.seals != seal::none) flags |= MFD_ALLOW_SEALING;
  if (const auto huge = huge_page_bytes(o.map.huge); huge != 0) {
    const unsigned huge_flags = MFD_HUGETLB | (static_cast<unsigned>(std::countr_zero(huge)) << MAP_HUGE_SHIFT);
    failure attempt = f;
    auto r = map_new_memfd<A>(name, size, flags | huge_flags, o, attempt);
    if (!attempt || attempt.code != errc::huge_pages_unavailable ||
        o.map.on_no_huge_pages == huge_fallback::fail) {
      f = attempt;
      return r;
    }
  }
  memfd_options base = o;
  base.map.huge = huge_pages::none;
  return map_new_memfd<A>(name, size, flags, base, f);
}

}  // namespace detail

/// Creates a memfd named `name` (for /proc and debugging) of `size` bytes and maps it.
template <access A = access::read_write>
region<A> map_memfd(const char* name, std::size_t size, const memfd_options& opts = {}) {
  return detail::throwing([&](detail::failure& f) { return detail::map_memfd_impl<A>(name, size, opts, f); });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
template <access A = access::read_write>
region<A> map_memfd(const char* name, std::size_t size, const memfd_options& opts,
                    std::error_code& ec) noexcept {
  return detail::reporting(ec, [&](detail::failure& f) { return detail::map_memfd_impl<A>(name, size, opts, f); });
}

/// Adds seals to a memfd later (e.g. seal::write once the contents are final
/// and no writable shared mapping remains).
inline void add_seals(int fd, seal seals) {
  detail::throwing([&](detail::failure& f) { f.fd = fd; detail::add_seals(fd, seals, f); });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
inline void add_seals(int fd, seal seals, std::error_code& ec) noexcept {
  detail::reporting(ec, [&](detail::failure& f) { f.fd = fd; detail::add_seals(fd, seals, f); });
}

}  // namespace mmapx
