// mmapx/region.hpp - the owning mapping: one type for every backend.
//
// A region owns exactly one mmap(2) and is the only code in mmapx that gives
// mapped pages back: every munmap is in detail::unmap_pages below. A region
// placed inside a reservation (reservation.hpp) gives its range back by
// mapping a PROT_NONE placeholder over it instead, so the reserved address
// space never has a hole. It shows the caller the byte range they asked for, even when that
// range starts at an offset that is not page-aligned: the page-aligned mapping
// around it stays inside. Its access (read, read_write, copy_on_write) is part
// of its type, so a read-only mapping hands out only const bytes.
//
// Every backend (file, anonymous, memfd, shm, devices, the kernel module)
// ends in detail::map_fd_range or detail::map_anonymous_range below.
//
// A default-constructed, moved-from or unmap()ped region is empty: size() is
// 0, data() is nullptr, whole-region operations have nothing to do and
// succeed, any non-empty sub-range is errc::range_outside_region, and resize
// reports errc::not_mapped. Using one is always safe. (resize(0) is not
// unmap(): the region keeps its backing and can grow again.)
#pragma once

#include <sys/mman.h>
#include <sys/vfs.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <utility>

#include "error.hpp"
#include "options.hpp"
#include "page.hpp"
#include "unique_fd.hpp"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MADV_POPULATE_READ  // Linux 5.14; older C libraries lack the names
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

namespace mmapx {

template <access A>
class region;

namespace detail {

/// What is behind a mapping; decides how resize re-creates it and what
/// a durable flush must sync.
enum class backing : std::uint8_t { none, fd, anonymous_private, anonymous_shared, sysv_segment };

inline constexpr std::uint64_t huge_2m = std::uint64_t{1} << 21;
inline constexpr std::uint64_t huge_1g = std::uint64_t{1} << 30;
inline constexpr long hugetlbfs_magic = 0x958458f6;

/// The page size an explicit huge-page request stands for (0: base pages).
constexpr std::uint64_t huge_page_bytes(huge_pages h) noexcept {
  switch (h) {
    case huge_pages::explicit_2m: return huge_2m;
    case huge_pages::explicit_1g: return huge_1g;
    case huge_pages::none:
    case huge_pages::transparent: break;
  }
  return 0;
}

template <access A>
region<A> map_range(unique_fd fd, backing kind, std::uint64_t offset, std::size_t length,
                    const map_options& opts, failure& f) noexcept;

/// Address space reserved with PROT_NONE (reservation.hpp) that regions can be
/// placed in. A placed region tells it, through vacate, when it gives its
/// range back; the space goes when its reservation and every region placed in
/// it have gone.
class reserved_space {
public:
  /// [base, base + length), which the caller has just covered with a
  /// placeholder again, is free; the caller's hold on the space ends.
  virtual void vacate(void* base, std::size_t length) noexcept = 0;

protected:
  ~reserved_space() = default;
};

/// Maps a PROT_NONE, no-reserve placeholder over [base, base + length) with
/// MAP_FIXED: the pages there are dropped and the addresses stay taken, in one
/// system call, so no other thread's mmap can land in between.
inline bool map_placeholder(void* base, std::size_t length) noexcept {
  return ::mmap(base, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) !=
         MAP_FAILED;
}

/// The one way mmapx gives mapped pages back: munmap, or, for a range placed
/// in reserved space (`home`), a placeholder over it and the space told the
/// range is free. False with errno set when the system call failed (a placed
/// range is given up either way).
inline bool unmap_pages(void* base, std::size_t length, reserved_space* home) noexcept {
  if (home == nullptr) return ::munmap(base, length) == 0;
  const bool ok = map_placeholder(base, length);
  const int saved = errno;
  home->vacate(base, length);
  errno = saved;
  return ok;
}

template <access A>
bool move_into(region<A>& r, void* target, reserved_space* home, failure& f) noexcept;

template <access A>
region<A> adopt_mapping(void* base, std::size_t length, backing kind) noexcept;

/// The PROT_* bits of a protection.
constexpr int prot_flags(protection p) noexcept {
  switch (p) {
    case protection::none: return PROT_NONE;
    case protection::read: return PROT_READ;
    case protection::read_write: return PROT_READ | PROT_WRITE;
    case protection::read_exec: return PROT_READ | PROT_EXEC;
  }
  return PROT_NONE;
}

}  // namespace detail

/// The owning mapping. Move-only; unmaps in its destructor, which never
/// throws and never syncs: call flush() when the data must reach the file.
template <access A>
class region {
public:
  /// The access mode A, for generic code.
  static constexpr access access_mode = A;
  /// True for read_write and copy_on_write: data() gives non-const bytes.
  static constexpr bool writable = A != access::read;
  /// std::byte for writable regions, const std::byte for read-only ones.
  using value_type = std::conditional_t<writable, std::byte, const std::byte>;

