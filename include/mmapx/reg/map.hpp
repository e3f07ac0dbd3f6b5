// mmapx/reg/map.hpp - a device's register map: its registers, its size and
// the bus contract (which access widths the device accepts, and in which
// order a 64-bit register is split when it must be).
//
//   using edu_map = reg::map<"edu", 0x100000, reg::contract{reg::w32 | reg::w64},
//                            id, liveness, status, ...>;
//
// Besides registers, a map lists reg::array (one register repeated at a
// stride: RAL[16]), reg::block_array (a set of registers repeated: per-queue
// blocks) and reg::bank (registers shown only while a select field holds a
// value: the 16550's divisor latch). A read-only and a write-only register
// at the same offset are aliases (RBR/THR).
//
// The whole layout is checked here, at compile time, on every element of
// every array: registers aligned to their width, inside the block, not
// overlapping (except as aliases or in different banks), reachable on the bus.
#pragma once

#include <mmapx/reg/register.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <utility>

namespace mmapx::reg {

/// Access widths, as a mask of byte counts.
/// @{
inline constexpr unsigned w8 = 1;
inline constexpr unsigned w16 = 2;
inline constexpr unsigned w32 = 4;
inline constexpr unsigned w64 = 8;
/// @}

/// Order of the two 32-bit halves of a split 64-bit access (Linux's
/// lo_hi_writeq / hi_lo_writeq). The low half is at the lower address.
/// lo_hi accesses the low half first, hi_lo the high half first.
enum class split_order : std::uint8_t { lo_hi, hi_lo };
/// Shorter spellings for contracts.
/// @{
inline constexpr split_order lo_hi = split_order::lo_hi;
inline constexpr split_order hi_lo = split_order::hi_lo;
/// @}

/// What the device accepts on its bus.
struct contract {
  /// Accepted access widths (w8 | w16 | ...); without w64, a 64-bit register
  /// takes two 32-bit accesses.
  unsigned widths = w8 | w16 | w32 | w64;
  /// The order of those two accesses.
  split_order split = split_order::lo_hi;
};

/// A list of registers (or of a map's entries), in the order dumps and name tables list them.
template <class... Rs>
struct register_list {};

namespace detail {
template <class A, std::size_t I>
struct element;
}  // namespace detail

/// `Count` copies of register R, `Stride` bytes apart, the first where R is declared
/// (Intel's RAL[16], MTA[128]). A map lists the array; `A::at<I>` is element I as a
/// register type (I is checked when compiling), block::at<A>(i) reaches element i
/// chosen at run time. Element names in tables and dumps are "ral[3]".
template <register_type R, std::size_t Count, std::size_t Stride>
struct array {
  /// Marks the type as a register array (see array_type).
  using array_tag = void;
  /// The register every element repeats; its offset is element 0's.
  using element_register = R;
  /// Number of elements (at least 1).
  static constexpr std::size_t count = Count;
  /// Bytes from one element to the next (at least the register's width).
  static constexpr std::size_t stride = Stride;
  /// The array's name: its register's.
  /// @{
  static constexpr std::string_view name = R::name;
  static constexpr const char* c_name = R::c_name;
  /// @}
  /// Element I as a register of its own; a compile error unless I < Count.
  template <std::size_t I>
  using at = detail::element<array, I>;

  static_assert(Count >= 1, "mmapx::reg: an array has at least one element");
  static_assert(Stride >= R::bytes && Stride % R::bytes == 0,
                "mmapx::reg: an array's stride is a multiple of its register's width, at least one");
};

/// `Count` copies of the registers of Block (itself a reg::map, offsets relative to
/// each copy), the first at byte `Offset`, the others `Stride` bytes apart: per-queue
/// or per-channel register sets. block::at<A>(i) is a block of copy i; names in
/// tables and dumps are "txq[1].tdt".
template <class Block, std::size_t Offset, std::size_t Count, std::size_t Stride>
struct block_array {
  /// Marks the type as an array of register blocks.
  using block_array_tag = void;
  /// The map of one copy.
  using block_map = Block;
  /// Byte offset of copy 0 in the enclosing map.
  static constexpr std::size_t offset = Offset;
  /// Number of copies and the bytes from one to the next.
  /// @{
  static constexpr std::size_t count = Count;
  static constexpr std::size_t stride = Stride;
  /// @}
  /// The array's name: its block map's (c_name: NUL-terminated, static storage).
  /// @{
  static constexpr std::string_view name = Block::name;
  static constexpr const char* c_name = Block::c_name;
  /// @}

