// mmapx/typed.hpp - typed views of mapped bytes: one object, or an array.
//
//   auto hdr  = mmapx::view<header>(r);                       // mapped<header>
//   auto recs = mmapx::view_array<record>(r, sizeof(header)); // mapped_array<record>
//   for (auto& rec : recs) ...
//
// Size and alignment are checked once, when the view is made; afterwards a
// view is a plain pointer (and count) and costs nothing per access. A view of
// a read-only region has a const element type, so writing through it does not
// compile. Views borrow the region: they must not outlive it, and a region
// that moved in resize() invalidates them (like std::vector iterators).
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <new>
#include <ranges>
#include <span>
#include <type_traits>

#include "region.hpp"

namespace mmapx {

/// Types that can live in mapped memory: their bytes are their value
/// (trivially copyable) and they can come into being without a constructor
/// running (implicit-lifetime: trivially destructible and trivially
/// constructible or an aggregate). Pointers pass the test but mean nothing in
/// another process.
template <class T>
concept mappable =
    std::is_object_v<T> && !std::is_reference_v<T> &&
    std::is_trivially_copyable_v<std::remove_cv_t<T>> &&
    std::is_trivially_destructible_v<std::remove_cv_t<T>> &&
    (std::is_aggregate_v<std::remove_cv_t<T>> || std::is_scalar_v<std::remove_cv_t<T>> ||
     std::is_trivially_default_constructible_v<std::remove_cv_t<T>>);

/// One T in mapped memory. T is const when the region is read-only.
template <mappable T>
class mapped {
public:
  /// Wraps a pointer as is, unchecked; view() makes checked ones.
  explicit mapped(T* object) noexcept : object_(object) {}
  /// The mapped object: valid while the region stays mapped and does not move.
  [[nodiscard]] T& operator*() const noexcept { return *object_; }
  /// Member access to the mapped object; valid as long as operator* is.
  [[nodiscard]] T* operator->() const noexcept { return object_; }
  /// The raw pointer, e.g. for guarded_copy.
  [[nodiscard]] T* get() const noexcept { return object_; }

private:
  T* object_;
};

/// A contiguous array of T in mapped memory: a contiguous range with a span
/// interface. T is const when the region is read-only. (Not derived from
/// std::ranges::view_interface: clang 14 cannot instantiate it with
/// libstdc++ 12.)
template <mappable T>
class mapped_array {
public:
  /// T as given: const when the region is read-only (as in std::span).
  using element_type = T;
  /// T without const (as in std::span).
  using value_type = std::remove_cv_t<T>;
  /// std::size_t, as in std::span: element counts and indices, not bytes.
  using size_type = std::size_t;
  /// A plain pointer: the elements are contiguous.
  using iterator = T*;

  /// No elements (what the error_code form of view_array returns on failure).
  mapped_array() noexcept = default;
  /// Wraps `count` objects at `first` as is, unchecked; view_array() makes checked ones.
  mapped_array(T* first, std::size_t count) noexcept : first_(first), count_(count) {}