  /// An empty region: size() 0, data() null (see the top of this header).
  region() noexcept = default;
  /// Takes over `other`'s mapping (pointers into it stay valid); `other` is left empty.
  region(region&& other) noexcept
      : map_(std::exchange(other.map_, {})), src_(std::exchange(other.src_, {})) {}
  /// Unmaps the current mapping, then takes over `other`'s; `other` is left empty.
  region& operator=(region&& other) noexcept {
    if (this != &other) {
      reset();
      map_ = std::exchange(other.map_, {});
      src_ = std::exchange(other.src_, {});
    }
    return *this;
  }
  /// Not copyable: exactly one region unmaps a mapping.
  region(const region&) = delete;
  region& operator=(const region&) = delete;
  /// Unmaps without flushing; a munmap error is ignored (unmap() reports it).
  ~region() { drop_mapping(); }

  // --- the bytes ---------------------------------------------------------

  /// The first requested byte (null when empty); const for read-only regions.
  [[nodiscard]] value_type* data() noexcept { return map_.data; }
  /// The first requested byte of a const region, read-only (null when empty).
  [[nodiscard]] const std::byte* data() const noexcept { return map_.data; }
  /// Bytes requested (the page-aligned mapping around them may be larger).
  [[nodiscard]] std::size_t size() const noexcept { return map_.size; }
  /// True when size() is 0 (an empty region, or an empty file mapped).
  [[nodiscard]] bool empty() const noexcept { return map_.size == 0; }
  /// True when there is a live mapping (false for empty and moved-from regions).
  [[nodiscard]] bool is_mapped() const noexcept { return map_.length != 0; }
  /// [data(), data() + size()) as a span: empty for an empty region, stale
  /// after a resize that moved the mapping.
  [[nodiscard]] std::span<value_type> bytes() noexcept { return {map_.data, map_.size}; }
  /// bytes() of a const region: the same range, read-only.
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {map_.data, map_.size}; }
  /// The first requested byte, as data(): regions work with range-for and `<algorithm>`.
  [[nodiscard]] value_type* begin() noexcept { return map_.data; }
  /// data() + size().
  [[nodiscard]] value_type* end() noexcept { return map_.data + map_.size; }
  /// begin() and end() of a const region: the same bytes, read-only.
  /// @{
  [[nodiscard]] const std::byte* begin() const noexcept { return map_.data; }
  [[nodiscard]] const std::byte* end() const noexcept { return map_.data + map_.size; }
  /// @}

  /// The backing file descriptor (owned by the region), or -1.
  [[nodiscard]] int native_handle() const noexcept { return src_.fd.get(); }
  /// Offset of data()[0] in the backing file or object.
  [[nodiscard]] std::uint64_t offset() const noexcept { return src_.offset; }
  /// Size of the pages actually used (the base page size, or a huge page size).
  [[nodiscard]] std::size_t page_size() const noexcept { return src_.page != 0 ? src_.page : mmapx::page_size(); }

  // --- flush: only meaningful where writes reach a shared object ---------

