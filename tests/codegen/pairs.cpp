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
#include <mmapx/devices/edu.hpp>
#include <mmapx/reg.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <system_error>

namespace reg = mmapx::reg;
namespace edu = mmapx::edu;

namespace demo {
// A controller register with rw fields and undeclared upper bits (kept by a
// modify), an interrupt register mixing w1c flags with an rw enable, and
// 64-bit registers on a bus that takes only 32-bit accesses.
struct ctrl : reg::reg32<"ctrl", 0x00, reg::rw, 0> {
  using enable   = reg::field<"enable",   0, 1>;
  using mode     = reg::field<"mode",     1, 3>;
  using speed    = reg::field<"speed",    4, 4>;
  using prescale = reg::field<"prescale", 8, 8>;
  using fields = reg::fields<enable, mode, speed, prescale>;
};
struct isr : reg::reg32<"isr", 0x04, reg::rw, 0> {
  using done       = reg::field<"done",       0, 1, reg::w1c>;
  using error      = reg::field<"error",      1, 1, reg::w1c>;
  using irq_enable = reg::field<"irq_enable", 8, 1, reg::rw>;
  using fields = reg::fields<done, error, irq_enable>;
};
using limit = reg::reg64<"limit", 0x08, reg::rw, 0>;
using ticks = reg::reg64<"ticks", 0x10, reg::ro, 0, reg::counter>;
using map = reg::map<"demo", 0x100, reg::contract{reg::w32, reg::lo_hi}, ctrl, isr, limit, ticks>;
}  // namespace demo

using edu_block = reg::block<edu::map>;
using demo_block = reg::block<demo::map>;

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
  dev.modify(demo::ctrl::enable::val<1>, demo::ctrl::mode::truncated(mode), demo::ctrl::speed::val<5>);
}
void hand_modify_three(std::byte* base, unsigned mode) {
  const std::uint32_t bits = 0x51u | ((mode & 7u) << 1);
  at<std::uint32_t>(base, 0x00) = (at<std::uint32_t>(base, 0x00) & ~0xffu) | bits;
}

// write-1-to-clear: clear `done` without writing back `error` if it reads 1
void lib_w1c_clear(demo_block dev) { dev.modify(demo::isr::done::val<1>); }
void hand_w1c_clear(std::byte* base) {
  const std::uint32_t v = at<std::uint32_t>(base, 0x04);
  at<std::uint32_t>(base, 0x04) = (v & ~0x3u) | 0x1u;
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
  at<std::uint32_t>(base, 0x08) = static_cast<std::uint32_t>(v);
  at<std::uint32_t>(base, 0x0c) = static_cast<std::uint32_t>(v >> 32);
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
std::uint64_t hand_counter_read(std::byte* base) { return hi_lo_hi(base, 0x10); }

// 64-bit register where the bus takes 64-bit accesses: one load
std::uint64_t lib_read64(edu_block dev) { return dev.read<edu::dma_count>(); }
std::uint64_t hand_read64(std::byte* base) { return at<std::uint64_t>(base, 0x90); }

// wait until a field has a value, with a timeout
void lib_wait_until(edu_block dev, std::error_code& ec) noexcept {
  dev.wait_until(edu::status::computing::val<0>, std::chrono::milliseconds(100), ec);
}
// Drivers keep a wait in a helper that takes the timeout (as Linux's
// readl_poll_timeout does). This one follows mmapx's timeout rule: a
// negative timeout, or one too long for the clock, has no end.
static void wait_computing(std::byte* base, std::uint32_t value, std::chrono::nanoseconds timeout,
                           std::error_code& ec) noexcept {
  using seconds = std::chrono::duration<double>;
  const bool no_end = timeout < timeout.zero() || seconds(timeout) > seconds(std::chrono::hours(24 * 365 * 146));
  const auto deadline =
      no_end ? std::chrono::steady_clock::time_point::max() : std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if ((at<std::uint32_t>(base, 0x20) & 1u) == value) {
      ec.clear();
      return;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ec = mmapx::make_error_code(mmapx::errc::timed_out);
      return;
    }
  }
}
void hand_wait_until(std::byte* base, std::error_code& ec) noexcept {
  wait_computing(base, 0, std::chrono::milliseconds(100), ec);
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

}  // extern "C"
