// mmapx/reg/register.hpp - a device register: name, offset, width, access,
// reset value and its fields, all fixed at compile time.
//
// Two ways to declare one. Inline, when nobody needs to name the fields:
//   using liveness = reg::reg32<"liveness", 0x04, reg::rw, 0>;
// or as a struct whose nested fields read like the datasheet table:
//   struct status : reg::reg32<"status", 0x20, reg::rw, 0> {
//     using computing   = field<"computing",   0, 1, reg::ro>;
//     using irq_on_done = field<"irq_on_done", 7, 1, reg::rw>;
//     using fields = reg::fields<computing, irq_on_done>;
//   };
// `field<...>` (unqualified) is the register's own member template: the field
// records its register, so that DLL's `value` and DLM's `value`, declared with
// the same text, are two types and neither is accepted by the other register.
// A register with no fields has one, `value`, covering all of it.
//
// layout<R> derives, once, the masks every access uses, and checks that the
// fields lie inside the register without overlapping.
#pragma once

#include <mmapx/reg/field.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace mmapx::reg {

/// The list of a register's fields, in the order dumps and name tables show them.
template <class... Fs>
struct fields {};

/// Whether field F is in a fields<...> list.
template <class F, class List>
struct contains;
template <class F, class... Fs>
struct contains<F, fields<Fs...>> : std::bool_constant<(std::is_same_v<F, Fs> || ...)> {};
/// Shorthand for contains<F, List>::value.
template <class F, class List>
inline constexpr bool contains_v = contains<F, List>::value;

/// Register options, listed among the fields of an inline declaration.
struct reads_have_side_effects {};  ///< e.g. a FIFO pop: never read behind the user's back
struct counter {};                  ///< split 64-bit reads use high-low-high for a consistent value

namespace detail {
template <class... Parts>
struct only_fields {
  using type = fields<>;
};
template <class P, class... Rest>
struct only_fields<P, Rest...> {
  template <class... Fs>
  static fields<P, Fs...> prepend(fields<Fs...>);
  using rest = typename only_fields<Rest...>::type;
  using type = std::conditional_t<field_type<P>, decltype(prepend(rest{})), rest>;
};
}  // namespace detail

/// A register `Bits` wide at byte `Offset` of its map. Parts are its fields and the options
/// above; usually spelled reg8..reg64, or derived from to nest the fields.
template <fixed_name Name, std::size_t Offset, unsigned Bits, field_access Access, std::uint64_t Reset,
          class... Parts>
struct basic_register {
  /// Marks the type as a register (see register_type).
  using register_tag = void;
  /// The unsigned integer a whole-register read returns and a raw write takes.
  using value_type = uint_for<Bits>;
  /// A field of this register (see reg::field): declared in a struct derived from the
  /// register, unqualified, it is owned by the register and fits no other.
  template <fixed_name FieldName, unsigned Pos, unsigned Width, field_access FieldAccess = field_access::rw,
            class Encoding = plain>
  using field = mmapx::reg::field<FieldName, Pos, Width, FieldAccess, Encoding, 0, basic_register>;
  /// A field covering the whole register: the only one when none is listed.
  using value = field<"value", 0, Bits, Access>;
  /// The listed fields, or fields<value>; a struct derived from the register declares its own.
  using fields = std::conditional_t<std::is_same_v<typename detail::only_fields<Parts...>::type, mmapx::reg::fields<>>,
                                    mmapx::reg::fields<value>, typename detail::only_fields<Parts...>::type>;
  /// The declared name, as dumps print it and parse_assignment matches it.
  static constexpr std::string_view name = Name.view();
  /// The same text, NUL-terminated, with static storage: the subject of error messages.
  static constexpr const char* c_name = Name.c_str();
  /// Byte offset from the start of the map.
  static constexpr std::size_t offset = Offset;
  /// Width in bits: 8, 16, 32 or 64.
  static constexpr unsigned bits = Bits;
  /// Width in bytes: the size of every access to it.
  static constexpr std::size_t bytes = Bits / 8;
  /// ro, wo or rw for the register as a whole; its fields may narrow it.
  static constexpr field_access access = Access;
  /// The value after reset; a plain write() fills the fields it does not name from it.
  static constexpr std::uint64_t reset = Reset;
  /// reads_have_side_effects was listed (layout<R>::read_side_effects also counts rc fields).
  static constexpr bool side_effects_declared = (std::is_same_v<Parts, reads_have_side_effects> || ...);
  /// counter was listed: a split 64-bit read uses high-low-high.
  static constexpr bool is_counter = (std::is_same_v<Parts, counter> || ...);

  static_assert(Bits == 8 || Bits == 16 || Bits == 32 || Bits == 64,
                "mmapx::reg: a register is 8, 16, 32 or 64 bits wide");
  static_assert(Access == field_access::ro || Access == field_access::wo || Access == field_access::rw,
                "mmapx::reg: a register is ro, wo or rw; other access kinds belong to fields");
  static_assert(Reset <= low_bits(Bits), "mmapx::reg: the reset value does not fit the register");
  static_assert(((field_type<Parts> || std::is_same_v<Parts, reads_have_side_effects> ||
                  std::is_same_v<Parts, counter>) && ...),
                "mmapx::reg: a register lists fields, reads_have_side_effects or counter");
};