  static_assert(Count >= 1, "mmapx::reg: an array has at least one element");
  static_assert(Block::extent <= Stride, "mmapx::reg: the copies of a block array overlap");
  static_assert(Offset % Block::alignment == 0 && Stride % Block::alignment == 0,
                "mmapx::reg: a block array's copies are not aligned for their registers");
};

/// Registers Regs... that the device shows only while the select field holds
/// `Select` (a field_value such as lcr::dlab::val<1>): the 16550's divisor latch,
/// a page-select register's pages. They share offsets with the unbanked registers
/// (which they hide while selected) or with other banks' registers. Nothing
/// reaches them except a bank scope, block::bank<B>(), which selects the bank on
/// entry and restores the select register on exit.
template <fixed_name Name, auto Select, class... Regs>
struct bank {
  /// Marks the type as a bank.
  using bank_tag = void;
  /// The field whose value selects the bank, and that value, in place.
  /// @{
  using select_field = typename decltype(Select)::field;
  static constexpr std::uint64_t select_bits = Select.bits;
  /// @}
  /// The registers visible only in this bank.
  using registers = register_list<Regs...>;
  /// The bank's name, for dumps and messages (c_name: NUL-terminated, static storage).
  /// @{
  static constexpr std::string_view name = Name.view();
  static constexpr const char* c_name = Name.c_str();
  /// @}

