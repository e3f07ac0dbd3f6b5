// mmapx/reg/map.hpp - a device's register map: its registers, its size and
// the bus contract (which access widths the device accepts, and in which
// order a 64-bit register is split when it must be).
//
//   using edu_map = reg::map<"edu", 0x100000, reg::contract{reg::w32 | reg::w64},
//                            id, liveness, status, ...>;
//
// The whole layout is checked here, at compile time: registers aligned to
// their width, inside the block, not overlapping, reachable on the bus.
#pragma once

#include <mmapx/reg/register.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace mmapx::reg {

/// Access widths, as a mask of byte counts.
inline constexpr unsigned w8 = 1;
inline constexpr unsigned w16 = 2;
inline constexpr unsigned w32 = 4;
inline constexpr unsigned w64 = 8;

/// Order of the two 32-bit halves of a split 64-bit access (Linux's
/// lo_hi_writeq / hi_lo_writeq). The low half is at the lower address.
/// lo_hi accesses the low half first, hi_lo the high half first.
enum class split_order : std::uint8_t { lo_hi, hi_lo };
/// Shorter spellings for contracts.
inline constexpr split_order lo_hi = split_order::lo_hi;
inline constexpr split_order hi_lo = split_order::hi_lo;

/// What the device accepts on its bus.
struct contract {
  /// Accepted access widths (w8 | w16 | ...); without w64, a 64-bit register
  /// takes two 32-bit accesses.
  unsigned widths = w8 | w16 | w32 | w64;
  /// The order of those two accesses.
  split_order split = split_order::lo_hi;
};

/// A map's registers, in the order dumps and name tables list them.
template <class... Rs>
struct register_list {};

/// A device's register map: `Size` bytes of address space (a BAR's size, say), the bus
/// contract and the registers. Instantiating it runs every layout check.
template <fixed_name Name, std::size_t Size, contract Bus, class... Regs>
struct map {
  /// Marks the type as a map (see map_type).
  using map_tag = void;
  /// The registers, as listed.
  using registers = register_list<Regs...>;
  /// The declared name; c_name is the same text, NUL-terminated, with static storage.
  static constexpr std::string_view name = Name.view();
  static constexpr const char* c_name = Name.c_str();
  /// Bytes of address space the device decodes; bind() needs only `extent` of them.
  static constexpr std::size_t size = Size;
  /// The contract every access of a block obeys.
  static constexpr contract bus = Bus;
  /// One past the last register: the bytes a binding must provide.
  static constexpr std::size_t extent = [] {
    std::size_t end = 0;
    ((end = Regs::offset + Regs::bytes > end ? Regs::offset + Regs::bytes : end), ...);
    return end;
  }();
  /// The alignment a base must have for every register to be naturally aligned.
  static constexpr std::size_t alignment = [] {
    std::size_t a = 1;
    ((a = Regs::bytes > a ? Regs::bytes : a), ...);
    return a;
  }();

  static_assert(((Regs::offset % Regs::bytes == 0) && ...),
                "mmapx::reg: a register is not aligned to its width");
  static_assert(((Regs::offset <= Size && Regs::bytes <= Size - Regs::offset) && ...),
                "mmapx::reg: a register lies outside its block");
  static_assert([] {
    const std::size_t begin[] = {Regs::offset..., 0};
    const std::size_t end[] = {(Regs::offset + Regs::bytes)..., 0};
    for (std::size_t i = 0; i < sizeof...(Regs); ++i)
      for (std::size_t j = i + 1; j < sizeof...(Regs); ++j)
        if (begin[i] < end[j] && begin[j] < end[i]) return false;
    return true;
  }(), "mmapx::reg: two registers overlap");
  static_assert([] {
    const std::string_view names[] = {Regs::name..., ""};
    for (std::size_t i = 0; i < sizeof...(Regs); ++i)
      for (std::size_t j = i + 1; j < sizeof...(Regs); ++j)
        if (names[i] == names[j]) return false;
    return true;
  }(), "mmapx::reg: two registers share a name");
  static_assert((((Bus.widths & Regs::bytes) != 0 || (Regs::bytes == 8 && (Bus.widths & w32) != 0)) && ...),
                "mmapx::reg: the bus contract allows no access of a register's width");
  // Instantiating each layout runs its field checks with the map's.
  static_assert(((layout<Regs>::all != 0) && ...));
  static_assert((register_type<Regs> && ...), "mmapx::reg: a map lists registers");
};

/// Satisfied by reg::map types.
template <class M>
concept map_type = requires { typename M::map_tag; };

namespace detail {
template <class F, class List>
struct owner_of {
  using type = void;
  static constexpr std::size_t count = 0;
};
template <class F, class R, class... Rs>
struct owner_of<F, register_list<R, Rs...>> {
  using rest = owner_of<F, register_list<Rs...>>;
  static constexpr bool here = contains_v<F, typename R::fields>;
  using type = std::conditional_t<here, R, typename rest::type>;
  static constexpr std::size_t count = rest::count + (here ? 1 : 0);
};
}  // namespace detail

/// The register of Map that holds field F (a compile error unless exactly one).
template <class Map, class F>
struct register_of {
  /// The search through Map's registers (an implementation detail; use `type`).
  using found = detail::owner_of<F, typename Map::registers>;
  static_assert(found::count != 0, "mmapx::reg: the field is in no register of this map");
  static_assert(found::count < 2, "mmapx::reg: the field is in several registers; name the register");
  /// The register holding F.
  using type = typename found::type;
};
/// Shorthand for register_of<Map, F>::type.
template <class Map, class F>
using register_of_t = typename register_of<Map, F>::type;

}  // namespace mmapx::reg
