// tests/unit/reg_test_maps.hpp - register maps for the reg unit tests: one
// of every field kind, 64-bit registers on 32-bit and 64-bit buses, and a
// Catch printer for the recording bus's log.
#pragma once

#include "catch.hpp"

#include <mmapx/reg.hpp>

#include <cstdint>
#include <string>

namespace regtest {
namespace reg = mmapx::reg;

enum class speed : std::uint8_t { slow = 0, fast = 1, turbo = 3 };  // 2 is not an encoding

/// Bits 16..31 are undeclared: a modify keeps them, a write stores reset.
struct ctrl : reg::reg32<"ctrl", 0x00, reg::rw, 0x00a50000> {
  using enable   = reg::field<"enable",   0, 1>;
  using mode     = reg::field<"mode",     1, 3>;
  using rate     = reg::field<"rate",     4, 2, reg::rw,
      reg::enumerated<reg::choice<speed::slow, "slow">, reg::choice<speed::fast, "fast">,
                      reg::choice<speed::turbo, "turbo">>>;
  using busy     = reg::field<"busy",     6, 1, reg::ro>;
  using prescale = reg::field<"prescale", 8, 8>;
  using fields = reg::fields<enable, mode, rate, busy, prescale>;
};
/// Interrupt flags (w1c), a software-set request (w1s), an rw mask, a strobe
/// (wo) and reserved bits that must be written as 0b10.
struct isr : reg::reg32<"isr", 0x04, reg::rw, 0x00000100> {
  using done    = reg::field<"done",    0, 1, reg::w1c>;
  using error   = reg::field<"error",   1, 1, reg::w1c>;
  using request = reg::field<"request", 4, 1, reg::w1s>;
  using mask    = reg::field<"mask",    8, 4>;
  using kick    = reg::field<"kick",    12, 1, reg::wo>;
  using fields = reg::fields<done, error, request, mask, kick, reg::reserved<14, 2, 0b10>>;
};
/// Reading pops a byte: never read behind the caller's back.
struct rx : reg::reg32<"rx", 0x08, reg::ro, 0> {
  using data  = reg::field<"data",  0, 8, reg::rc>;
  using count = reg::field<"count", 8, 8, reg::ro>;
  using fields = reg::fields<data, count>;
};
using tx = reg::reg8<"tx", 0x0c, reg::wo, 0>;
using limit = reg::reg64<"limit", 0x10, reg::rw, 0>;
using ticks = reg::reg64<"ticks", 0x18, reg::ro, 0, reg::counter>;

template <reg::split_order Order>
using map_on = reg::map<"dev", 0x40, reg::contract{reg::w8 | reg::w32, Order}, ctrl, isr, rx, tx, limit, ticks>;
using map = map_on<reg::lo_hi>;
using map64 = reg::map<"dev64", 0x40, reg::contract{}, ctrl, isr, rx, tx, limit, ticks>;

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
