// mmapx/reg/bus.hpp - how a register block reaches its device.
//
// A bus is a small value with two operations, load<T>(offset) and
// store<T>(offset, value), each exactly one access of sizeof(T) bytes. The
// block decides which accesses to make (and splits 64-bit ones when the
// contract says so); the bus only performs them. direct_bus is the real
// thing: one volatile load or store, so the compiler may neither merge,
// narrow, widen nor drop it. recording_bus (recording_bus.hpp) stands in for
// hardware in tests.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace mmapx::reg {

/// What a block needs of a bus: load<T>(byte offset) and a constant `writable`;
/// store<T>(offset, value) is needed only when writable is true.
template <class B>
concept bus_type = requires(const B& b, std::size_t offset) {
  { b.template load<std::uint32_t>(offset) } -> std::same_as<std::uint32_t>;
  { B::writable } -> std::convertible_to<bool>;
};

/// Volatile accesses at a base address; `const std::byte` makes a bus that
/// cannot write (a block on a read-only mapping).
template <class Byte = std::byte>
class direct_bus {
  static_assert(std::is_same_v<std::remove_const_t<Byte>, std::byte>);

 public:
  /// False over const std::byte: a block on it refuses writes at compile time.
  static constexpr bool writable = !std::is_const_v<Byte>;

  /// A null base, for an unbound block; accessing through it is undefined behaviour.
  constexpr direct_bus() noexcept = default;
  /// Accesses go to `base` + offset; the memory must outlive every copy of the bus.
  constexpr explicit direct_bus(Byte* base) noexcept : base_(base) {}

  /// The address every offset is added to.
  Byte* base() const noexcept { return base_; }
  /// A bus `offset` bytes further on (an element of an array): the same
  /// volatile accesses, from base + offset.
  constexpr direct_bus rebased(std::size_t offset) const noexcept { return direct_bus(base_ + offset); }

  /// One volatile load of sizeof(T) bytes, `offset` bytes from the base (not bounds-checked).
  template <class T>
  T load(std::size_t offset) const noexcept {
    return *reinterpret_cast<const volatile T*>(base_ + offset);
  }
  /// One volatile store of sizeof(T) bytes; only on a writable bus.
  template <class T>
    requires writable
  void store(std::size_t offset, T value) const noexcept {
    *reinterpret_cast<volatile T*>(base_ + offset) = value;
  }

 private:
  Byte* base_ = nullptr;
};

}  // namespace mmapx::reg
