// mmapx/reg/field.hpp - one bit field of a device register, declared like a
// line of a datasheet table: name, position, width, access kind, encoding.
//
//   using direction = reg::field<"direction", 1, 1, reg::rw,
//       reg::enumerated<reg::choice<dir::to_device, "to_device">,
//                       reg::choice<dir::to_ram, "to_ram">>>;
//
// A field only describes bits; the register it sits in is declared in
// register.hpp. Values meant for a field travel as field_value<F>, made by
// F::val<constant> (checked at compile time), F::checked(v) (checked at run
// time, error through error.hpp) or F::truncated(v) (explicitly masks).
#pragma once

#include <mmapx/error.hpp>
#include <mmapx/reg/fixed_name.hpp>

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

namespace mmapx::reg {

/// How software may use a field (and, for ro/wo/rw, a whole register).
enum class field_access : std::uint8_t {
  rw,        ///< read and write
  ro,        ///< read only; writes are ignored by the device
  wo,        ///< write only; reads return nothing meaningful
  w1c,       ///< reads state; writing 1 clears it, 0 leaves it
  w1s,       ///< reads state; writing 1 sets it, 0 leaves it
  rc,        ///< reading clears it (so reading the register has a side effect)
  reserved,  ///< must be written as a fixed value; never read by name
};
/// Shorter spellings for declarations (reserved fields are declared with reg::reserved).
/// @{
inline constexpr field_access rw = field_access::rw;
inline constexpr field_access ro = field_access::ro;
inline constexpr field_access wo = field_access::wo;
inline constexpr field_access w1c = field_access::w1c;
inline constexpr field_access w1s = field_access::w1s;
inline constexpr field_access rc = field_access::rc;
/// @}

/// Whether a read shows the field's state: not for wo and reserved (rc is readable,
/// with a side effect).
constexpr bool is_readable(field_access a) noexcept {
  return a != field_access::wo && a != field_access::reserved;
}
/// Whether software may store a value of its choosing: rw, wo, w1c and w1s.
constexpr bool is_writable(field_access a) noexcept {
  return a == field_access::rw || a == field_access::wo || a == field_access::w1c ||
         a == field_access::w1s;
}
/// Bits a read-modify-write may copy from the value it loaded: writing back
/// what was read leaves these fields as they were. Not so for w1c/w1s
/// (writing back a 1 acts) or wo/reserved (what was read means nothing).
constexpr bool is_kept_by_modify(field_access a) noexcept {
  return a == field_access::rw || a == field_access::ro || a == field_access::rc;
}
/// The narrowest unsigned type holding `Bits` bits.
template <unsigned Bits>
using uint_for = std::conditional_t<
    (Bits <= 8), std::uint8_t,
    std::conditional_t<(Bits <= 16), std::uint16_t,
                       std::conditional_t<(Bits <= 32), std::uint32_t, std::uint64_t>>>;

/// A mask of the low `width` bits; all 64 for a width of 64 or more (no overlong shift).
constexpr std::uint64_t low_bits(unsigned width) noexcept {
  return width >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << width) - 1;
}

/// One named encoding of an enumerated field, for the run-time tables.
struct choice_info {
  /// The encoding as the field's bits hold it, not shifted.
  std::uint64_t value;
  /// The enumerator's name, as dumps print it and parse_assignment accepts it.
  std::string_view name;
};

/// One enumerator of a field and the name dumps and parsers use for it.
template <auto Value, fixed_name Name>
struct choice {
  static_assert(std::is_enum_v<decltype(Value)>, "mmapx::reg: a choice names an enumerator");
  /// The enumerator, of the field's enumeration type.
  static constexpr auto value = Value;
  /// This choice's entry in the run-time tables (names.hpp).
  static constexpr choice_info info{
      static_cast<std::uint64_t>(static_cast<std::underlying_type_t<decltype(Value)>>(Value)),
      Name.view()};
};

/// The encoding of a field that holds a plain number.
struct plain {
  /// No enumeration and no named values: reads give bool or an integer.
  using enum_type = void;
  /// No named values (reg::field_info::choices is empty for a plain field).
  static constexpr std::array<choice_info, 0> choices{};
};

