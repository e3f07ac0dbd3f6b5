// mmapx/reg/names.hpp - a map's names at run time: constexpr tables of
// registers and fields, a formatter that decodes a register value, and a
// parser for `register.field=value` with the checks the compiler applies to
// the typed calls (unknown name, value too large, read-only target).
//
// The tables are made from the map's types, so a dump or a command line can
// never disagree with the typed declaration. The parser reads untrusted text
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
  std::string_view name;
  const char* c_name;
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

/// One register at run time (see basic_register and layout for the members).
struct register_info {
  /// The declared name; c_name is the same text, NUL-terminated, with static storage.
  std::string_view name;
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
  std::uint64_t keep;   ///< see layout<R>::keep
  std::uint64_t fixed;  ///< see layout<R>::fixed
  /// Its fields in declaration order; only `value` when whole.
  std::span<const field_info> fields;

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

template <class R>
constexpr register_info register_entry() noexcept {
  using L = layout<R>;
  return {R::name,  R::c_name,  R::offset, R::bits,  R::access, L::read_side_effects,
          R::is_counter, std::is_same_v<typename R::fields, fields<typename R::value>>,
          R::reset, L::keep, L::fixed, field_table<R>::value};
}

template <class List>
struct register_table;
template <class... Rs>
struct register_table<register_list<Rs...>> {
  static constexpr std::array<register_info, sizeof...(Rs)> value{register_entry<Rs>()...};
};
}  // namespace detail

/// The run-time description of Map.
template <class Map>
inline constexpr map_info info_of{Map::name, Map::size, detail::register_table<typename Map::registers>::value};

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

inline assignment parse_assignment(const map_info& map, std::string_view text, mmapx::detail::failure& f) noexcept {
  assignment a;
  std::size_t pos = 0;
  while (pos < text.size() && is_space(text[pos])) ++pos;
  const std::string_view register_name = take_name(text, pos);
  std::string_view field_name;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    field_name = take_name(text, pos);
    if (field_name.empty()) return f.fail(errc::parse_error, "parse assignment"), a;
  }
  while (pos < text.size() && is_space(text[pos])) ++pos;
  if (register_name.empty() || pos >= text.size() || text[pos] != '=')
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

  const register_info* r = map.find(register_name);
  if (r == nullptr) return f.fail(errc::unknown_name, "parse assignment"), a;
  const field_info* field = nullptr;
  if (!field_name.empty()) {
    field = r->find(field_name);
    if (field == nullptr) return f.fail(errc::unknown_name, "parse assignment"), a;
  }
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
