// expect-success
// Every use the other cases get wrong, done right: this must compile.
#include "reg_maps.hpp"

#include <chrono>
#include <span>
#include <system_error>

int main() {
  using namespace cf;
  auto dev = reg::bind<map>(std::span<std::byte>(memory));
  dev.write(ctrl::enable::val<1>, ctrl::rate::val<speed::fast>);
  dev.modify(ctrl::enable::val<0>);
  dev.write<isr>(isr::mask::val<1>);
  std::uint32_t count = dev.read<rx::count>();  // an explicit read is the caller's choice
  const auto s = dev.snapshot<ctrl>();
  const bool on = s.get<ctrl::enable>();
  const auto rate = s.get<ctrl::rate>();
  dev.write<ctrl>(std::uint32_t{count});
  dev.write<ctrl>(std::uint8_t{1});
  dev.write<tx>(0xff);  // a constant that fits needs no cast
  std::error_code ec;
  dev.wait_until(ctrl::enable::val<1>, std::chrono::milliseconds(1), ec);
  auto edu_dev = reg::bind<mmapx::edu::map>(std::span<const std::byte>(memory), ec);  // read-only view
  const std::uint32_t id = edu_dev.read<mmapx::edu::id>();

  // Aliases, banks, arrays, shadows: the right ways.
  auto u = reg::bind<uart::map>(memory, 8);
  u.write<uart::thr>(0x41);
  const std::uint8_t byte = u.read<uart::rbr>();
  {
    const auto latch = u.bank<uart::divisor_latch>();
    latch.write<uart::dll>(12);
    latch.write<uart::dlm>(uart::dlm::value::val<0>);
    (void)latch.read<uart::lcr>();  // not hidden by the bank
  }
  reg::shadow<uart::fcr> fcr;
  u.write(fcr, uart::fcr::enable::val<1>);
  u.modify(fcr, uart::fcr::trigger::val<uart::rx_trigger::four>);
  u.modify(uart::fcr::enable::val<1>, uart::fcr::dma_mode::val<0>, uart::fcr::trigger::val<uart::rx_trigger::one>);
  auto sh = reg::bind<shapes>(memory, 0x100);
  sh.write<ral::at<3>>(1u);
  sh.at<rah>(count % rah::count).write(rah_reg::valid::val<1>);
  sh.checked_at<ral>(count, ec).write(2u);
  sh.at<queues, 2>().write<tdt>(3u);
  sh.write(cmd::go::val<1>, cmd::arg::val<2>);  // a write never reads, so side effects do not matter
  return static_cast<int>(on) + static_cast<int>(rate.has_value()) + static_cast<int>(id) + byte;
}