/// The encoding of a field whose values are the listed enumerators; any other
/// bit pattern read from the device is reported as unknown, never invented.
template <class First, class... Rest>
struct enumerated {
  /// The enumeration every choice belongs to: what reading the field yields.
  using enum_type = std::remove_cv_t<decltype(First::value)>;
  static_assert((std::is_same_v<enum_type, std::remove_cv_t<decltype(Rest::value)>> && ...),
                "mmapx::reg: all choices of a field belong to one enumeration");
  /// Value and name of each choice, in declaration order.
  static constexpr std::array<choice_info, 1 + sizeof...(Rest)> choices{First::info, Rest::info...};
};

/// A value destined for field F, already shifted into place.
template <class F>
struct field_value {
  /// The field the value is for: block calls find its register from it.
  using field = F;
  /// The value at the field's position in the register; no bits outside its mask.
  std::uint64_t bits;
};

/// A field: `Width` bits at bit `Pos` of its register. Declared inside a register
/// as `field<...>` (the register's member template), it records that register as
/// its `owner`, so a field of one register never fits another even when both were
/// declared with the same text. Declared as reg::field<...>, it has no owner and is
/// accepted only by the one register of a map that lists it.
template <fixed_name Name, unsigned Pos, unsigned Width, field_access Access = field_access::rw,
          class Encoding = plain, std::uint64_t WriteAs = 0, class Owner = void>
struct field {
  /// Marks the type as a field (see field_type).
  using field_tag = void;
  /// The register (its basic_register base) the field was declared in; void for reg::field.
  using owner = Owner;
  /// plain or enumerated<...>: how the bits map to values.
  using encoding = Encoding;
  /// The enumeration of an enumerated field; void for a plain one.
  using enum_type = typename Encoding::enum_type;
  /// The declared name, as dumps print it and parse_assignment matches it.
  static constexpr std::string_view name = Name.view();
  /// The same text, NUL-terminated, with static storage: the subject of error messages.
  static constexpr const char* c_name = Name.c_str();
  /// Lowest bit of the field (bit 0 is the least significant).
  static constexpr unsigned pos = Pos;
  /// Number of bits, 1 to 64.
  static constexpr unsigned width = Width;
  /// What software may do with the field.
  static constexpr field_access access = Access;
  /// The largest value the field holds, not shifted.
  static constexpr std::uint64_t max = low_bits(Width);
  /// The field's bits, in place within its register.
  static constexpr std::uint64_t mask = max << Pos;
  /// What a reserved field is always written as, not shifted; 0 for every other kind.
  static constexpr std::uint64_t write_as = WriteAs;

  static_assert(Width >= 1 && Pos < 64 && Width <= 64 - Pos,
                "mmapx::reg: a field must have a width and lie within 64 bits");
  static_assert(WriteAs <= max, "mmapx::reg: a reserved value does not fit its field");
  static_assert(Access == field_access::reserved || WriteAs == 0,
                "mmapx::reg: only reserved fields have a fixed written value");
  static_assert([] {
    for (const auto& c : Encoding::choices)
      if (c.value > max) return false;
    return true;
  }(), "mmapx::reg: an enumerator does not fit its field");

  /// What reading the field gives: its enum (empty if the bits match no
  /// enumerator), bool for a single plain bit, else the narrowest integer.
  using read_type = std::conditional_t<
      !std::is_void_v<enum_type>, std::optional<enum_type>,
      std::conditional_t<Width == 1, bool, uint_for<Width>>>;

  /// The field's value in `register_value` (a whole register as read), decoded to
  /// read_type; no access. Computes in the register's own width, as hand-written
  /// code would. An enumerated field whose bits match no choice gives nullopt.
  template <std::unsigned_integral V>
  static constexpr read_type decode(V register_value) noexcept {
    const V raw = static_cast<V>(register_value >> Pos) & static_cast<V>(max);
    if constexpr (!std::is_void_v<enum_type>) {
      for (const auto& c : Encoding::choices)
        if (c.value == raw) return static_cast<enum_type>(raw);
      return std::nullopt;
    } else {
      return static_cast<read_type>(raw);
    }
  }

