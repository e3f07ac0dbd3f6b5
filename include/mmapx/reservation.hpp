// mmapx/reservation.hpp - reserved address space, and regions placed inside
// it at offsets the caller chooses.
//
//   auto space = mmapx::reservation::create(2 * mmapx::page_size());
//   auto a = space.place(0, mmapx::map_file("a.dat", {.length = mmapx::page_size()}));
//   auto b = space.place(mmapx::page_size(), mmapx::map_file("b.dat", {.length = mmapx::page_size()}));
//   // space.data() .. space.data() + 2 pages: a's first page, then b's
//
// A reservation maps PROT_NONE, no-reserve memory: addresses are taken, no
// memory is committed. place() moves any region (file window, anonymous
// memory, memfd, POSIX shm) onto a chosen offset of it with mremap
// (MREMAP_FIXED replaces the placeholder there in one step). A placed region
// is an ordinary region except that it cannot resize, and that unmapping it
// (unmap() or its destructor) maps the PROT_NONE placeholder back over its
// range instead of leaving a hole that another thread's mmap could take.
// Commit is placing private anonymous memory (commit()); decommit is
// unmapping that region (its pages are freed, the placeholder returns).
//
// Lifetime: the reserved range is unmapped when the reservation and every
// region placed in it have gone, in any order. Placing is thread-safe.
#pragma once

#include <sys/mman.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "anonymous.hpp"
#include "region.hpp"

namespace mmapx {

namespace detail {

/// The reserved range, which ranges of it hold placed regions, and how many
/// holders (the reservation, each placed region) keep it.
class reservation_space final : public reserved_space {
public:
  reservation_space(void* base, std::size_t length) noexcept : base_(base), length_(length) {}

  /// Records [start, start + length) as taken; false (and nothing recorded)
  /// when part of it already is. Takes a hold for the region placed there.
  bool claim(void* start, std::size_t length, failure& f) noexcept {
    const std::size_t at = offset_of(start);
    const std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [from, to] : taken_) {
      if (at < to && from < at + length) return f.at(at).fail(errc::placement_failed, "place (range already taken)");
    }
    try {
      taken_.emplace_back(at, at + length);
    } catch (const std::bad_alloc&) {
      return f.fail(std::make_error_code(std::errc::not_enough_memory), "place");
    }
    holders_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  /// Undoes claim() for a placement that failed.
  void unclaim(void* start) noexcept { vacate(start, 0); }

  void vacate(void* start, std::size_t) noexcept override {
    {
      const std::size_t at = offset_of(start);
      const std::lock_guard<std::mutex> lock(mutex_);
      for (auto it = taken_.begin(); it != taken_.end(); ++it) {
        if (it->first == at) {
          taken_.erase(it);
          break;
        }
      }
    }
    leave();
  }

