// expect-success
// Every use the other cases get wrong, done right: this must compile.
#include "reg_maps.hpp"

#include <chrono>
#include <span>
#include <system_error>

int main() {
  using namespace cf;
  auto dev = reg::bind<map>(std::span<std::byte>(memory));
  dev.write(ctrl::enable::val<1>, ctrl::kick::val<true>, ctrl::tint::val<colour::green>);
  dev.modify(ctrl::enable::val<0>);
  dev.write(fifo::data::val<0xff>);  // a write never reads, so side effects do not matter
  std::uint32_t level = dev.read<fifo::level>();  // an explicit read is the caller's choice
  const auto s = dev.snapshot<ctrl>();
  const bool on = s.get<ctrl::enable>();
  const auto tint = s.get<ctrl::tint>();
  dev.write<ctrl>(std::uint32_t{level});
  dev.write<ctrl>(std::uint8_t{1});
  std::error_code ec;
  dev.wait_until(ctrl::enable::val<1>, std::chrono::milliseconds(1), ec);
  auto edu_dev = reg::bind<mmapx::edu::map>(std::span<const std::byte>(memory), ec);  // read-only view
  const std::uint32_t id = edu_dev.read<mmapx::edu::id>();
  return static_cast<int>(on) + static_cast<int>(tint.has_value()) + static_cast<int>(id);
}