  /// The value V (integer, bool or enumerator of enum_type) shifted into place;
  /// a compile error when V is negative, larger than max, or of another enumeration.
  template <auto V>
  static consteval field_value<field> constant() noexcept {
    using V_type = decltype(V);
    if constexpr (std::is_enum_v<V_type>) {
      static_assert(std::is_same_v<V_type, enum_type>,
                    "mmapx::reg: enumerator of another type than the field's enumeration");
      return {static_cast<std::uint64_t>(static_cast<std::underlying_type_t<V_type>>(V)) << Pos};
    } else if constexpr (std::is_same_v<V_type, bool>) {
      return {static_cast<std::uint64_t>(V ? 1 : 0) << Pos};
    } else {
      static_assert(std::is_integral_v<V_type>, "mmapx::reg: a field constant is an integer, bool or enumerator");
      // Through the widest type of V's signedness: std::cmp_* refuse character types.
      constexpr std::conditional_t<std::is_signed_v<V_type>, long long, unsigned long long> wide = V;
      static_assert(!std::cmp_less(wide, 0) && !std::cmp_greater(wide, max),
                    "mmapx::reg: constant does not fit its field");
      return {static_cast<std::uint64_t>(V) << Pos};
    }
  }
  /// Shorthand for constant<V>(): `F::val<3>`, `F::val<true>`, `F::val<mode::fast>`.
  template <auto V>
  static constexpr field_value<field> val = constant<V>();

  /// Keeps the low `Width` bits of `v`: for callers who want truncation and
  /// say so. Computes in 32 bits when the field allows, as hand-written code would.
  template <std::unsigned_integral T>
  static constexpr field_value<field> truncated(T v) noexcept {
    using W = std::conditional_t<(Pos + Width <= 32 && sizeof(T) <= 4), std::uint32_t, std::uint64_t>;
    return {static_cast<W>(static_cast<W>(static_cast<W>(v) & static_cast<W>(max)) << Pos)};
  }

  /// A run-time value that must fit the field (and, for an enumerated field,
  /// be one of its enumerators).
  static field_value<field> checked(std::uint64_t v) {
    return mmapx::detail::throwing([&](mmapx::detail::failure& f) { return check(v, f); });
  }
  /// The noexcept form. Errors (both forms): errc::value_out_of_range, errc::unknown_encoding
  /// (no enumerator has the value); the ec form then returns zero bits.
  static field_value<field> checked(std::uint64_t v, std::error_code& ec) noexcept {
    return mmapx::detail::reporting(ec, [&](mmapx::detail::failure& f) { return check(v, f); });
  }
  /// An enumerator, checked the same way; one of another enumeration does not compile.
  template <class E>
    requires std::is_enum_v<E>
  static field_value<field> checked(E e) {
    return checked(static_cast<std::uint64_t>(static_cast<std::underlying_type_t<E>>(enum_of(e))));
  }
  /// The noexcept form of checked(E): unknown_encoding in `ec` and zero bits when no choice has e.
  template <class E>
    requires std::is_enum_v<E>
  static field_value<field> checked(E e, std::error_code& ec) noexcept {
    return checked(static_cast<std::uint64_t>(static_cast<std::underlying_type_t<E>>(enum_of(e))), ec);
  }

 private:
  template <class E>
  static constexpr E enum_of(E e) noexcept {
    static_assert(std::is_same_v<E, enum_type>, "mmapx::reg: enumerator of another type than the field's enumeration");
    return e;
  }
  /// On failure the value is zero: the ec form's caller must look at ec.
  static field_value<field> check(std::uint64_t v, mmapx::detail::failure& f) noexcept {
    bool known = v <= max;
    if (!known) {
      f.fail(errc::value_out_of_range, "set field");
    } else if constexpr (!std::is_void_v<enum_type>) {
      known = false;
      for (const auto& c : Encoding::choices) known = known || c.value == v;
      if (!known) f.fail(errc::unknown_encoding, "set field");
    }
    if (!known) {
      f.subject = c_name;
      return {0};
    }
    return {v << Pos};
  }
};

/// Bits the device requires to be written as `WriteAs`: every write and modify stores
/// that value there, no read shows them, and names.hpp never finds them by name.
template <unsigned Pos, unsigned Width, std::uint64_t WriteAs = 0>
using reserved = field<"reserved", Pos, Width, field_access::reserved, plain, WriteAs>;

/// Satisfied by reg::field types and fields declared in registers (reserved ones included).
template <class F>
concept field_type = requires { typename F::field_tag; };

}  // namespace mmapx::reg