  /// Ends one hold; the last one unmaps the whole range.
  void leave() noexcept {
    if (holders_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    unmap_pages(base_, length_, nullptr);
    delete this;
  }

private:
  std::size_t offset_of(void* p) const noexcept {
    return static_cast<std::size_t>(static_cast<std::byte*>(p) - static_cast<std::byte*>(base_));
  }

  void* base_;
  std::size_t length_;
  std::mutex mutex_;
  std::vector<std::pair<std::size_t, std::size_t>> taken_;  // [from, to) offsets from base_
  std::atomic<std::size_t> holders_{1};
};

/// mmap of PROT_NONE, no-reserve, private anonymous memory: addresses only.
inline void* reserve_addresses(std::size_t length, failure& f) noexcept {
  void* base = ::mmap(nullptr, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) {
    f.at(length).fail_errno("reserve (mmap)");
    return nullptr;
  }
  return base;
}

}  // namespace detail

/// Reserved address space: see the top of this header. Move-only.
class reservation {
public:
  /// No reserved space: size() is 0 and place() fails with errc::not_mapped.
  reservation() noexcept = default;
  /// Takes over `other`'s space; `other` is left empty.
  reservation(reservation&& other) noexcept
      : space_(std::exchange(other.space_, nullptr)), data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)) {}
  /// Lets go of the current space, then takes over `other`'s.
  reservation& operator=(reservation&& other) noexcept {
    if (this != &other) {
      if (space_ != nullptr) space_->leave();
      space_ = std::exchange(other.space_, nullptr);
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  /// Not copyable: exactly one object holds the reservation's hold on the space.
  reservation(const reservation&) = delete;
  reservation& operator=(const reservation&) = delete;
  /// Lets go of the space: unmapped now, or when the last placed region goes.
  ~reservation() {
    if (space_ != nullptr) space_->leave();
  }

  /// Reserves `size` bytes (rounded up to the page size) starting at an
  /// address that is a multiple of `alignment` (0: the page size; otherwise
  /// a power of two, e.g. a huge page size). Size 0 or a bad alignment:
  /// EINVAL; a size that cannot be rounded: errc::size_overflow.
  static reservation create(std::size_t size, std::size_t alignment = 0) {
    return detail::throwing([&](detail::failure& f) { return create_impl(size, alignment, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  static reservation create(std::size_t size, std::size_t alignment, std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return create_impl(size, alignment, f); });
  }

  /// The first reserved byte (aligned as asked), or null.
  [[nodiscard]] std::byte* data() const noexcept { return data_; }
  /// Reserved bytes from data() on.
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  /// Moves `r`'s mapping so that its page-aligned start is at data() + at
  /// (its data() is then data() + at + r's offset within its first page) and
  /// returns it. data() + at must be a multiple of r.page_size() (else
  /// EINVAL: a huge-page region needs a reservation created with that
  /// alignment), the mapping must fit (else errc::range_outside_region) and
  /// the range must not hold another placed region (else
  /// errc::placement_failed). An empty
  /// region is errc::not_mapped, one already placed is EINVAL. On failure
  /// `r` is left as it was.
  template <access A>
  region<A> place(std::size_t at, region<A>&& r) {
    return detail::throwing([&](detail::failure& f) { return place_impl(at, r, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  template <access A>
  region<A> place(std::size_t at, region<A>&& r, std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return place_impl(at, r, f); });
  }

  /// Commits [at, at + length): zero-filled private memory placed there.
  /// Decommit by unmapping the returned region.
  rw_region commit(std::size_t at, std::size_t length) {
    return detail::throwing([&](detail::failure& f) { return commit_impl(at, length, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  rw_region commit(std::size_t at, std::size_t length, std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return commit_impl(at, length, f); });
  }

private:
  static reservation create_impl(std::size_t size, std::size_t alignment, detail::failure& f) noexcept {
    reservation out;
    const std::size_t align = alignment == 0 ? page_size() : alignment;
    if (size == 0 || !std::has_single_bit(align) || align < page_size()) {
      f.at(size).fail(std::make_error_code(std::errc::invalid_argument),
                      "reserve (size must be above 0, alignment a power of two of at least a page)");
      return out;
    }
    const auto rounded = align_up(size, page_size());
    const auto total = rounded ? checked_add<std::uint64_t>(*rounded, align - page_size()) : std::nullopt;
    if (!total || *total > SIZE_MAX) {
      f.at(size).fail(errc::size_overflow, "reserve");
      return out;
    }
    void* base = detail::reserve_addresses(static_cast<std::size_t>(*total), f);
    if (base == nullptr) return out;
    out.space_ = new (std::nothrow) detail::reservation_space(base, static_cast<std::size_t>(*total));
    if (out.space_ == nullptr) {
      detail::unmap_pages(base, static_cast<std::size_t>(*total), nullptr);
      f.fail(std::make_error_code(std::errc::not_enough_memory), "reserve");
      return out;
    }
    out.data_ = reinterpret_cast<std::byte*>(*align_up(reinterpret_cast<std::uintptr_t>(base), align));
    out.size_ = static_cast<std::size_t>(*rounded);
    return out;
  }

  /// The page-aligned mapping of `r`: [start, start + length).
  template <access A>
  static std::size_t mapping_length(const region<A>& r, std::size_t& lead) noexcept {
    const auto first = reinterpret_cast<std::uintptr_t>(r.data());
    lead = static_cast<std::size_t>(first - align_down(first, r.page_size()));
    return static_cast<std::size_t>(*align_up(lead + r.size(), r.page_size()));
  }

  template <access A>
  region<A> place_impl(std::size_t at, region<A>& r, detail::failure& f) noexcept {
    if (space_ == nullptr || !r.is_mapped()) {
      f.fail(errc::not_mapped, space_ == nullptr ? "place (no reservation)" : "place (empty region)");
      return {};
    }
    std::size_t lead = 0;
    const std::size_t length = mapping_length(r, lead);
    if ((reinterpret_cast<std::uintptr_t>(data_) + at) % r.page_size() != 0) {
      f.at(at).fail(std::make_error_code(std::errc::invalid_argument), "place (address not aligned to the region's pages)");
      return {};
    }
    if (!range_within(at, length, size_)) {
      f.at(at).fail(errc::range_outside_region, "place");
      return {};
    }
    if (!space_->claim(data_ + at, length, f)) return {};
    if (!detail::move_into(r, data_ + at, space_, f)) {
      space_->unclaim(data_ + at);
      return {};
    }
    return std::move(r);
  }

  rw_region commit_impl(std::size_t at, std::size_t length, detail::failure& f) noexcept {
    if (length == 0) {
      f.at(at).fail(std::make_error_code(std::errc::invalid_argument), "commit (length 0)");
      return {};
    }
    auto r = detail::map_anonymous_range<access::read_write>(length, false, {}, f);
    if (f) return {};
    return place_impl(at, r, f);
  }

  detail::reservation_space* space_ = nullptr;
  std::byte* data_ = nullptr;  // first aligned byte
  std::size_t size_ = 0;
};

}  // namespace mmapx