/// Registers of 8, 16, 32 and 64 bits; Parts as for basic_register.
/// @{
template <fixed_name Name, std::size_t Offset, field_access Access, std::uint64_t Reset = 0, class... Parts>
using reg8 = basic_register<Name, Offset, 8, Access, Reset, Parts...>;
template <fixed_name Name, std::size_t Offset, field_access Access, std::uint64_t Reset = 0, class... Parts>
using reg16 = basic_register<Name, Offset, 16, Access, Reset, Parts...>;
template <fixed_name Name, std::size_t Offset, field_access Access, std::uint64_t Reset = 0, class... Parts>
using reg32 = basic_register<Name, Offset, 32, Access, Reset, Parts...>;
template <fixed_name Name, std::size_t Offset, field_access Access, std::uint64_t Reset = 0, class... Parts>
using reg64 = basic_register<Name, Offset, 64, Access, Reset, Parts...>;
/// @}

/// Satisfied by registers: reg8..reg64 and structs derived from them.
template <class R>
concept register_type = requires { typename R::register_tag; };

/// Masks and compile-time checks derived from register R and its fields (defined below).
template <class R, class List = typename R::fields>
struct layout;

/// The masks that reads, writes and read-modify-writes of R are built from.
template <class R, class... Fs>
struct layout<R, fields<Fs...>> {
  /// Every bit of the register.
  static constexpr std::uint64_t all = low_bits(R::bits);
  /// The register may be read (it is not wo).
  static constexpr bool readable = is_readable(R::access);
  /// The register may be written (it is not ro).
  static constexpr bool writable = is_writable(R::access);
  /// Reading changes the device (declared, or an rc field): never read behind the user's back.
  static constexpr bool read_side_effects =
      R::side_effects_declared || ((Fs::access == field_access::rc) || ...);
  /// The bits some field covers.
  static constexpr std::uint64_t declared = (std::uint64_t{0} | ... | Fs::mask);

  /// Every field lies within the register (asserted below).
  static constexpr bool fields_inside = ((Fs::pos + Fs::width <= R::bits) && ...);
  /// No two fields share a bit (asserted below).
  static constexpr bool fields_disjoint = [] {
    [[maybe_unused]] std::uint64_t seen = 0;
    bool disjoint = true;
    ((disjoint = disjoint && (seen & Fs::mask) == 0, seen |= Fs::mask), ...);
    return disjoint;
  }();
  static_assert(fields_inside, "mmapx::reg: a field lies outside its register");
  static_assert(((std::is_void_v<typename Fs::owner> || std::is_base_of_v<typename Fs::owner, R>) && ...),
                "mmapx::reg: a register lists a field declared in another register");
  static_assert(fields_disjoint, "mmapx::reg: two fields of a register overlap");
  static_assert([] {
    std::string_view names[] = {Fs::name..., ""};
    for (std::size_t i = 0; i < sizeof...(Fs); ++i)
      for (std::size_t j = i + 1; j < sizeof...(Fs); ++j)
        if (names[i] == names[j] && names[i] != "reserved") return false;
    return true;
  }(), "mmapx::reg: two fields of a register share a name");


  /// Bits a modify copies from the loaded value (undeclared bits are kept too:
  /// the safe choice when a datasheet says nothing). None when the register
  /// cannot be read: a modify of it loads nothing.
  static constexpr std::uint64_t keep =
      !readable ? 0 : all & ~(std::uint64_t{0} | ... | (is_kept_by_modify(Fs::access) ? 0 : Fs::mask));
  /// The value written to the bits a modify does not copy and the call does
  /// not name: 0 for w1c/w1s (their "leave unchanged"), the required value for
  /// reserved bits, the reset value for write-only fields and, in a register
  /// that cannot be read, for undeclared bits.
  static constexpr std::uint64_t fixed =
      (std::uint64_t{0} | ... |
       (Fs::access == field_access::reserved ? (Fs::write_as << Fs::pos)
        : is_kept_by_modify(Fs::access)      ? 0
        : Fs::access == field_access::wo     ? (R::reset & Fs::mask)
                                             : 0)) |
      (readable ? 0 : R::reset & all & ~declared);
  /// What a plain write stores in the fields it does not name.
  static constexpr std::uint64_t write_base =
      (R::reset & keep) | fixed |
      (readable ? 0 : R::reset & (std::uint64_t{0} | ... | (is_kept_by_modify(Fs::access) ? Fs::mask : 0)));
  /// The bits of fields whose current value nobody can read: wo fields, and
  /// every settable field of a register that cannot be read. A modify that
  /// does not name them would have to invent their value, so it is refused
  /// unless it goes through a reg::shadow.
  static constexpr std::uint64_t write_only =
      (std::uint64_t{0} | ... |
       (Fs::access == field_access::wo || (!readable && is_kept_by_modify(Fs::access)) ? Fs::mask : 0));
  /// Bits a modify through a shadow copies from the shadow (the last value written):
  /// all but w1c/w1s (which would act again) and reserved bits (always write_as).
  static constexpr std::uint64_t shadow_keep =
      all & ~(std::uint64_t{0} | ... |
              (Fs::access == field_access::w1c || Fs::access == field_access::w1s ||
                       Fs::access == field_access::reserved
                   ? Fs::mask
                   : 0));

  /// F is one of R's fields: listed there, and declared in R (or declared with reg::field).
  template <class F>
  static constexpr bool has =
      (std::is_same_v<F, Fs> || ...) && (std::is_void_v<typename F::owner> || std::is_base_of_v<typename F::owner, R>);
  /// F may be read: the register is readable and F is neither wo nor reserved.
  template <class F>
  static constexpr bool can_read = readable && is_readable(F::access);
};

}  // namespace mmapx::reg
