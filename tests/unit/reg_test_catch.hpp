// tests/unit/reg_test_catch.hpp - the shared test maps with what the Catch
// unit tests add: short spellings of expected accesses and a printer for the
// recording bus's log in failure messages.
#pragma once

#include "catch.hpp"
#include "reg_test_maps.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace regtest {
inline reg::access_record rd(std::size_t offset, unsigned bits, std::uint64_t value) {
  return reg::read_of(offset, bits, value);
}
inline reg::access_record wr(std::size_t offset, unsigned bits, std::uint64_t value) {
  return reg::write_of(offset, bits, value);
}
}  // namespace regtest

template <>
struct Catch::StringMaker<mmapx::reg::access_record> {
  static std::string convert(const mmapx::reg::access_record& a) { return mmapx::reg::to_string(a); }
};
