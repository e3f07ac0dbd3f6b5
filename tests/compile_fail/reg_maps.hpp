// tests/compile_fail/reg_maps.hpp - small register maps shared by the
// compile_fail cases; each case then commits exactly one mistake.
#pragma once

#include <mmapx/devices/edu.hpp>
#include <mmapx/reg.hpp>

#include <cstddef>
#include <cstdint>

namespace cf {
namespace reg = mmapx::reg;

enum class colour : std::uint8_t { red = 0, green = 1 };
enum class shape : std::uint8_t { round = 0, square = 1 };

struct fifo : reg::reg32<"fifo", 0x00, reg::rw, 0, reg::reads_have_side_effects> {
  using data = reg::field<"data", 0, 8>;
  using level = reg::field<"level", 8, 8, reg::ro>;
  using fields = reg::fields<data, level>;
};
struct ctrl : reg::reg32<"ctrl", 0x04, reg::rw, 0> {
  using enable = reg::field<"enable", 0, 1>;
  using kick = reg::field<"kick", 1, 1, reg::wo>;
  using tint = reg::field<"tint", 2, 1, reg::rw,
      reg::enumerated<reg::choice<colour::red, "red">, reg::choice<colour::green, "green">>>;
  using fields = reg::fields<enable, kick, tint>;
};
using map = reg::map<"cf", 0x10, reg::contract{}, fifo, ctrl>;

inline std::byte memory alignas(8)[0x10];
}  // namespace cf
