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
// A default-constructed or moved-from region is empty: size() is 0, data() is
// nullptr, whole-region operations have nothing to do and succeed, any
// non-empty sub-range is errc::range_outside_region, and resize reports
// errc::not_mapped. Using one is always safe.
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
/// range is free. False with errno set when the system call failed (the
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
  region(region&& other) noexcept { steal(other); }
  /// Unmaps the current mapping, then takes over `other`'s; `other` is left empty.
  region& operator=(region&& other) noexcept {
    if (this != &other) {
      release_mapping();
      steal(other);
    }
    return *this;
  }
  /// Not copyable: exactly one region unmaps a mapping.
  region(const region&) = delete;
  region& operator=(const region&) = delete;
  /// Unmaps without flushing; a munmap error is ignored (unmap() reports it).
  ~region() { release_mapping(); }

  // --- the bytes ---------------------------------------------------------

  /// The first requested byte (null when empty); const for read-only regions.
  [[nodiscard]] value_type* data() noexcept { return data_; }
  [[nodiscard]] const std::byte* data() const noexcept { return data_; }
  /// Bytes requested (the page-aligned mapping around them may be larger).
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// True when size() is 0 (an empty region, or an empty file mapped).
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  /// True when there is a live mapping (false for empty and moved-from regions).
  [[nodiscard]] bool is_mapped() const noexcept { return map_base_ != nullptr; }
  /// The requested bytes as a span.
  [[nodiscard]] std::span<value_type> bytes() noexcept { return {data_, size_}; }
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  /// The first requested byte, as data(): regions work with range-for and <algorithm>.
  [[nodiscard]] value_type* begin() noexcept { return data_; }
  /// One past the last requested byte.
  [[nodiscard]] value_type* end() noexcept { return data_ + size_; }
  [[nodiscard]] const std::byte* begin() const noexcept { return data_; }
  [[nodiscard]] const std::byte* end() const noexcept { return data_ + size_; }

  /// The backing file descriptor (owned by the region), or -1.
  [[nodiscard]] int native_handle() const noexcept { return fd_.get(); }
  /// Offset of data()[0] in the backing file or object.
  [[nodiscard]] std::uint64_t offset() const noexcept { return offset_; }
  /// Size of the pages actually used (the base page size, or a huge page size).
  [[nodiscard]] std::size_t page_size() const noexcept { return page_ != 0 ? page_ : mmapx::page_size(); }

  // --- flush: only meaningful where writes reach a shared object ---------

  /// Writes dirty pages back as far as `level` says (whole region or a range).
  void flush(flush_level level = flush_level::sync) requires(A == access::read_write) {
    detail::throwing([&](detail::failure& f) { flush_impl(0, size_, level, f); });
  }
  void flush(flush_level level, std::error_code& ec) noexcept requires(A == access::read_write) {
    detail::reporting(ec, [&](detail::failure& f) { flush_impl(0, size_, level, f); });
  }
  void flush(std::size_t offset, std::size_t length, flush_level level = flush_level::sync)
    requires(A == access::read_write) {
    detail::throwing([&](detail::failure& f) { flush_impl(offset, length, level, f); });
  }
  void flush(std::size_t offset, std::size_t length, flush_level level, std::error_code& ec) noexcept
    requires(A == access::read_write) {
    detail::reporting(ec, [&](detail::failure& f) { flush_impl(offset, length, level, f); });
  }

  // --- advice, protection, locking (whole region or a sub-range) ---------

  /// madvise(2) with portable names (whole region or a range).
  void advise(advice a) { advise(a, 0, size_); }
  void advise(advice a, std::error_code& ec) noexcept { advise(a, 0, size_, ec); }
  void advise(advice a, std::size_t offset, std::size_t length) {
    detail::throwing([&](detail::failure& f) { advise_impl(a, offset, length, f); });
  }
  void advise(advice a, std::size_t offset, std::size_t length, std::error_code& ec) noexcept {
    detail::reporting(ec, [&](detail::failure& f) { advise_impl(a, offset, length, f); });
  }

  /// Changes page protection. On a read-only region only none/read/read_exec
  /// are accepted: the type promised the bytes would not be written.
  void protect(protection p) { protect(p, 0, size_); }
  void protect(protection p, std::error_code& ec) noexcept { protect(p, 0, size_, ec); }
  void protect(protection p, std::size_t offset, std::size_t length) {
    detail::throwing([&](detail::failure& f) { protect_impl(p, offset, length, f); });
  }
  void protect(protection p, std::size_t offset, std::size_t length, std::error_code& ec) noexcept {
    detail::reporting(ec, [&](detail::failure& f) { protect_impl(p, offset, length, f); });
  }

  /// mlock(2)/munlock(2): keep the pages resident.
  void lock() {
    detail::throwing([&](detail::failure& f) { lock_impl(true, f); });
  }
  void lock(std::error_code& ec) noexcept {
    detail::reporting(ec, [&](detail::failure& f) { lock_impl(true, f); });
  }
  /// Lets the pages be paged out again (munlock(2) of the whole region).
  void unlock() {
    detail::throwing([&](detail::failure& f) { lock_impl(false, f); });
  }
  void unlock(std::error_code& ec) noexcept {
    detail::reporting(ec, [&](detail::failure& f) { lock_impl(false, f); });
  }

  // --- resize -------------------------------------------------------------

  /// Grows or shrinks the region to `new_size` bytes (mremap; a region split by
  /// advice, protection or locking on part of it is mapped anew instead, see
  /// remap_fresh). A writable
  /// file mapping first reserves the file space it grows into; a read-only or
  /// copy-on-write one cannot grow past the end of its file. Returns true when
  /// the mapping moved: every pointer into it is then stale.
  bool resize(std::size_t new_size, resize_options opts = {}) {
    return detail::throwing([&](detail::failure& f) { return resize_impl(new_size, opts, f); });
  }
  bool resize(std::size_t new_size, resize_options opts, std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return resize_impl(new_size, opts, f); });
  }

  /// Unmaps now, reporting a munmap failure (the destructor cannot). The
  /// region is empty afterwards.
  void unmap() {
    detail::throwing([&](detail::failure& f) { unmap_impl(f); });
  }
  void unmap(std::error_code& ec) noexcept {
    detail::reporting(ec, [&](detail::failure& f) { unmap_impl(f); });
  }

