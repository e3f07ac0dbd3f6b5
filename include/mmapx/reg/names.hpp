// mmapx/reg/names.hpp - a map's names at run time: constexpr tables of
// registers and fields, a formatter that decodes a register value, and a
// parser for `register.field=value` with the checks the compiler applies to
// the typed calls (unknown name, value too large, read-only target).
//
// The tables are made from the map's types, so a dump or a command line can
// never disagree with the typed declaration. Every array element has an entry
// of its own ("ral[3]", "txq[1].tdt"); a bank member's entry says how to
// select its bank. The parser reads untrusted text
// (a command line, a fuzzer's bytes): it never reads past its input, never
// overflows, and reports every mistake through error.hpp.
#pragma once

#include <mmapx/detail/posix.hpp>
#include <mmapx/error.hpp>
#include <mmapx/reg/map.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace mmapx::reg {

/// One field at run time (see reg::field for what each member means).
struct field_info {
  /// The declared name; c_name is the same text, NUL-terminated, with static storage.
  /// @{
  std::string_view name;
  const char* c_name;
  /// @}
  /// Lowest bit of the field.
  unsigned pos;
  /// Number of bits.
  unsigned width;
  /// What software may do with the field.
  field_access access;
  /// The value a reserved field must be written as, not shifted; 0 for the others.
  std::uint64_t write_as;
  /// Named values of an enumerated field; empty for a plain one.
  std::span<const choice_info> choices;

  /// The largest value the field holds, not shifted.
  constexpr std::uint64_t max() const noexcept { return low_bits(width); }
  /// The field's bits, in place within its register.
  constexpr std::uint64_t mask() const noexcept { return max() << pos; }
};

/// A bank at run time: how to select it (the select register's place and the
/// select field's bits) and how to restore the select register afterwards.
struct bank_info {
  /// The bank's declared name.
  std::string_view name;
  /// Offset and width in bits of the register holding the select field.
  /// @{
  std::size_t select_offset;
  unsigned select_bits;
  /// @}
  /// That register's layout keep and fixed masks (see layout<R>).
  /// @{
  std::uint64_t select_keep;
  std::uint64_t select_fixed;
  /// @}
  /// The select field's mask, and the bank's value in place.
  /// @{
  std::uint64_t mask;
  std::uint64_t value;
  /// @}
};

/// One register at run time (see basic_register and layout for the members).
/// Array elements have entries of their own ("ral[3]", "txq[1].tdt").
struct register_info {
  /// The name, as dumps print it and parse_assignment matches it ("ral[3]" for an element).
  std::string_view name;
  /// The same text, NUL-terminated, with static storage: the subject of error messages.
  const char* c_name;
  /// Byte offset from the start of the map.
  std::size_t offset;
  /// Width in bits: 8, 16, 32 or 64.
  unsigned bits;
  /// ro, wo or rw for the register as a whole.
  field_access access;
  /// Reading changes the device: dump() and apply() never read it.
  bool read_side_effects;
  /// A split 64-bit read uses high-low-high.
  bool counter;
  bool whole;  ///< no named fields: only the implicit `value`
  /// The value after reset.
  std::uint64_t reset;
  std::uint64_t keep;        ///< see layout<R>::keep
  std::uint64_t fixed;       ///< see layout<R>::fixed
  std::uint64_t write_only;  ///< see layout<R>::write_only
  /// Its fields in declaration order; only `value` when whole.
  std::span<const field_info> fields;
  /// The bank it belongs to, or null: reached only with that bank selected.
  const bank_info* bank = nullptr;

  /// The register may be read (it is not wo).
  constexpr bool readable() const noexcept { return is_readable(access); }
  /// The register may be written (it is not ro).
  constexpr bool writable() const noexcept { return is_writable(access); }
  /// The field named `field_name`, or null; reserved fields are never found.
  constexpr const field_info* find(std::string_view field_name) const noexcept {
    for (const auto& f : fields)
      if (f.name == field_name && f.access != field_access::reserved) return &f;
    return nullptr;
  }
};

/// A map's names at run time, as info_of<Map> makes them; parse_assignment resolves against it.
struct map_info {
  /// The map's declared name.
  std::string_view name;
  /// Bytes of address space, as Map::size.
  std::size_t size;
  /// The registers in declaration order.
  std::span<const register_info> registers;

