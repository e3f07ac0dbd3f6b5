// tests/codegen/pairs.cpp - pairs of functions: lib_<name> uses mmapx::reg,
// hand_<name> is the volatile pointer code a careful driver writer would
// write instead. check_codegen.py compiles this file with every compiler and
// requires each pair's instructions to be identical: zero overhead, shown.
//
// The block is passed by value: it is one pointer, so it arrives in the same
// register as the hand-written side's base pointer. A modify receives its
// field values as arguments, so they are computed before its load; the
// hand-written modifies compute their bits first too (clang keeps that source
// order in the instruction stream, g++ makes the same code either way).
#include "../unit/reg_test_maps.hpp"

#include <mmapx/devices/edu.hpp>
#include <mmapx/devices/uart16550.hpp>
#include <mmapx/reg.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <system_error>

namespace reg = mmapx::reg;
namespace edu = mmapx::edu;
namespace uart = mmapx::uart16550;
// The shared test maps: `demo` has a controller register with rw fields and
// undeclared upper bits (kept by a modify), an interrupt register mixing w1c
// flags with rw and w1s fields and reserved bits, and 64-bit registers on a bus
// that takes only 32-bit accesses; `shapes` has register and block arrays.
namespace demo = regtest;

using edu_block = reg::block<edu::map>;
using demo_block = reg::block<demo::map>;
using uart_block = reg::block<uart::map>;
using shapes_block = reg::block<demo::shapes>;

template <class T>
static volatile T& at(std::byte* base, std::size_t offset) {
  return *reinterpret_cast<volatile T*>(base + offset);
}