  /// Writes dirty pages back as far as `level` says (whole region or a range).
  void flush(flush_level level = flush_level::sync) requires(A == access::read_write) {
    detail::throwing([&](detail::failure& f) { flush_impl(0, map_.size, level, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void flush(flush_level level, std::error_code& ec) noexcept requires(A == access::read_write) {
    detail::reporting(ec, [&](detail::failure& f) { flush_impl(0, map_.size, level, f); });
  }
  /// flush() of the pages holding bytes [offset, offset + length) only; a range
  /// not inside the region is errc::range_outside_region.
  void flush(std::size_t offset, std::size_t length, flush_level level = flush_level::sync)
    requires(A == access::read_write) {
    detail::throwing([&](detail::failure& f) { flush_impl(offset, length, level, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void flush(std::size_t offset, std::size_t length, flush_level level, std::error_code& ec) noexcept
    requires(A == access::read_write) {
    detail::reporting(ec, [&](detail::failure& f) { flush_impl(offset, length, level, f); });
  }

  // --- advice, protection, locking (whole region or a sub-range) ---------

  /// madvise(2) with portable names (whole region or a range).
  void advise(advice a) { advise(a, 0, map_.size); }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void advise(advice a, std::error_code& ec) noexcept { advise(a, 0, map_.size, ec); }
  /// advise() of the pages holding bytes [offset, offset + length) only; a range
  /// not inside the region is errc::range_outside_region.
  void advise(advice a, std::size_t offset, std::size_t length) {
    detail::throwing([&](detail::failure& f) { advise_impl(a, offset, length, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void advise(advice a, std::size_t offset, std::size_t length, std::error_code& ec) noexcept {
    detail::reporting(ec, [&](detail::failure& f) { advise_impl(a, offset, length, f); });
  }

  /// Changes page protection. On a read-only region only none/read/read_exec
  /// are accepted: the type promised the bytes would not be written.
  void protect(protection p) { protect(p, 0, map_.size); }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void protect(protection p, std::error_code& ec) noexcept { protect(p, 0, map_.size, ec); }
  /// protect() of the pages holding bytes [offset, offset + length) only; a range
  /// not inside the region is errc::range_outside_region.
  void protect(protection p, std::size_t offset, std::size_t length) {
    detail::throwing([&](detail::failure& f) { protect_impl(p, offset, length, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void protect(protection p, std::size_t offset, std::size_t length, std::error_code& ec) noexcept {
    detail::reporting(ec, [&](detail::failure& f) { protect_impl(p, offset, length, f); });
  }

  /// mlock(2)/munlock(2): keep the pages resident.
  void lock() {
    detail::throwing([&](detail::failure& f) { lock_impl(true, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void lock(std::error_code& ec) noexcept {
    detail::reporting(ec, [&](detail::failure& f) { lock_impl(true, f); });
  }
  /// Lets the pages be paged out again (munlock(2) of the whole region).
  void unlock() {
    detail::throwing([&](detail::failure& f) { lock_impl(false, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void unlock(std::error_code& ec) noexcept {
    detail::reporting(ec, [&](detail::failure& f) { lock_impl(false, f); });
  }

  // --- resize -------------------------------------------------------------

  /// Grows or shrinks the region to `new_size` bytes (mremap; a region split by
  /// advice, protection or locking on part of it is mapped anew instead, see
  /// remap_fresh). A writable file mapping first reserves the file space it
  /// grows into; a read-only or copy-on-write one cannot grow past the end of
  /// its file (errc::length_beyond_end). resize(0) keeps the backing, so the
  /// region can grow again; an unmap()ped region is errc::not_mapped. Returns
  /// true when the mapping moved: every pointer into it is then stale.
  bool resize(std::size_t new_size, resize_options opts = {}) {
    return detail::throwing([&](detail::failure& f) { return resize_impl(new_size, opts, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  bool resize(std::size_t new_size, resize_options opts, std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return resize_impl(new_size, opts, f); });
  }

  /// Unmaps now, reporting a munmap failure (the destructor cannot). The
  /// region is then empty like a default-constructed one: its descriptor is
  /// closed and resize() reports errc::not_mapped.
  void unmap() {
    detail::throwing([&](detail::failure& f) { unmap_all(f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void unmap(std::error_code& ec) noexcept {
    detail::reporting(ec, [&](detail::failure& f) { unmap_all(f); });
  }

private:
  template <access B>
  friend region<B> detail::map_range(unique_fd, detail::backing, std::uint64_t, std::size_t,
                                     const map_options&, detail::failure&) noexcept;
  template <access B>
  friend bool detail::move_into(region<B>&, void*, detail::reserved_space*, detail::failure&) noexcept;
  template <access B>
  friend region<B> detail::adopt_mapping(void*, std::size_t, detail::backing) noexcept;

  /// Unmaps (a munmap error is ignored: unmap() is the call that reports
  /// one) and forgets the mapping; the backing stays, so resize can grow again.
  void drop_mapping() noexcept {
    if (map_.length != 0) detail::unmap_pages(map_.base, map_.length, map_.home);
    map_ = {};
  }

  /// Back to what a default-constructed region is. Every field's reset is
  /// its default member initializer: written once.
  void reset() noexcept {
    drop_mapping();
    src_ = {};
  }

  /// The page-aligned span of the mapping that covers [offset, offset+length)
  /// of the user's bytes, or a failure if that range is not inside the region.
  bool page_span(std::size_t offset, std::size_t length, const char* op, void*& start,
                 std::size_t& bytes, detail::failure& f) const noexcept {
    if (!range_within(offset, length, map_.size)) {
      f.at(offset);
      return f.fail(errc::range_outside_region, op);
    }
    start = nullptr;
    bytes = 0;
    if (length == 0) return true;
    const auto first = reinterpret_cast<std::uintptr_t>(map_.data) + offset;
    const auto aligned = align_down(first, page_size());
    const auto last = *align_up(first + length, page_size());  // inside the mapping: cannot overflow
    start = reinterpret_cast<void*>(aligned);
    bytes = static_cast<std::size_t>(last - aligned);
    return true;
  }

  bool flush_impl(std::size_t offset, std::size_t length, flush_level level,
                  detail::failure& f) const noexcept {
    void* start;
    std::size_t bytes;
    if (!page_span(offset, length, "flush", start, bytes, f)) return false;
    if (bytes == 0) return true;
    const int how = level == flush_level::async ? MS_ASYNC : MS_SYNC;
    if (::msync(start, bytes, how) != 0) return f.at(offset).fail_errno("flush");
    if (level == flush_level::durable && src_.fd && ::fdatasync(src_.fd.get()) != 0) {
      return f.at(offset).fail_errno("flush (fdatasync)");
    }
    return true;
  }

  static int advice_flag(advice a) noexcept {
    switch (a) {
      case advice::normal: return MADV_NORMAL;
      case advice::sequential: return MADV_SEQUENTIAL;
      case advice::random: return MADV_RANDOM;
      case advice::will_need: return MADV_WILLNEED;
      case advice::dont_need: return MADV_DONTNEED;
      case advice::huge_pages: return MADV_HUGEPAGE;
      case advice::no_huge_pages: return MADV_NOHUGEPAGE;
      case advice::dont_fork: return MADV_DONTFORK;
      case advice::do_fork: return MADV_DOFORK;
      case advice::dont_dump: return MADV_DONTDUMP;
      case advice::do_dump: return MADV_DODUMP;
      case advice::free: return MADV_FREE;
      case advice::populate_read: return MADV_POPULATE_READ;
      case advice::populate_write: return MADV_POPULATE_WRITE;
    }
    return MADV_NORMAL;
  }

  bool advise_impl(advice a, std::size_t offset, std::size_t length, detail::failure& f) const noexcept {
    void* start;
    std::size_t bytes;
    if (!page_span(offset, length, "advise", start, bytes, f)) return false;
    if (bytes == 0) return true;
    if (::madvise(start, bytes, advice_flag(a)) != 0) return f.at(offset).fail_errno("advise");
    return true;
  }

  bool protect_impl(protection p, std::size_t offset, std::size_t length, detail::failure& f) noexcept {
    const int prot = detail::prot_flags(p);
    if (!writable && (prot & PROT_WRITE) != 0) {
      f.at(offset);
      return f.fail(std::make_error_code(std::errc::permission_denied), "protect (read-only region)");
    }
    void* start;
    std::size_t bytes;
    if (!page_span(offset, length, "protect", start, bytes, f)) return false;
    if (bytes == 0) return true;
    if (::mprotect(start, bytes, prot) != 0) return f.at(offset).fail_errno("protect");
    return true;
  }

  bool lock_impl(bool lock, detail::failure& f) const noexcept {
    if (map_.length == 0) return true;
    const int rc = lock ? ::mlock(map_.base, map_.length) : ::munlock(map_.base, map_.length);
    if (rc != 0) return f.fail_errno(lock ? "lock" : "unlock");
    return true;
  }

  bool resize_impl(std::size_t new_size, resize_options opts, detail::failure& f) noexcept;

  /// Resize by mapping anew (same backing, offset and options) and dropping
  /// the old mapping: file pages come back from the file, private memory is
  /// copied. Advice and protection set on parts of the old mapping are not
  /// carried over. The region keeps its descriptor (native_handle() stays).
  bool remap_fresh(std::size_t new_size, detail::failure& f) noexcept {
    unique_fd fd;
    if (src_.fd && !(fd = detail::dup_fd(src_.fd.get(), f))) return false;
    auto fresh = detail::map_range<A>(std::move(fd), src_.kind, src_.offset, new_size, src_.opts, f);
    if (f) return false;
    const bool private_memory = src_.kind != detail::backing::fd || A == access::copy_on_write;
    if (private_memory && map_.size != 0) {
      // Parts may have been protected against reading; the old mapping is
      // going away, so make all of it readable for the copy.
      if (::mprotect(map_.base, map_.length, PROT_READ) != 0) return f.fail_errno("resize (protect for copy)");
      std::memcpy(const_cast<std::byte*>(static_cast<const std::byte*>(fresh.map_.data)), map_.data,
                  map_.size < new_size ? map_.size : new_size);
    }
    std::swap(fresh.src_.fd, src_.fd);  // keep the original descriptor; the duplicate goes with the old mapping
    *this = std::move(fresh);
    return true;
  }

  /// unmap(): reports a munmap failure (and then keeps the region as it
  /// was, unless it was placed in a reservation, whose range is given up
  /// either way); otherwise the region is what a default-constructed one is,
  /// its descriptor closed, so resize() afterwards is errc::not_mapped.
  bool unmap_all(detail::failure& f) noexcept {
    if (map_.length != 0 && !detail::unmap_pages(map_.base, map_.length, map_.home)) {
      f.at(reinterpret_cast<std::uintptr_t>(map_.base)).fail_errno(map_.home != nullptr ? "unmap (placeholder)" : "munmap");
      if (map_.home == nullptr) return false;
    }
    const bool ok = !f;
    map_ = {};
    src_ = {};
    return ok;
  }

  /// The mapping itself; all zero when there is none.
  struct mapping {
    void* base = nullptr;        // what mmap returned (0 is a valid address)
    std::size_t length = 0;      // what munmap must be given; 0: nothing is mapped
    value_type* data = nullptr;  // the user's first byte, inside the mapping
    std::size_t size = 0;        // the user's length
    detail::reserved_space* home = nullptr;  // the reservation it is placed in, if any
  };
  /// What the mapping shows, kept so that resize can map it again.
  struct source {
    std::uint64_t offset = 0;    // file offset of map_.data
    std::size_t page = 0;        // page size used (0: base pages)
    detail::backing kind = detail::backing::none;
    map_options opts{};          // placement reset to anywhere
    unique_fd fd;
  };
  mapping map_;
  source src_;
};

/// The three access modes by name.
/// ro_region: read-only, its bytes are const.
using ro_region = region<access::read>;
/// Writes reach the backing file or object, and other processes' shared mappings.
using rw_region = region<access::read_write>;
/// Writes stay private to this process (copy-on-write); the file never changes.
using cow_region = region<access::copy_on_write>;

namespace detail {

constexpr int prot_for(access a, bool exec) noexcept {
  int prot = a == access::read ? PROT_READ : PROT_READ | PROT_WRITE;
  return exec ? prot | PROT_EXEC : prot;
}

/// The pages a mapping gets: the size it is aligned to, and the mmap flags
/// that ask for them.
struct page_choice {
  std::uint64_t size = 0;  ///< page size the mapping is aligned to
  int flags = 0;           ///< MAP_HUGETLB and its size, for anonymous huge pages
  bool huge = false;       ///< explicit huge pages, which the kernel may not have
};

/// Explicit huge pages come from the hugetlb pool (anonymous memory) or from
/// the file's hugetlbfs; a file elsewhere has none (errc::huge_pages_unavailable,
/// or base pages with huge_fallback::base_pages).
inline bool choose_pages(const unique_fd& fd, const map_options& opts, page_choice& pages, failure& f) noexcept {
  pages = {page_size(), 0, false};
  const std::uint64_t huge = huge_page_bytes(opts.huge);
  if (huge == 0) return true;
  if (!fd) {
    pages = {huge, MAP_HUGETLB | (std::countr_zero(huge) << MAP_HUGE_SHIFT), true};
    return true;
  }
  detail::fs_status fs {};
  if (detail::lfs_fstatfs(fd.get(), fs) == 0 && fs.f_type == hugetlbfs_magic) {
    pages = {huge, 0, true};
  } else if (opts.on_no_huge_pages == huge_fallback::fail) {
    return f.fail(errc::huge_pages_unavailable, "map (file is not on hugetlbfs)");
  }
  return true;
}

/// The mmap flags of a mapping, apart from its page size.
template <access A>
int map_flags(backing kind, bool has_fd, const map_options& opts) noexcept {
  const bool shared = kind == backing::anonymous_shared || (kind == backing::fd && A != access::copy_on_write);
  int flags = shared ? MAP_SHARED : MAP_PRIVATE;
  if (!has_fd) flags |= MAP_ANONYMOUS;
  // Transparent huge pages must be advised before the pages are faulted in,
  // so finish_mapping populates those after the advice.
  if (opts.populate && opts.huge != huge_pages::transparent) flags |= MAP_POPULATE;
  if (opts.no_reserve) flags |= MAP_NORESERVE;
  if (opts.place == placement::fixed_noreplace) flags |= MAP_FIXED_NOREPLACE;
  return flags;
}

/// What one mmap of an aligned range returned: `base` (MAP_FAILED with
/// errno set on failure), the `length` mapped, and the `lead` bytes before
/// the user's first.
struct aligned_mapping {
  void* base = MAP_FAILED;
  std::size_t length = 0;
  std::size_t lead = 0;
};

/// The one mmap call: the range around [offset, offset + length) aligned to
/// pages of `page` bytes. The caller has checked offset + length
/// (checked_file_end), so only a span past SIZE_MAX (32-bit) can overflow.
inline aligned_mapping map_aligned(int fd, std::uint64_t offset, std::size_t length, std::uint64_t page, int prot,
                                   int flags, void* hint) noexcept {
  const std::uint64_t start = align_down(offset, page);
  const auto span = align_up(offset - start + length, page);
  if (!span || *span > SIZE_MAX) {
    errno = EOVERFLOW;
    return {};
  }
  return {detail::lfs_mmap(hint, static_cast<std::size_t>(*span), prot, flags, fd, static_cast<detail::file_offset>(start)),
          static_cast<std::size_t>(*span), static_cast<std::size_t>(offset - start)};
}

/// The steps after the mmap: the placement check, transparent huge pages
/// (advised, then populated as MAP_POPULATE would: best effort, since a
/// kernel before 5.14 lacks MADV_POPULATE_*), locking. The caller's region
/// already owns the mapping, so a failure here only has to be reported.
inline bool finish_mapping(const aligned_mapping& m, const map_options& opts, bool write_faults,
                           std::uint64_t offset, failure& f) noexcept {
  // Before Linux 4.17 MAP_FIXED_NOREPLACE was an unknown flag, i.e. a hint.
  if (opts.place == placement::fixed_noreplace && m.base != opts.hint) {
    return f.at(reinterpret_cast<std::uintptr_t>(opts.hint)).fail(errc::placement_failed, "mmap");
  }
  if (opts.huge == huge_pages::transparent) {
    if (::madvise(m.base, m.length, MADV_HUGEPAGE) != 0) return f.at(offset).fail_errno("advise (transparent huge pages)");
    if (opts.populate) ::madvise(m.base, m.length, write_faults ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
  }
  if (opts.lock && ::mlock(m.base, m.length) != 0) return f.at(offset).fail_errno("lock");
  return true;
}

/// Maps [offset, offset + length) of `fd` (or anonymous memory): checks,
/// chooses the pages, maps, and hands the mapping to a region at once, so
/// that any later failure unmaps it by returning. Every backend gets here
/// through map_fd_range or map_anonymous_range.
template <access A>
region<A> map_range(unique_fd fd, backing kind, std::uint64_t offset, std::size_t length,
                    const map_options& opts, failure& f) noexcept {
  if (fd && f.fd == failure::no_fd && f.subject.empty()) f.fd = fd.get();
  if (!checked_file_end(offset, length) || !span_fits_address_space(offset, length, page_size())) {
    f.at(offset).fail(errc::size_overflow, "map");
    return {};
  }
  if (opts.place == placement::fixed_noreplace && opts.hint == nullptr) {
    // Address 0 is a real address to MAP_FIXED_NOREPLACE (root may map page 0).
    f.fail(std::make_error_code(std::errc::invalid_argument),
           "map (placement::fixed_noreplace needs a non-null hint address)");
    return {};
  }
  page_choice pages;
  if (!choose_pages(fd, opts, pages, f)) return {};
  region<A> r;
  const int raw_fd = fd ? fd.get() : -1;
  r.src_ = {offset, 0, kind, opts, std::move(fd)};
  r.src_.opts.place = placement::anywhere;  // a later re-map (resize) may go anywhere
  r.src_.opts.hint = nullptr;
  if (length == 0) return r;  // an empty file maps to an empty region that keeps its fd, so it can grow

  const int prot = prot_for(A, opts.exec);
  const int flags = map_flags<A>(kind, raw_fd >= 0, opts);
  auto m = map_aligned(raw_fd, offset, length, pages.size, prot, flags | pages.flags, opts.hint);
  if (m.base == MAP_FAILED && pages.huge && (errno == ENOMEM || errno == EINVAL)) {
    // No huge pages to be had; a hugetlbfs file has no base pages to fall back to.
    if (opts.on_no_huge_pages == huge_fallback::fail || raw_fd >= 0) {
      f.fail(errc::huge_pages_unavailable, "mmap");
      return {};
    }
    pages = {page_size(), 0, false};
    m = map_aligned(raw_fd, offset, length, pages.size, prot, flags, opts.hint);
  }
  if (m.base == MAP_FAILED) {
    const bool fixed = opts.place == placement::fixed_noreplace;
    f.at(fixed ? reinterpret_cast<std::uintptr_t>(opts.hint) : offset).fail_errno("mmap", stage::map);
    return {};
  }
  r.map_ = {m.base, m.length, static_cast<typename region<A>::value_type*>(m.base) + m.lead, length};
  r.src_.page = pages.size == page_size() ? 0 : static_cast<std::size_t>(pages.size);
  const bool write_faults = (flags & MAP_PRIVATE) != 0 && (prot & PROT_WRITE) != 0;
  if (!finish_mapping(m, opts, write_faults, offset, f)) return {};  // r unmaps
  return r;
}

/// The one mapping routine for descriptors: maps [offset, offset + length) of
/// `fd` (any alignment; no clamping to st_size, so device files work). The
/// region takes ownership of `fd`.
template <access A>
region<A> map_fd_range(unique_fd fd, std::uint64_t offset, std::size_t length,
                       const map_options& opts, failure& f) noexcept {
  return map_range<A>(std::move(fd), backing::fd, offset, length, opts, f);
}

/// The one mapping routine for anonymous memory.
template <access A>
region<A> map_anonymous_range(std::size_t length, bool shared, const map_options& opts,
                              failure& f) noexcept {
  return map_range<A>(unique_fd{}, shared ? backing::anonymous_shared : backing::anonymous_private,
                      0, length, opts, f);
}

/// A region over [base, base + length) mapped by another call (shmat): it
/// gives the pages back with munmap like any region, which for a System V
/// segment detaches it exactly as shmdt would.
template <access A>
region<A> adopt_mapping(void* base, std::size_t length, backing kind) noexcept {
  region<A> r;
  r.map_.base = base;
  r.map_.length = static_cast<std::size_t>(*align_up(length, page_size()));
  r.map_.data = static_cast<typename region<A>::value_type*>(base);
  r.map_.size = length;
  r.src_.kind = kind;
  return r;
}

/// Moves r's whole mapping to `target`, inside reserved space that the caller
/// has claimed [target, target + mapping length) of, with mremap: MREMAP_FIXED
/// replaces the placeholder there in the same system call. From then on r
/// gives its range back to `home`. On failure r is unchanged.
template <access A>
bool move_into(region<A>& r, void* target, reserved_space* home, failure& f) noexcept {
  if (r.map_.home != nullptr) {
    return f.at(reinterpret_cast<std::uintptr_t>(target))
        .fail(std::make_error_code(std::errc::invalid_argument), "place (region already placed in a reservation)");
  }
  void* moved = ::mremap(r.map_.base, r.map_.length, r.map_.length, MREMAP_MAYMOVE | MREMAP_FIXED, target);
  if (moved == MAP_FAILED) {
    const int saved = errno;
    // Kernels before 6.17 drop the placeholder before some checks fail: put
    // it back, without replacing whatever another thread may have mapped there.
    ::mmap(target, r.map_.length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
           -1, 0);
    errno = saved;
    return f.at(reinterpret_cast<std::uintptr_t>(target)).fail_errno("place (mremap)");
  }
  const auto lead = reinterpret_cast<std::uintptr_t>(r.map_.data) - reinterpret_cast<std::uintptr_t>(r.map_.base);
  r.map_.base = moved;
  r.map_.data = static_cast<typename region<A>::value_type*>(moved) + lead;
  r.map_.home = home;
  return true;
}

}  // namespace detail

template <access A>
bool region<A>::resize_impl(std::size_t new_size, resize_options opts, detail::failure& f) noexcept {
  if (src_.kind == detail::backing::none) return f.fail(errc::not_mapped, "resize");
  if (map_.home != nullptr) {
    return f.fail(std::make_error_code(std::errc::operation_not_supported),
                  "resize (a region placed in a reservation keeps its place and size)");
  }
  if (src_.kind == detail::backing::sysv_segment) {
    return f.fail(std::make_error_code(std::errc::operation_not_supported),
                  "resize (a System V segment has a fixed size)");
  }
  if (src_.fd) f.fd = src_.fd.get();
  const auto end = checked_file_end(src_.offset, new_size);
  // The span must fit the address space (32-bit) before the file grows for it.
  const std::uint64_t lead = map_.length != 0 ? static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(map_.data) -
                                                                           reinterpret_cast<std::uintptr_t>(map_.base))
                                              : src_.offset % page_size();
  const auto span = align_up(lead + new_size, page_size());
  if (!end || !span || *span > SIZE_MAX) return f.at(src_.offset).fail(errc::size_overflow, "resize");
  if (src_.kind == detail::backing::anonymous_shared && map_.length != 0 && new_size > map_.size) {
    // Its shmem object was sized at mmap time: pages past it would SIGBUS.
    return f.fail(std::make_error_code(std::errc::operation_not_supported),
                  "resize (shared anonymous memory cannot grow; use a memfd)");
  }
  if (src_.kind == detail::backing::fd && new_size > map_.size) {
    detail::file_status st {};
    if (!detail::stat_fd(src_.fd.get(), st, f)) return false;
    const auto file_size = static_cast<std::uint64_t>(st.st_size);
    if (S_ISREG(st.st_mode) && *end > file_size) {
      if (A != access::read_write) return f.at(src_.offset).fail(errc::length_beyond_end, "resize");
      const std::uint64_t from = src_.offset > file_size ? src_.offset : file_size;
      if (!detail::reserve_range(src_.fd.get(), from, *end - from, f)) return false;
    }
  }
  if (map_.length == 0) return remap_fresh(new_size, f);  // an empty file grown for the first time
  if (new_size == 0) {
    drop_mapping();  // keeps the backing: resize(0) is not unmap()
    return true;
  }
  void* moved_to = ::mremap(map_.base, map_.length, static_cast<std::size_t>(*span),
                            opts.may_move ? MREMAP_MAYMOVE : 0);
  if (moved_to == MAP_FAILED && errno == EFAULT && opts.may_move && new_size > map_.size) {
    // Advice, protection or locking on part of the region split it into
    // several kernel mappings (VMAs), and mremap grows only one.
    return remap_fresh(new_size, f);
  }
  if (moved_to == MAP_FAILED) return f.at(src_.offset).fail_errno("resize (mremap)");
  const bool moved = moved_to != map_.base;
  map_.base = moved_to;
  map_.length = static_cast<std::size_t>(*span);
  map_.data = static_cast<value_type*>(moved_to) + lead;
  map_.size = new_size;
  return moved;
}

}  // namespace mmapx