  /// The register named `register_name`, or null.
  constexpr const register_info* find(std::string_view register_name) const noexcept {
    for (const auto& r : registers)
      if (r.name == register_name) return &r;
    return nullptr;
  }
};

namespace detail {
template <class R, class List = typename R::fields>
struct field_table;
template <class R, class... Fs>
struct field_table<R, fields<Fs...>> {
  static constexpr std::array<field_info, sizeof...(Fs)> value{
      field_info{Fs::name, Fs::c_name, Fs::pos, Fs::width, Fs::access, Fs::write_as, Fs::encoding::choices}...};
};

/// R's entry, at `offset` under `name` (an array element's), in `bank` (or none).
template <class R>
constexpr register_info register_entry(std::string_view name, const char* c_name, std::size_t offset,
                                       const bank_info* bank) noexcept {
  using L = layout<R>;
  return {name,
          c_name,
          offset,
          R::bits,
          R::access,
          L::read_side_effects,
          R::is_counter,
          std::is_same_v<typename R::fields, fields<typename R::value>>,
          R::reset,
          L::keep,
          L::fixed,
          L::write_only,
          field_table<R>::value,
          bank};
}
template <class R>
constexpr register_info register_entry() noexcept {
  return register_entry<R>(R::name, R::c_name, R::offset, nullptr);
}

template <class Map, class B>
inline constexpr bank_info bank_entry = [] {
  using F = typename B::select_field;
  using S = register_of_t<Map, F>;
  return bank_info{B::name, S::offset, S::bits, layout<S>::keep, layout<S>::fixed, F::mask, B::select_bits};
}();

/// Appends the table entries of one map entry E (a register, bank, array or block array).
template <class Map, class E>
constexpr void add_entries(register_info* out, std::size_t& n) noexcept {
  if constexpr (array_type<E>) {
    using names = indexed_names<E, E::count>;
    using R = typename E::element_register;
    for (std::size_t i = 0; i < E::count; ++i)
      out[n++] = register_entry<R>(names::name(i), names::c_name(i), R::offset + i * E::stride, nullptr);
  } else if constexpr (block_array_type<E>) {
    [&]<class... Rs>(register_list<Rs...>) {
      static_assert((register_type<Rs> && ...), "mmapx::reg: a block array's map lists plain registers");
      using names = indexed_names<E, E::count, Rs...>;
      std::size_t k = 0;
      for (std::size_t i = 0; i < E::count; ++i)
        ((out[n++] = register_entry<Rs>(names::name(k), names::c_name(k), E::offset + i * E::stride + Rs::offset,
                                         nullptr),
          ++k),
         ...);
    }(typename E::block_map::entries{});
  } else if constexpr (bank_type<E>) {
    [&]<class... Rs>(register_list<Rs...>) {
      ((out[n++] = register_entry<Rs>(Rs::name, Rs::c_name, Rs::offset, &bank_entry<Map, E>)), ...);
    }(typename E::registers{});
  } else {
    out[n++] = register_entry<E>();
  }
}

template <class Map, class Entries = typename Map::entries>
struct register_table;
template <class Map, class... Es>
struct register_table<Map, register_list<Es...>> {
  static constexpr std::array<register_info, (std::size_t{0} + ... + placed_count<Es>())> value = [] {
    std::array<register_info, (std::size_t{0} + ... + placed_count<Es>())> table{};
    std::size_t n = 0;
    (add_entries<Map, Es>(table.data(), n), ...);
    return table;
  }();
};
}  // namespace detail

/// The run-time description of Map: every register, bank member and array element.
template <class Map>
inline constexpr map_info info_of{Map::name, Map::size, detail::register_table<Map>::value};