  static_assert(sizeof...(Regs) > 0, "mmapx::reg: a bank has registers");
  static_assert((register_type<Regs> && ...), "mmapx::reg: a bank lists registers");
  static_assert(is_writable(select_field::access), "mmapx::reg: a bank's select field must be writable");
};

namespace detail {
constexpr std::size_t decimal_digits(std::size_t n) noexcept {
  std::size_t d = 1;
  while (n >= 10) n /= 10, ++d;
  return d;
}
constexpr void append(char* out, std::size_t& at, std::string_view text) noexcept {
  for (const char c : text) out[at++] = c;
}
constexpr void append_index(char* out, std::size_t& at, std::size_t i) noexcept {
  out[at++] = '[';
  std::size_t end = at + decimal_digits(i);
  at = end;
  do out[--end] = static_cast<char>('0' + i % 10), i /= 10;
  while (i != 0);
  out[at++] = ']';
}
/// "name[i]" for every i < Count, or "name[i].sub" for every i and every
/// suffix: the NUL-terminated names of array elements, with static storage.
template <class Prefix, std::size_t Count, class... Suffixes>
struct indexed_names {
  static constexpr std::size_t per_index = sizeof...(Suffixes) == 0 ? 1 : sizeof...(Suffixes);
  static constexpr std::size_t length = [] {
    std::size_t n = 0;
    for (std::size_t i = 0; i < Count; ++i) {
      if constexpr (sizeof...(Suffixes) == 0)
        n += Prefix::name.size() + decimal_digits(i) + 3;
      else
        n += ((Prefix::name.size() + decimal_digits(i) + 4 + Suffixes::name.size()) + ...);
    }
    return n;
  }();
  struct table {
    std::array<char, length> text{};
    std::array<std::size_t, Count * per_index + 1> start{};
  };
  static constexpr table value = [] {
    table t{};
    std::size_t at = 0;
    std::size_t k = 0;
    for (std::size_t i = 0; i < Count; ++i) {
      auto one = [&](std::string_view suffix, bool dotted) {
        t.start[k++] = at;
        append(t.text.data(), at, Prefix::name);
        append_index(t.text.data(), at, i);
        if (dotted) t.text[at++] = '.';
        append(t.text.data(), at, suffix);
        t.text[at++] = '\0';
      };
      if constexpr (sizeof...(Suffixes) == 0)
        one({}, false);
      else
        (one(Suffixes::name, true), ...);
    }
    t.start[k] = at;
    return t;
  }();
  /// Name number k (index k / per_index, suffix k % per_index).
  static constexpr const char* c_name(std::size_t k) noexcept { return value.text.data() + value.start[k]; }
  static constexpr std::string_view name(std::size_t k) noexcept {
    return {value.text.data() + value.start[k], value.start[k + 1] - value.start[k] - 1};
  }
};

/// Element I of array A: A's register at its place, named "name[I]".
template <class A, std::size_t I>
struct element : A::element_register {
  static_assert(I < A::count, "mmapx::reg: the array index is out of range");
  /// The array it belongs to and its index there.
  using array = A;
  static constexpr std::size_t index = I;
  /// Element I's offset and name.
  static constexpr std::size_t offset = A::element_register::offset + I * A::stride;
  static constexpr std::string_view name = indexed_names<A, A::count>::name(I);
  static constexpr const char* c_name = indexed_names<A, A::count>::c_name(I);
};
}  // namespace detail

/// Satisfied by reg::array types.
template <class A>
concept array_type = requires { typename A::array_tag; };
/// Satisfied by reg::block_array types.
template <class A>
concept block_array_type = requires { typename A::block_array_tag; };
/// Satisfied by reg::bank types.
template <class B>
concept bank_type = requires { typename B::bank_tag; };

namespace detail {
/// A register's place for the layout checks: bytes [begin, end), bank 0 for the
/// unbanked ones, and its access (ro and wo registers of one bank may alias).
struct placed {
  std::size_t begin;
  std::size_t end;
  unsigned bank;
  field_access access;
  std::size_t bytes;
};

template <class E>
constexpr std::size_t placed_count() noexcept {
  if constexpr (array_type<E>)
    return E::count;
  else if constexpr (block_array_type<E>)
    return E::count * placed_count<typename E::block_map>();
  else if constexpr (bank_type<E>)
    return []<class... Rs>(register_list<Rs...>) { return sizeof...(Rs); }(typename E::registers{});
  else if constexpr (requires { typename E::map_tag; })
    return []<class... Es>(register_list<Es...>) { return (std::size_t{0} + ... + placed_count<Es>()); }(
        typename E::entries{});
  else
    return 1;
}
template <class R>
constexpr void place_register(placed* out, std::size_t& n, std::size_t base, unsigned bank) noexcept {
  out[n++] = {base + R::offset, base + R::offset + R::bytes, bank, R::access, R::bytes};
}
template <class E>
constexpr void place(placed* out, std::size_t& n, std::size_t base, unsigned& banks) noexcept {
  if constexpr (array_type<E>) {
    for (std::size_t i = 0; i < E::count; ++i) place_register<typename E::element_register>(out, n, base + i * E::stride, 0);
  } else if constexpr (block_array_type<E>) {
    for (std::size_t i = 0; i < E::count; ++i) {
      unsigned inner = 0;
      [&]<class... Es>(register_list<Es...>) {
        (place<Es>(out, n, base + E::offset + i * E::stride, inner), ...);
      }(typename E::block_map::entries{});
    }
  } else if constexpr (bank_type<E>) {
    const unsigned id = ++banks;
    [&]<class... Rs>(register_list<Rs...>) { (place_register<Rs>(out, n, base, id), ...); }(typename E::registers{});
  } else {
    place_register<E>(out, n, base, 0);
  }
}
/// Two registers may share bytes only as aliases (same place and bank, one ro and one wo)
/// or from different banks (same place); any other overlap is a layout error.
constexpr bool may_share(const placed& a, const placed& b) noexcept {
  if (a.begin != b.begin || a.end != b.end) return false;
  if (a.bank != b.bank) return true;
  return (a.access == field_access::ro && b.access == field_access::wo) ||
         (a.access == field_access::wo && b.access == field_access::ro);
}
template <class... Es>
constexpr auto placements() noexcept {
  std::array<placed, (std::size_t{0} + ... + placed_count<Es>())> all{};
  std::size_t n = 0;
  unsigned banks = 0;
  (place<Es>(all.data(), n, 0, banks), ...);
  std::sort(all.begin(), all.end(), [](const placed& a, const placed& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  return all;
}
template <class... Es>
constexpr bool no_overlap() noexcept {
  const auto all = placements<Es...>();
  std::size_t reached = 0;  // the end of every group before this one
  for (std::size_t i = 0; i < all.size();) {
    std::size_t j = i;
    while (j < all.size() && all[j].begin == all[i].begin) ++j;
    if (all[i].begin < reached) return false;
    for (std::size_t a = i; a < j; ++a)
      for (std::size_t b = a + 1; b < j; ++b)
        if (!may_share(all[a], all[b])) return false;
    reached = all[i].end;
    for (std::size_t a = i; a < j; ++a) reached = all[a].end > reached ? all[a].end : reached;
    i = j;
  }
  return true;
}

/// The registers a map's entries declare by name (plain and banked; not arrays).
template <class... Es>
struct named_registers {
  using type = register_list<>;
};
template <class E, class... Es>
struct named_registers<E, Es...> {
  template <class... Rs, class... Ts>
  static register_list<Rs..., Ts...> join(register_list<Rs...>, register_list<Ts...>);
  using rest = typename named_registers<Es...>::type;
  static auto listed_here() {
    if constexpr (array_type<E> || block_array_type<E>)
      return register_list<>{};
    else if constexpr (bank_type<E>)
      return typename E::registers{};
    else
      return register_list<E>{};
  }
  using here = decltype(listed_here());
  using type = decltype(join(std::declval<here>(), std::declval<rest>()));
};

template <class... Rs, class... Es>
constexpr bool names_unique(register_list<Rs...>, Es...) noexcept {
  std::array<std::string_view, sizeof...(Rs) + sizeof...(Es)> names{};
  std::size_t n = 0;
  ((names[n++] = Rs::name), ...);
  ((names[n++] = array_type<Es> || block_array_type<Es> ? Es::name : std::string_view{}), ...);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j)
      if (!names[i].empty() && names[i] == names[j]) return false;
  return true;
}
template <class F, class List>
struct owner_of;

/// A block array's own map accesses the device on the enclosing map's contract.
template <contract Bus, class E>
constexpr bool same_contract() noexcept {
  if constexpr (block_array_type<E>)
    return E::block_map::bus.widths == Bus.widths && E::block_map::bus.split == Bus.split;
  else
    return true;
}

/// A bank's select field is in exactly one register of the map, which can be
/// read without side effects (to restore it) and written.
template <class Registers, class E>
constexpr bool bank_select_valid() noexcept {
  if constexpr (bank_type<E>) {
    using found = owner_of<typename E::select_field, Registers>;
    if constexpr (found::count != 1) {
      return false;
    } else {
      using S = typename found::type;
      return layout<S>::readable && layout<S>::writable && !layout<S>::read_side_effects;
    }
  } else {
    return true;
  }
}
template <class... Rs, class... Es>
constexpr bool layouts_checked(register_list<Rs...>, Es...) noexcept {
  auto element_layout = []<class E>(E) {
    if constexpr (array_type<E>) return layout<typename E::element_register>::all != 0;
    else return true;
  };
  return ((layout<Rs>::all != 0) && ...) && (element_layout(Es{}) && ...);
}
}  // namespace detail

/// A device's register map: `Size` bytes of address space (a BAR's size, say), the bus
/// contract and its entries: registers, reg::array, reg::block_array and reg::bank.
/// Instantiating it runs every layout check, on every element of every array.
template <fixed_name Name, std::size_t Size, contract Bus, class... Entries>
struct map {
  /// Marks the type as a map (see map_type).
  using map_tag = void;
  /// The entries, as listed.
  using entries = register_list<Entries...>;
  /// The registers declared by name, plain and banked, as listed (arrays are not in it).
  using registers = typename detail::named_registers<Entries...>::type;
  /// The declared name; c_name is the same text, NUL-terminated, with static storage.
  /// @{
  static constexpr std::string_view name = Name.view();
  static constexpr const char* c_name = Name.c_str();
  /// @}
  /// Bytes of address space the device decodes; bind() needs only `extent` of them.
  static constexpr std::size_t size = Size;
  /// The contract every access of a block obeys.
  static constexpr contract bus = Bus;
  /// One past the last register of any entry: the bytes a binding must provide.
  static constexpr std::size_t extent = [] {
    std::size_t end = 0;
    for (const auto& p : detail::placements<Entries...>()) end = p.end > end ? p.end : end;
    return end;
  }();
  /// The alignment a base must have for every register to be naturally aligned.
  static constexpr std::size_t alignment = [] {
    std::size_t a = 1;
    for (const auto& p : detail::placements<Entries...>()) a = p.bytes > a ? p.bytes : a;
    return a;
  }();

