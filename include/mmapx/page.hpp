// mmapx/page.hpp - page size and overflow-safe alignment arithmetic.
//
// mmap(2) wants page-aligned offsets; users want byte offsets. Every backend
// gets from one to the other through these helpers, and every offset+length
// sum goes through checked_add, so no caller can wrap around 2^64.
#pragma once

#include <unistd.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace mmapx {

/// The base page size of this system (sysconf, read once).
inline std::size_t page_size() noexcept {
  static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

/// a + b, or nothing if the sum does not fit.
template <class T>
constexpr std::optional<T> checked_add(T a, T b) noexcept {
  T sum{};
  if (__builtin_add_overflow(a, b, &sum)) return std::nullopt;
  return sum;
}

/// Rounds down to a multiple of `alignment` (a power of two).
constexpr std::uint64_t align_down(std::uint64_t value, std::uint64_t alignment) noexcept {
  return value & ~(alignment - 1);
}

/// Rounds up to a multiple of `alignment` (a power of two), or nothing on overflow.
constexpr std::optional<std::uint64_t> align_up(std::uint64_t value, std::uint64_t alignment) noexcept {
  auto bumped = checked_add<std::uint64_t>(value, alignment - 1);
  if (!bumped) return std::nullopt;
  return align_down(*bumped, alignment);
}

/// The largest end a file can have (the largest off_t). Every backend reports
/// an end past it as errc::size_overflow, whatever the kernel would say.
inline constexpr std::uint64_t largest_file_end = static_cast<std::uint64_t>(INT64_MAX);

/// offset + length as the end of a mapped range, or nothing when the sum
/// overflows or passes largest_file_end: the one overflow check that every
/// backend (and resize) makes, so all report the same errc::size_overflow.
constexpr std::optional<std::uint64_t> checked_file_end(std::uint64_t offset, std::uint64_t length) noexcept {
  const auto end = checked_add(offset, length);
  if (!end || *end > largest_file_end) return std::nullopt;
  return end;
}

/// True when `length` bytes starting at file offset `offset` fit the address
/// space once rounded out to whole pages of `page` bytes: always for any
/// sane length on 64-bit targets; on 32-bit ones not for lengths near
/// SIZE_MAX. Every backend reports a length that does not as
/// errc::size_overflow, before it changes any file.
constexpr bool span_fits_address_space(std::uint64_t offset, std::uint64_t length, std::uint64_t page) noexcept {
  const auto bumped = checked_add<std::uint64_t>(offset % page, length);
  const auto span = bumped ? align_up(*bumped, page) : std::nullopt;
  return span && *span <= SIZE_MAX;
}

/// True when [offset, offset + length) lies within [0, size), computed without overflow.
constexpr bool range_within(std::uint64_t offset, std::uint64_t length, std::uint64_t size) noexcept {
  return offset <= size && length <= size - offset;
}

static_assert(align_down(4097, 4096) == 4096);
static_assert(*align_up(4097, 4096) == 8192);
static_assert(!align_up(UINT64_MAX, 4096));
static_assert(range_within(4096, 0, 4096) && !range_within(1, UINT64_MAX, 4096));

}  // namespace mmapx