/// "code=0xed minor=0x0 major=0x1": the readable fields of one register value
/// (empty for a register without named fields). Enumerated fields print their
/// enumerator, or `?0x5` for bits that match none.
inline std::string describe(const register_info& r, std::uint64_t value) {
  std::string text;
  if (r.whole || !r.readable()) return text;
  for (const auto& f : r.fields) {
    if (!is_readable(f.access)) continue;
    const std::uint64_t raw = (value >> f.pos) & f.max();
    if (!text.empty()) text += ' ';
    text += f.name;
    text += '=';
    char number[32];
    if (!f.choices.empty()) {
      std::string_view choice_name;
      for (const auto& c : f.choices)
        if (c.value == raw) choice_name = c.name;
      if (!choice_name.empty()) {
        text += choice_name;
        continue;
      }
      text += '?';
    }
    if (f.width == 1 && f.choices.empty())
      std::snprintf(number, sizeof number, "%llu", static_cast<unsigned long long>(raw));
    else
      std::snprintf(number, sizeof number, "0x%llx", static_cast<unsigned long long>(raw));
    text += number;
  }
  return text;
}

/// One parsed `register=value` (field is null: the whole register) or
/// `register.field=value`; `value` is not shifted.
struct assignment {
  /// The register: an entry of the map_info that was parsed against (null only on failure).
  const register_info* target = nullptr;
  /// The field, or null for the whole register.
  const field_info* field = nullptr;
  /// The value to store, as written in the text (not shifted).
  std::uint64_t value = 0;
};