  static_assert(sizeof...(Entries) > 0, "mmapx::reg: a map lists registers");
  static_assert([] {
    for (const auto& p : detail::placements<Entries...>())
      if (p.begin % p.bytes != 0) return false;
    return true;
  }(), "mmapx::reg: a register is not aligned to its width");
  static_assert(extent <= Size, "mmapx::reg: a register lies outside its block");
  static_assert(detail::no_overlap<Entries...>(), "mmapx::reg: two registers overlap");
  static_assert(detail::names_unique(registers{}, Entries{}...), "mmapx::reg: two registers share a name");
  // Instantiating each register's layout runs its field checks with the map's.
  static_assert(detail::layouts_checked(registers{}, Entries{}...));
  static_assert((detail::same_contract<Bus, Entries>() && ...),
                "mmapx::reg: a block array's map must have the bus contract of the map that lists it");
  static_assert((detail::bank_select_valid<registers, Entries>() && ...),
                "mmapx::reg: a bank's select field must be in one register of the map, readable without side "
                "effects and writable");
  static_assert([] {
    for (const auto& p : detail::placements<Entries...>())
      if ((Bus.widths & p.bytes) == 0 && !(p.bytes == 8 && (Bus.widths & w32) != 0)) return false;
    return true;
  }(), "mmapx::reg: the bus contract allows no access of a register's width");
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
