// mmapx/number.hpp - reading an unsigned number as mmapx writes them
// everywhere: in register assignments ("ctrl.mode = 0x3"), in sysfs
// attributes, on the command lines of its tools.
//
//   const std::uint64_t address = mmapx::parse_number("0xfeb00000");
//
// Decimal, 0x hexadecimal or 0b binary, all 64 bits, nothing else: no sign,
// no spaces, no octal (a leading 0 is still decimal, so "010" is ten).
#pragma once

#include <cstdint>
#include <string_view>
#include <system_error>

#include "detail/posix.hpp"
#include "error.hpp"

namespace mmapx {

/// Parses all of `text` as an unsigned 64-bit number (decimal, 0x/0X
/// hexadecimal, 0b/0B binary). Errors: errc::parse_error for empty text, a
/// sign, a space or any other character; errc::value_out_of_range for a
/// number above 2^64 - 1.
inline std::uint64_t parse_number(std::string_view text) {
  return detail::throwing([&](detail::failure& f) {
    std::uint64_t value = 0;
    detail::parse_unsigned(text, value, f, "parse number");
    return value;
  });
}
/// The noexcept form: 0 and the error in `ec` on failure.
inline std::uint64_t parse_number(std::string_view text, std::error_code& ec) noexcept {
  return detail::reporting(ec, [&](detail::failure& f) {
    std::uint64_t value = 0;
    detail::parse_unsigned(text, value, f, "parse number");
    return value;
  });
}

}  // namespace mmapx