private:
  template <access B>
  friend region<B> detail::map_range(unique_fd, detail::backing, std::uint64_t, std::size_t,
                                     const map_options&, detail::failure&) noexcept;
  template <access B>
  friend bool detail::move_into(region<B>&, void*, detail::reserved_space*, detail::failure&) noexcept;
  template <access B>
  friend region<B> detail::adopt_mapping(void*, std::size_t, detail::backing) noexcept;

  void steal(region& other) noexcept {
    map_base_ = std::exchange(other.map_base_, nullptr);
    map_length_ = std::exchange(other.map_length_, 0);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    offset_ = std::exchange(other.offset_, 0);
    page_ = std::exchange(other.page_, 0);
    kind_ = std::exchange(other.kind_, detail::backing::none);
    home_ = std::exchange(other.home_, nullptr);
    opts_ = other.opts_;
    fd_ = std::move(other.fd_);
  }

  void release_mapping() noexcept {
    if (map_base_ != nullptr) detail::unmap_pages(map_base_, map_length_, home_);
    forget_mapping();
  }

  void forget_mapping() noexcept {
    map_base_ = nullptr;
    map_length_ = 0;
    data_ = nullptr;
    size_ = 0;
    home_ = nullptr;
  }

  /// The page-aligned span of the mapping that covers [offset, offset+length)
  /// of the user's bytes, or a failure if that range is not inside the region.
  bool page_span(std::size_t offset, std::size_t length, const char* op, void*& start,
                 std::size_t& bytes, detail::failure& f) const noexcept {
    if (!range_within(offset, length, size_)) {
      f.at(offset);
      return f.fail(errc::range_outside_region, op);
    }
    start = nullptr;
    bytes = 0;
    if (length == 0) return true;
    const auto first = reinterpret_cast<std::uintptr_t>(data_) + offset;
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
    if (level == flush_level::durable && fd_ && ::fdatasync(fd_.get()) != 0) {
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
    if (map_base_ == nullptr) return true;
    const int rc = lock ? ::mlock(map_base_, map_length_) : ::munlock(map_base_, map_length_);
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
    if (fd_ && !(fd = detail::dup_fd(fd_.get(), f))) return false;
    auto fresh = detail::map_range<A>(std::move(fd), kind_, offset_, new_size, opts_, f);
    if (f) return false;
    const bool private_memory = kind_ != detail::backing::fd || A == access::copy_on_write;
    if (private_memory && size_ != 0) {
      // Parts may have been protected against reading; the old mapping is
      // going away, so make all of it readable for the copy.
      if (::mprotect(map_base_, map_length_, PROT_READ) != 0) return f.fail_errno("resize (protect for copy)");
      std::memcpy(const_cast<std::byte*>(static_cast<const std::byte*>(fresh.data_)), data_,
                  size_ < new_size ? size_ : new_size);
    }
    std::swap(fresh.fd_, fd_);  // keep the original descriptor; the duplicate goes with the old mapping
    *this = std::move(fresh);
    return true;
  }

  bool unmap_impl(detail::failure& f) noexcept {
    const char* op = home_ != nullptr ? "unmap (placeholder)" : "munmap";
    const bool ok = map_base_ == nullptr || detail::unmap_pages(map_base_, map_length_, home_);
    if (!ok) f.at(reinterpret_cast<std::uintptr_t>(map_base_)).fail_errno(op);
    forget_mapping();
    return ok;
  }

  void* map_base_ = nullptr;      // what mmap returned
  std::size_t map_length_ = 0;    // what munmap must be given
  value_type* data_ = nullptr;    // the user's first byte, inside the mapping
  std::size_t size_ = 0;          // the user's length
  std::uint64_t offset_ = 0;      // file offset of data_
  std::size_t page_ = 0;          // page size used (0: base pages)
  detail::backing kind_ = detail::backing::none;
  detail::reserved_space* home_ = nullptr;  // the reservation it is placed in, if any
  map_options opts_{};            // kept so resize can re-create an empty mapping
  unique_fd fd_;
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

/// The mmap call itself: alignment, flags, huge pages, placement, populate,
/// lock. Every backend gets here through map_fd_range or map_anonymous_range.
template <access A>
region<A> map_range(unique_fd fd, backing kind, std::uint64_t offset, std::size_t length,
                    const map_options& opts, failure& f) noexcept {
  region<A> r;
  if (fd && f.fd < 0 && f.subject == nullptr) f.fd = fd.get();
  if (!checked_add<std::uint64_t>(offset, length)) {
    f.at(offset).fail(errc::size_overflow, "map");
    return r;
  }

  std::uint64_t page = page_size();
  const std::uint64_t huge = huge_page_bytes(opts.huge);
  bool hugetlb_file = false;
  if (huge != 0 && fd) {
    // A file mapping gets huge pages only from a hugetlbfs file.
    struct ::statfs fs {};
    hugetlb_file = ::fstatfs(fd.get(), &fs) == 0 && fs.f_type == hugetlbfs_magic;
    if (hugetlb_file) {
      page = huge;
    } else if (opts.on_no_huge_pages == huge_fallback::fail) {
      f.fail(errc::huge_pages_unavailable, "map (file is not on hugetlbfs)");
      return r;
    }
  }

  r.offset_ = offset;
  r.kind_ = kind;
  r.opts_ = opts;
  r.opts_.place = placement::anywhere;  // a later re-map (resize) may go anywhere
  r.opts_.hint = nullptr;
  if (length == 0) {
    // An empty file maps to an empty region; it keeps its fd so it can grow.
    r.fd_ = std::move(fd);
    return r;
  }

  int flags = 0;
  const bool shared = kind == backing::anonymous_shared ||
                      (kind == backing::fd && A != access::copy_on_write);
  flags |= shared ? MAP_SHARED : MAP_PRIVATE;
  if (!fd) flags |= MAP_ANONYMOUS;
  // Transparent huge pages must be advised before the pages are faulted in,
  // so populating waits until after the advice (below) in that case.
  const bool populate_after_advice = opts.populate && opts.huge == huge_pages::transparent;
  if (opts.populate && !populate_after_advice) flags |= MAP_POPULATE;
  if (opts.no_reserve) flags |= MAP_NORESERVE;
  if (opts.place == placement::fixed_noreplace) flags |= MAP_FIXED_NOREPLACE;
  const int huge_flags = (huge != 0 && !fd)
                             ? MAP_HUGETLB | (std::countr_zero(huge) << MAP_HUGE_SHIFT)
                             : 0;
  const int prot = prot_for(A, opts.exec);

  std::uint64_t lead = 0;
  std::uint64_t map_length = 0;
  // One mmap with pages of size `pg`: the aligned mapping around the user's range.
  auto try_map = [&](std::uint64_t pg, int extra_flags) -> void* {
    const std::uint64_t aligned = align_down(offset, pg);
    lead = offset - aligned;
    const auto span = align_up(lead + length, pg);
    if (!span || *span > SIZE_MAX) {
      errno = EOVERFLOW;
      return MAP_FAILED;
    }
    map_length = *span;
    return ::mmap(opts.hint, static_cast<std::size_t>(map_length), prot, flags | extra_flags,
                  fd ? fd.get() : -1, static_cast<off_t>(aligned));
  };

  const bool huge_anonymous = huge != 0 && !fd;
  if (huge_anonymous) page = huge;
  void* base = try_map(page, huge_anonymous ? huge_flags : 0);
  if (base == MAP_FAILED && huge_anonymous && (errno == ENOMEM || errno == EINVAL)) {
    if (opts.on_no_huge_pages == huge_fallback::fail) {
      f.fail(errc::huge_pages_unavailable, "mmap");
      return r;
    }
    page = page_size();
    base = try_map(page, 0);
  }
  if (base == MAP_FAILED) {
    f.fail_errno("mmap");
    f.at(opts.place == placement::fixed_noreplace
             ? static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(opts.hint))
             : offset);
    return r;
  }

  // Before Linux 4.17 MAP_FIXED_NOREPLACE was an unknown flag, i.e. a hint.
  if (opts.place == placement::fixed_noreplace && base != opts.hint) {
    unmap_pages(base, static_cast<std::size_t>(map_length), nullptr);
    f.at(reinterpret_cast<std::uintptr_t>(opts.hint)).fail(errc::placement_failed, "mmap");
    return r;
  }
  if (opts.huge == huge_pages::transparent &&
      ::madvise(base, static_cast<std::size_t>(map_length), MADV_HUGEPAGE) != 0) {
    f.at(offset).fail_errno("advise (transparent huge pages)");
    unmap_pages(base, static_cast<std::size_t>(map_length), nullptr);
    return r;
  }
  if (populate_after_advice) {
    // As MAP_POPULATE would: write faults for private writable memory, read
    // faults otherwise; and, like it, best effort (a kernel before 5.14
    // lacks MADV_POPULATE_*, and the pages then come on first touch).
    const bool write_faults = (flags & MAP_PRIVATE) != 0 && (prot & PROT_WRITE) != 0;
    ::madvise(base, static_cast<std::size_t>(map_length), write_faults ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
  }
  if (opts.lock && ::mlock(base, static_cast<std::size_t>(map_length)) != 0) {
    f.at(offset).fail_errno("lock");
    unmap_pages(base, static_cast<std::size_t>(map_length), nullptr);
    return r;
  }

  r.map_base_ = base;
  r.map_length_ = static_cast<std::size_t>(map_length);
  r.data_ = static_cast<typename region<A>::value_type*>(base) + lead;
  r.size_ = length;
  r.page_ = page == page_size() ? 0 : static_cast<std::size_t>(page);
  r.fd_ = std::move(fd);
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
  r.map_base_ = base;
  r.map_length_ = static_cast<std::size_t>(*align_up(length, page_size()));
  r.data_ = static_cast<typename region<A>::value_type*>(base);
  r.size_ = length;
  r.kind_ = kind;
  return r;
}

/// Moves r's whole mapping to `target`, inside reserved space that the caller
/// has claimed [target, target + mapping length) of, with mremap: MREMAP_FIXED
/// replaces the placeholder there in the same system call. From then on r
/// gives its range back to `home`. On failure r is unchanged.
template <access A>
bool move_into(region<A>& r, void* target, reserved_space* home, failure& f) noexcept {
  if (r.home_ != nullptr) {
    return f.at(reinterpret_cast<std::uintptr_t>(target))
        .fail(std::make_error_code(std::errc::invalid_argument), "place (region already placed in a reservation)");
  }
  void* moved = ::mremap(r.map_base_, r.map_length_, r.map_length_, MREMAP_MAYMOVE | MREMAP_FIXED, target);
  if (moved == MAP_FAILED) {
    const int saved = errno;
    // Kernels before 6.17 drop the placeholder before some checks fail: put
    // it back, without replacing whatever another thread may have mapped there.
    ::mmap(target, r.map_length_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
           -1, 0);
    errno = saved;
    return f.at(reinterpret_cast<std::uintptr_t>(target)).fail_errno("place (mremap)");
  }
  const auto lead = reinterpret_cast<std::uintptr_t>(r.data_) - reinterpret_cast<std::uintptr_t>(r.map_base_);
  r.map_base_ = moved;
  r.data_ = static_cast<typename region<A>::value_type*>(moved) + lead;
  r.home_ = home;
  return true;
}

}  // namespace detail

