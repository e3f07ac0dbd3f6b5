// mmapx/reg/fixed_name.hpp - a string literal usable as a template argument.
//
// Register and field names are part of a map's type, so that the run-time
// name tables, dumps and error messages come from the same declaration as the
// layout and can never drift from it.
#pragma once

#include <cstddef>
#include <string_view>

namespace mmapx::reg {

/// A string literal held by value, so it can be a template argument; N counts
/// the terminating NUL and is deduced from the literal.
template <std::size_t N>
struct fixed_name {
  /// The literal's characters, NUL included.
  char text[N]{};  // public: a structural type, usable as a template argument

  /// Implicit, so that a literal can be written wherever a fixed_name is expected.
  constexpr fixed_name(const char (&literal)[N]) noexcept {  // NOLINT: implicit on purpose
    for (std::size_t i = 0; i < N; ++i) text[i] = literal[i];
  }
  /// The text without its terminating NUL.
  constexpr std::string_view view() const noexcept { return {text, N - 1}; }
  /// NUL-terminated, with static storage when the object is a template argument.
  constexpr const char* c_str() const noexcept { return text; }
};

}  // namespace mmapx::reg