namespace detail {
constexpr bool is_name_start(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
constexpr bool is_name_char(char c) noexcept { return is_name_start(c) || (c >= '0' && c <= '9'); }
constexpr bool is_space(char c) noexcept { return c == ' ' || c == '\t'; }

/// Reads [A-Za-z_][A-Za-z0-9_]* at `pos`; empty if there is none.
constexpr std::string_view take_name(std::string_view text, std::size_t& pos) noexcept {
  const std::size_t begin = pos;
  if (pos < text.size() && is_name_start(text[pos])) {
    while (pos < text.size() && is_name_char(text[pos])) ++pos;
  }
  return text.substr(begin, pos - begin);
}

/// A register path as typed ("txq[ 1 ].tdt" is not one; "txq[0x1].tdt" is), with
/// its indices rewritten in decimal, as the tables spell names: "txq[1].tdt".
/// `last` is where the final component starts (a field name, perhaps). A path
/// longer than any name can be, or with an index past 64 bits, names nothing.
struct canonical_path {
  char text[160];
  std::size_t size = 0;
  std::size_t last = 0;
  bool last_indexed = false;
  bool names_nothing = false;
  std::size_t components = 0;

  std::string_view view() const noexcept { return {text, size}; }
  void add(std::string_view part) noexcept {
    if (part.size() > sizeof text - size) {
      names_nothing = true;
      return;
    }
    for (const char c : part) text[size++] = c;
  }
};

/// Reads name('[' number ']')? ('.' name('[' number ']')?)* at `pos`; false on bad syntax.
inline bool take_path(std::string_view text, std::size_t& pos, canonical_path& path,
                      mmapx::detail::failure& f) noexcept {
  for (;;) {
    const std::string_view name = take_name(text, pos);
    if (name.empty()) return f.fail(errc::parse_error, "parse assignment");
    path.last = path.size;
    path.last_indexed = false;
    ++path.components;
    path.add(name);
    if (pos < text.size() && text[pos] == '[') {
      const std::size_t close = text.find(']', pos);
      if (close == std::string_view::npos) return f.fail(errc::parse_error, "parse assignment");
      std::uint64_t index = 0;
      mmapx::detail::failure index_failure;
      if (!mmapx::detail::parse_unsigned(text.substr(pos + 1, close - pos - 1), index, index_failure, "parse assignment")) {
        if (index_failure.code == errc::parse_error) return f.fail(errc::parse_error, "parse assignment");
        path.names_nothing = true;
      }
      char digits[24];
      std::snprintf(digits, sizeof digits, "[%llu]", static_cast<unsigned long long>(index));
      path.add(digits);
      path.last_indexed = true;
      pos = close + 1;
    }
    if (pos >= text.size() || text[pos] != '.') return true;
    ++pos;
    path.add(".");
  }
}

/// The register and field a path names: the whole path as a register, or all but
/// its last component as a register and the last as one of its fields.
inline bool resolve(const map_info& map, const canonical_path& path, const register_info*& r,
                    const field_info*& field, mmapx::detail::failure& f) noexcept {
  field = nullptr;
  if (path.names_nothing) return f.fail(errc::unknown_name, "parse assignment");
  if (path.components > 1 && !path.last_indexed) {
    r = map.find(path.view().substr(0, path.last - 1));
    if (r != nullptr) field = r->find(path.view().substr(path.last));
    if (field != nullptr) return true;
  }
  r = map.find(path.view());
  if (r == nullptr) return f.fail(errc::unknown_name, "parse assignment");
  return true;
}

inline assignment parse_assignment(const map_info& map, std::string_view text, mmapx::detail::failure& f) noexcept {
  assignment a;
  std::size_t pos = 0;
  while (pos < text.size() && is_space(text[pos])) ++pos;
  canonical_path path;
  if (!take_path(text, pos, path, f)) return a;
  while (pos < text.size() && is_space(text[pos])) ++pos;
  if (pos >= text.size() || text[pos] != '=')
    return f.fail(errc::parse_error, "parse assignment"), a;
  ++pos;
  while (pos < text.size() && is_space(text[pos])) ++pos;
  std::size_t end = text.size();
  while (end > pos && is_space(text[end - 1])) --end;
  const std::string_view value_text = text.substr(pos, end - pos);
  if (value_text.empty()) return f.fail(errc::parse_error, "parse assignment"), a;
  // Syntax first: the value is a name or a number, whatever the target.
  std::uint64_t number = 0;
  mmapx::detail::failure number_failure;
  const bool value_is_name = is_name_start(value_text[0]);
  if (value_is_name) {
    for (const char c : value_text)
      if (!is_name_char(c)) return f.fail(errc::parse_error, "parse assignment"), a;
  } else if (!mmapx::detail::parse_unsigned(value_text, number, number_failure, "parse assignment") && number_failure.code == errc::parse_error) {
    return f.fail(errc::parse_error, "parse assignment"), a;
  }

  const register_info* r = nullptr;
  const field_info* field = nullptr;
  if (!resolve(map, path, r, field, f)) return a;
  if (!r->writable() || (field != nullptr && !is_writable(field->access)))
    return f.fail(errc::access_denied_by_map, "parse assignment"), a;

  std::uint64_t value = number;
  bool by_name = false;
  if (value_is_name) {
    // An enumerator, or true/false for a one-bit field.
    if (field != nullptr) {
      for (const auto& c : field->choices)
        if (c.name == value_text) value = c.value, by_name = true;
      if (!by_name && field->width == 1 && field->choices.empty() &&
          (value_text == "true" || value_text == "false"))
        value = value_text == "true" ? 1 : 0, by_name = true;
    }
    if (!by_name) return f.fail(errc::unknown_name, "parse assignment"), a;
  } else if (number_failure) {
    return f.fail(number_failure.code, "parse assignment"), a;
  }
  const std::uint64_t max = field != nullptr ? field->max() : low_bits(r->bits);
  if (value > max) return f.fail(errc::value_out_of_range, "parse assignment"), a;
  if (!by_name && field != nullptr && !field->choices.empty()) {
    bool known = false;
    for (const auto& c : field->choices) known = known || c.value == value;
    if (!known) return f.fail(errc::unknown_encoding, "parse assignment"), a;
  }
  a.target = r;
  a.field = field;
  a.value = value;
  return a;
}

/// `text` made safe to quote in a message: printable ASCII kept, the rest
/// escaped, long input cut.
inline std::string quoted(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < 120; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    }
  }
  if (text.size() > 120) out += "...";
  return out;
}
}  // namespace detail

/// Parses `register=value` or `register.field=value` (value: decimal, 0x…,
/// 0b…, an enumerator's name, or true/false for a one-bit field) against a
/// map's names. Throws std::system_error naming the text on bad input.
inline assignment parse_assignment(const map_info& map, std::string_view text) {
  mmapx::detail::failure f;
  const assignment a = detail::parse_assignment(map, text, f);
  if (f) throw std::system_error(f.code, "mmapx: parse assignment '" + detail::quoted(text) + "'");
  return a;
}
/// The noexcept form. Errors (both forms): parse_error, unknown_name, access_denied_by_map
/// (read-only target), value_out_of_range, unknown_encoding; the ec form then returns
/// an empty assignment.
inline assignment parse_assignment(const map_info& map, std::string_view text, std::error_code& ec) noexcept {
  return mmapx::detail::reporting(ec, [&](mmapx::detail::failure& f) { return detail::parse_assignment(map, text, f); });
}

}  // namespace mmapx::reg