  /// The first element's address; end() - begin() == size().
  [[nodiscard]] T* begin() const noexcept { return first_; }
  /// begin() + size(): a pointer, valid as long as the region stays mapped.
  [[nodiscard]] T* end() const noexcept { return first_ + count_; }
  /// Same as begin(), as in std::span.
  [[nodiscard]] T* data() const noexcept { return first_; }
  /// Number of elements (not bytes).
  [[nodiscard]] std::size_t size() const noexcept { return count_; }
  /// True when size() == 0: front(), back() and operator[] must not be used then.
  [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
  /// The first element; the array must not be empty (unchecked).
  [[nodiscard]] T& front() const noexcept { return first_[0]; }
  /// The last element; the array must not be empty (unchecked).
  [[nodiscard]] T& back() const noexcept { return first_[count_ - 1]; }
  /// Unchecked, like std::span.
  [[nodiscard]] T& operator[](std::size_t i) const noexcept { return first_[i]; }
  /// Checked: throws std::system_error (errc::range_outside_region).
  [[nodiscard]] T& at(std::size_t i) const {
    if (i >= count_) {
      detail::failure f;
      f.at(i).fail(errc::range_outside_region, "mapped_array::at");
      f.throw_if_failed();
    }
    return first_[i];
  }
  /// The same elements as a std::span: no copy, the same lifetime as this view.
  [[nodiscard]] std::span<T> span() const noexcept { return {first_, count_}; }
  /// Converts implicitly wherever a std::span<T> is expected.
  operator std::span<T>() const noexcept { return span(); }

private:
  T* first_ = nullptr;
  std::size_t count_ = 0;
};

namespace detail {

/// The element type a view of region<A> gets: const for read-only regions.
template <class T, access A>
using view_element = std::conditional_t<A == access::read, const T, T>;

/// The one check behind every typed view: `count` objects of T at `offset`
/// fit in `size` bytes starting at `base`, suitably aligned.
template <class T>
T* checked_view(std::byte* base, std::size_t size, std::size_t offset, std::size_t count,
                failure& f) noexcept {
  f.at(offset);
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(count, sizeof(T), &bytes)) {
    f.fail(errc::size_overflow, "typed view");
    return nullptr;
  }
  if (!range_within(offset, bytes, size)) {
    f.fail(errc::view_too_large, "typed view");
    return nullptr;
  }
  std::byte* first = base + offset;
  if (reinterpret_cast<std::uintptr_t>(first) % alignof(T) != 0) {
    f.fail(errc::view_misaligned, "typed view");
    return nullptr;
  }
  // The bytes already hold the object representation; launder gives us a
  // pointer we may use to reach the implicit-lifetime object living there.
  return std::launder(reinterpret_cast<T*>(first));
}

/// The region's first byte, writable or not: checked_view adds the const
/// that the view's element type needs.
template <class Region>
std::byte* region_base(Region& r) noexcept {
  return const_cast<std::byte*>(static_cast<const std::byte*>(r.data()));
}

/// `count` elements of E at `offset` of `r`, checked; an empty array on failure.
template <class E, class Region>
mapped_array<E> checked_array(Region& r, std::size_t offset, std::size_t count, failure& f) noexcept {
  E* first = checked_view<E>(region_base(r), r.size(), offset, count, f);
  return f ? mapped_array<E>{} : mapped_array<E>{first, count};
}

/// How many T fit from `offset` to the end of `size` bytes: what view_array
/// without a count asks for. An offset past the end asks for one, so that
/// the check reports it.
template <class T>
std::size_t fitting_count(std::size_t size, std::size_t offset) noexcept {
  return offset <= size ? (size - offset) / sizeof(T) : 1;
}

}  // namespace detail

// --- one object ------------------------------------------------------------

/// One T at `offset`, checked for size and alignment once. Errors:
/// errc::view_too_large, errc::view_misaligned.
template <mappable T, access A>
mapped<detail::view_element<T, A>> view(region<A>& r, std::size_t offset = 0) {
  using E = detail::view_element<T, A>;
  return mapped<E>(detail::throwing([&](detail::failure& f) {
    return detail::checked_view<E>(detail::region_base(r), r.size(), offset, 1, f);
  }));
}
/// The noexcept form: on error `ec` is set and the view holds null.
template <mappable T, access A>
mapped<detail::view_element<T, A>> view(region<A>& r, std::size_t offset, std::error_code& ec) noexcept {
  using E = detail::view_element<T, A>;
  return mapped<E>(detail::reporting(ec, [&](detail::failure& f) {
    return detail::checked_view<E>(detail::region_base(r), r.size(), offset, 1, f);
  }));
}
/// The same through a const region: the object is const whatever A is.
template <mappable T, access A>
mapped<const T> view(const region<A>& r, std::size_t offset = 0) {
  return mapped<const T>(detail::throwing([&](detail::failure& f) {
    return detail::checked_view<const T>(detail::region_base(r), r.size(), offset, 1, f);
  }));
}
// A view of a temporary region would dangle at once.
template <mappable T, access A>
void view(region<A>&&, std::size_t = 0) = delete;

// --- arrays ----------------------------------------------------------------

/// As many elements of T as fit from `offset` to the end of the region.
/// Errors: errc::view_too_large (offset past the end), errc::view_misaligned.
template <mappable T, access A>
mapped_array<detail::view_element<T, A>> view_array(region<A>& r, std::size_t offset = 0) {
  return detail::throwing([&](detail::failure& f) {
    return detail::checked_array<detail::view_element<T, A>>(r, offset, detail::fitting_count<T>(r.size(), offset), f);
  });
}
/// Exactly `count` elements of T from `offset`. A count that does not fit is
/// an error, never "as many as fit": errc::size_overflow (count × sizeof(T)
/// overflows), errc::view_too_large, errc::view_misaligned.
template <mappable T, access A>
mapped_array<detail::view_element<T, A>> view_array(region<A>& r, std::size_t offset, std::size_t count) {
  return detail::throwing([&](detail::failure& f) {
    return detail::checked_array<detail::view_element<T, A>>(r, offset, count, f);
  });
}
/// The noexcept form of view_array(r, offset): an empty array on error.
template <mappable T, access A>
mapped_array<detail::view_element<T, A>> view_array(region<A>& r, std::size_t offset, std::error_code& ec) noexcept {
  return detail::reporting(ec, [&](detail::failure& f) {
    return detail::checked_array<detail::view_element<T, A>>(r, offset, detail::fitting_count<T>(r.size(), offset), f);
  });
}
/// The noexcept form of view_array(r, offset, count): an empty array on error.
template <mappable T, access A>
mapped_array<detail::view_element<T, A>> view_array(region<A>& r, std::size_t offset, std::size_t count,
                                                    std::error_code& ec) noexcept {
  return detail::reporting(ec, [&](detail::failure& f) {
    return detail::checked_array<detail::view_element<T, A>>(r, offset, count, f);
  });
}
/// The same through a const region: the elements are const whatever A is.
template <mappable T, access A>
mapped_array<const T> view_array(const region<A>& r, std::size_t offset = 0) {
  return detail::throwing([&](detail::failure& f) {
    return detail::checked_array<const T>(r, offset, detail::fitting_count<T>(r.size(), offset), f);
  });
}
/// Exactly `count` const elements through a const region.
template <mappable T, access A>
mapped_array<const T> view_array(const region<A>& r, std::size_t offset, std::size_t count) {
  return detail::throwing([&](detail::failure& f) { return detail::checked_array<const T>(r, offset, count, f); });
}
// Arrays over a temporary region would dangle at once.
template <mappable T, access A>
void view_array(region<A>&&, std::size_t = 0) = delete;
template <mappable T, access A>
void view_array(region<A>&&, std::size_t, std::size_t) = delete;

}  // namespace mmapx

/// \cond std_specialisations (not mmapx names: left out of the API reference)
/// Iterators of a mapped_array point into the region, not into the array object,
/// so they stay valid after a temporary mapped_array is gone.
template <class T>
inline constexpr bool std::ranges::enable_borrowed_range<mmapx::mapped_array<T>> = true;
/// A mapped_array is a view: cheap to copy, usable in range adaptor pipelines.
template <class T>
inline constexpr bool std::ranges::enable_view<mmapx::mapped_array<T>> = true;
/// \endcond