extern "C" {

// read register
std::uint32_t lib_read_register(edu_block dev) { return dev.read<edu::factorial>(); }
std::uint32_t hand_read_register(std::byte* base) { return at<std::uint32_t>(base, 0x08); }

// read field
std::uint8_t lib_read_field(edu_block dev) { return dev.read<edu::id::major>(); }
std::uint8_t hand_read_field(std::byte* base) {
  return static_cast<std::uint8_t>(at<std::uint32_t>(base, 0x00) >> 24);
}

// read bool field
bool lib_read_bool(edu_block dev) { return dev.read<edu::status::computing>(); }
bool hand_read_bool(std::byte* base) { return (at<std::uint32_t>(base, 0x20) & 1u) != 0; }

// write register
void lib_write_register(edu_block dev, std::uint32_t v) { dev.write<edu::liveness>(v); }
void hand_write_register(std::byte* base, std::uint32_t v) { at<std::uint32_t>(base, 0x04) = v; }

// write field (store only: the other field is read-only, reset 0)
void lib_write_field(edu_block dev) { dev.write(edu::status::irq_on_done::val<1>); }
void hand_write_field(std::byte* base) { at<std::uint32_t>(base, 0x20) = 0x80; }

// modify one field: one load, one store
void lib_modify_one(demo_block dev, unsigned mode) { dev.modify(demo::ctrl::mode::truncated(mode)); }
void hand_modify_one(std::byte* base, unsigned mode) {
  const std::uint32_t bits = (mode & 7u) << 1;
  at<std::uint32_t>(base, 0x00) = (at<std::uint32_t>(base, 0x00) & ~0xeu) | bits;
}

// modify three fields: still one load, one store
void lib_modify_three(demo_block dev, unsigned mode) {
  dev.modify(demo::ctrl::enable::val<1>, demo::ctrl::mode::truncated(mode), demo::ctrl::rate::val<demo::speed::fast>);
}
void hand_modify_three(std::byte* base, unsigned mode) {
  const std::uint32_t bits = 0x11u | ((mode & 7u) << 1);
  at<std::uint32_t>(base, 0x00) = (at<std::uint32_t>(base, 0x00) & ~0x3fu) | bits;
}

// write-1-to-clear: clear `done` without writing back `error` (w1c) or
// `request`/`kick` (w1s) if they read 1; reserved bits 14..15 written as 0b10
void lib_w1c_clear(demo_block dev) { dev.modify(demo::isr::done::val<1>); }
void hand_w1c_clear(std::byte* base) {
  const std::uint32_t v = at<std::uint32_t>(base, 0x04);
  at<std::uint32_t>(base, 0x04) = (v & ~0xd013u) | 0x8001u;
}

// snapshot decode: one load, several fields
struct ctrl_fields {
  bool enable;
  std::uint8_t mode;
  std::uint8_t prescale;
};
ctrl_fields lib_snapshot(demo_block dev) {
  const auto s = dev.snapshot<demo::ctrl>();
  return {s.get<demo::ctrl::enable>(), s.get<demo::ctrl::mode>(), s.get<demo::ctrl::prescale>()};
}
ctrl_fields hand_snapshot(std::byte* base) {
  const std::uint32_t v = at<std::uint32_t>(base, 0x00);
  return {(v & 1u) != 0, static_cast<std::uint8_t>((v >> 1) & 7u), static_cast<std::uint8_t>(v >> 8)};
}

// 64-bit write split low-high on a 32-bit bus
void lib_split64_write(demo_block dev, std::uint64_t v) { dev.write<demo::limit>(v); }
void hand_split64_write(std::byte* base, std::uint64_t v) {
  at<std::uint32_t>(base, 0x10) = static_cast<std::uint32_t>(v);
  at<std::uint32_t>(base, 0x14) = static_cast<std::uint32_t>(v >> 32);
}

// consistent 64-bit counter read: high, low, high again until stable
std::uint64_t lib_counter_read(demo_block dev) { return dev.read<demo::ticks>(); }
// Drivers keep this loop in a helper (as Linux does); g++ optimises such a
// helper before inlining it, and picks which of the two equal high halves to
// return differently than for the loop written out with constant offsets.
static std::uint64_t hi_lo_hi(std::byte* base, std::size_t offset) {
  std::uint32_t hi = 0;
  std::uint32_t lo = 0;
  do {
    hi = at<std::uint32_t>(base, offset + 4);
    lo = at<std::uint32_t>(base, offset);
  } while (hi != at<std::uint32_t>(base, offset + 4));
  return (std::uint64_t{hi} << 32) | lo;
}
std::uint64_t hand_counter_read(std::byte* base) { return hi_lo_hi(base, 0x18); }

// 64-bit register where the bus takes 64-bit accesses: one load
std::uint64_t lib_read64(edu_block dev) { return dev.read<edu::dma_count>(); }
std::uint64_t hand_read64(std::byte* base) { return at<std::uint64_t>(base, 0x90); }

// wait until a field has a value, with a timeout
void lib_wait_until(edu_block dev, std::error_code& ec) noexcept {
  dev.wait_until(edu::status::computing::val<0>, std::chrono::milliseconds(100), ec);
}
void hand_wait_until(std::byte* base, std::error_code& ec) noexcept {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  for (;;) {
    if ((at<std::uint32_t>(base, 0x20) & 1u) == 0) {
      ec.clear();
      return;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ec = mmapx::make_error_code(mmapx::errc::timed_out);
      return;
    }
  }
}

// enum field write: start a DMA towards RAM with its interrupt, one store
void lib_enum_write(edu_block dev) {
  dev.write(edu::dma_command::start::val<1>, edu::dma_command::direction::val<edu::dma_direction::device_to_ram>,
            edu::dma_command::irq_on_done::val<1>);
}
void hand_enum_write(std::byte* base) { at<std::uint32_t>(base, 0x98) = 0x7; }

// enum field modify
void lib_enum_modify(edu_block dev) {
  dev.modify(edu::dma_command::direction::val<edu::dma_direction::device_to_ram>);
}
void hand_enum_modify(std::byte* base) {
  const std::uint32_t v = at<std::uint32_t>(base, 0x98);
  at<std::uint32_t>(base, 0x98) = v | 0x2u;
}

// aliased registers: offset 0 of the UART reads rbr and writes thr
std::uint8_t lib_alias_read(uart_block dev) { return dev.read<uart::rbr>(); }
std::uint8_t hand_alias_read(std::byte* base) { return at<std::uint8_t>(base, 0); }
void lib_alias_write(uart_block dev, std::uint8_t c) { dev.write<uart::thr>(c); }
void hand_alias_write(std::byte* base, std::uint8_t c) { at<std::uint8_t>(base, 0) = c; }

// banked access: select the divisor latch (lcr.dlab), write it, restore lcr
void lib_bank_divisor(uart_block dev, std::uint16_t divisor) { uart::set_divisor(dev, divisor); }
void hand_bank_divisor(std::byte* base, std::uint16_t divisor) {
  const std::uint8_t lcr = at<std::uint8_t>(base, 3);
  at<std::uint8_t>(base, 3) = static_cast<std::uint8_t>(lcr | 0x80);
  at<std::uint8_t>(base, 0) = static_cast<std::uint8_t>(divisor & 0xff);
  at<std::uint8_t>(base, 1) = static_cast<std::uint8_t>(divisor >> 8);
  at<std::uint8_t>(base, 3) = lcr;
}

// array element at a constant index: ral[3], stride 8 from 0x40
void lib_array_constant(shapes_block dev, std::uint32_t v) { dev.write<demo::ral::at<3>>(v); }
void hand_array_constant(std::byte* base, std::uint32_t v) { at<std::uint32_t>(base, 0x58) = v; }

// array element at a run-time index (the index is the caller's precondition)
void lib_array_runtime(shapes_block dev, std::size_t i, std::uint32_t v) { dev.at<demo::ral>(i).write(v); }
void hand_array_runtime(std::byte* base, std::size_t i, std::uint32_t v) { at<std::uint32_t>(base, 0x40 + i * 8) = v; }

// a register of copy i of a block array: q[i].tdh, copies 0x20 apart from 0x80
std::uint32_t lib_block_array_runtime(shapes_block dev, std::size_t i) { return dev.at<demo::queues>(i).read<demo::tdh>(); }
std::uint32_t hand_block_array_runtime(std::byte* base, std::size_t i) { return at<std::uint32_t>(base, 0x80 + i * 0x20); }

// shadowed modify of the write-only fcr: no load; enable kept, FIFO clears not repeated
void lib_shadow_modify(uart_block dev, reg::shadow<uart::fcr>& fcr) {
  dev.modify(fcr, uart::fcr::trigger::val<uart::rx_trigger::four>);
}
void hand_shadow_modify(std::byte* base, std::uint8_t& fcr) {
  const auto v = static_cast<std::uint8_t>((fcr & 0x39) | 0x40);
  at<std::uint8_t>(base, 2) = v;
  fcr = v;
}

}  // extern "C"
