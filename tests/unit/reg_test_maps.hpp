// tests/unit/reg_test_maps.hpp - the one set of register maps that the reg
// tests share (unit, compile_fail, codegen, fuzz): one of every field kind,
// 64-bit registers on 32-bit and 64-bit buses, and every shape of map entry
// (aliases, banks, register arrays, block arrays). Only maps: no test framework.
#pragma once

#include <mmapx/reg.hpp>
#include <mmapx/reg/recording_bus.hpp>

#include <cstddef>
#include <cstdint>

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
/// (write 1 to kick, 0 does nothing: w1s) and reserved bits that must be written as 0b10.
struct isr : reg::reg32<"isr", 0x04, reg::rw, 0x00000100> {
  using done    = reg::field<"done",    0, 1, reg::w1c>;
  using error   = reg::field<"error",   1, 1, reg::w1c>;
  using request = reg::field<"request", 4, 1, reg::w1s>;
  using mask    = reg::field<"mask",    8, 4>;
  using kick    = reg::field<"kick",    12, 1, reg::w1s>;
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

/// A device with every shape of issue 14: an aliased pair (data_in/data_out), a
/// page-select register whose two banks replace `normal` at 0x24, interleaved
/// register arrays (ral/rah, as Intel's e1000), and an array of queue blocks.
struct sel : reg::reg32<"sel", 0x1c, reg::rw, 0> {
  using page  = field<"page",  0, 2>;
  using other = field<"other", 8, 4>;
  using fields = reg::fields<page, other>;
};
struct data_in : reg::reg32<"data_in", 0x20, reg::ro, 0, reg::reads_have_side_effects> {};
struct data_out : reg::reg32<"data_out", 0x20, reg::wo, 0> {};
/// A command register: reading it pops a completion (side effect); `go` is write-only.
struct cmd : reg::reg32<"cmd", 0x2c, reg::rw, 0, reg::reads_have_side_effects> {
  using go    = field<"go",    0, 1, reg::wo>;
  using state = field<"state", 4, 4, reg::ro>;
  using arg   = field<"arg",   8, 8>;
  using fields = reg::fields<go, state, arg>;
};
struct normal : reg::reg32<"normal", 0x24, reg::rw, 0> {};
struct page1_a : reg::reg32<"page1_a", 0x24, reg::rw, 0> {};
struct page1_b : reg::reg32<"page1_b", 0x28, reg::rw, 0> {};
struct page2_a : reg::reg32<"page2_a", 0x24, reg::ro, 0> {};
using page1 = reg::bank<"page1", sel::page::val<1>, page1_a, page1_b>;
using page2 = reg::bank<"page2", sel::page::val<2>, page2_a>;
struct ral_reg : reg::reg32<"ral", 0x40, reg::rw, 0> {};
struct rah_reg : reg::reg32<"rah", 0x44, reg::rw, 0> {
  using high = field<"high", 0, 16>;
  using valid = field<"valid", 31, 1>;
  using fields = reg::fields<high, valid>;
};
using ral = reg::array<ral_reg, 4, 8>;
using rah = reg::array<rah_reg, 4, 8>;
struct tdh : reg::reg32<"tdh", 0x0, reg::ro, 0> {};
struct tdt : reg::reg32<"tdt", 0x4, reg::rw, 0> {};
struct tctl : reg::reg32<"tctl", 0x8, reg::rw, 0> {
  using enable = field<"enable", 0, 1>;
  using mode = field<"mode", 4, 2>;
  using fields = reg::fields<enable, mode>;
};
using queue = reg::map<"q", 0x10, reg::contract{reg::w32}, tdh, tdt, tctl>;
using queues = reg::block_array<queue, 0x80, 3, 0x20>;
using shapes = reg::map<"shapes", 0x100, reg::contract{reg::w32}, sel, data_in, data_out, cmd, normal, page1, page2,
                        ral, rah, queues>;

/// Memory to bind the maps to where no access happens (compile_fail, codegen).
inline std::byte memory alignas(8)[0x100];
}  // namespace regtest