template <access A>
bool region<A>::resize_impl(std::size_t new_size, resize_options opts, detail::failure& f) noexcept {
  if (kind_ == detail::backing::none) return f.fail(errc::not_mapped, "resize");
  if (home_ != nullptr) {
    return f.fail(std::make_error_code(std::errc::operation_not_supported),
                  "resize (a region placed in a reservation keeps its place and size)");
  }
  if (kind_ == detail::backing::sysv_segment) {
    return f.fail(std::make_error_code(std::errc::operation_not_supported),
                  "resize (a System V segment has a fixed size)");
  }
  if (fd_) f.fd = fd_.get();
  auto end = checked_add<std::uint64_t>(offset_, new_size);
  if (!end || (kind_ == detail::backing::fd && *end > largest_file_end)) {
    return f.at(offset_).fail(errc::size_overflow, "resize");
  }
  if (kind_ == detail::backing::anonymous_shared && map_base_ != nullptr && new_size > size_) {
    // Its shmem object was sized at mmap time: pages past it would SIGBUS.
    return f.fail(std::make_error_code(std::errc::operation_not_supported),
                  "resize (shared anonymous memory cannot grow; use a memfd)");
  }
  if (kind_ == detail::backing::fd && new_size > size_) {
    struct ::stat st {};
    if (!detail::stat_fd(fd_.get(), st, f)) return false;
    const auto file_size = static_cast<std::uint64_t>(st.st_size);
    if (S_ISREG(st.st_mode) && *end > file_size) {
      if (A != access::read_write) return f.at(offset_).fail(errc::length_beyond_end, "resize");
      const std::uint64_t from = offset_ > file_size ? offset_ : file_size;
      if (!detail::reserve_range(fd_.get(), from, *end - from, f)) return false;
    }
  }
  if (map_base_ == nullptr) return remap_fresh(new_size, f);  // an empty file grown for the first time
  if (new_size == 0) {
    unmap_impl(f);
    return true;
  }
  const std::uint64_t lead = reinterpret_cast<std::uintptr_t>(data_) -
                             reinterpret_cast<std::uintptr_t>(map_base_);
  const auto span = align_up(lead + new_size, page_size());
  if (!span || *span > SIZE_MAX) return f.at(offset_).fail(errc::size_overflow, "resize");
  void* moved_to = ::mremap(map_base_, map_length_, static_cast<std::size_t>(*span),
                            opts.may_move ? MREMAP_MAYMOVE : 0);
  if (moved_to == MAP_FAILED && errno == EFAULT && opts.may_move && new_size > size_) {
    // Advice, protection or locking on part of the region split it into
    // several kernel mappings (VMAs), and mremap grows only one.
    return remap_fresh(new_size, f);
  }
  if (moved_to == MAP_FAILED) return f.at(offset_).fail_errno("resize (mremap)");
  const bool moved = moved_to != map_base_;
  map_base_ = moved_to;
  map_length_ = static_cast<std::size_t>(*span);
  data_ = static_cast<value_type*>(moved_to) + lead;
  size_ = new_size;
  return moved;
}

}  // namespace mmapx
