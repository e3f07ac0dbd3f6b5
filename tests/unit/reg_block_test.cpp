// Register blocks on the recording bus and on plain memory: the exact
// accesses each call makes, the values it writes, and the checks it makes.
#include "reg_test_catch.hpp"

#include <mmapx/anonymous.hpp>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <span>
#include <system_error>
#include <vector>

using namespace regtest;
using Log = std::vector<reg::access_record>;

TEST_CASE("reads: register, field, bool, enum and snapshot", "[reg]") {
  reg::recorder rec;
  auto dev = reg::bind<map>(rec);
  rec.replies = {0x12345678, 0x00000f5b, 0x40, 0x20, 0x30, 0x00ab1234};

  CHECK(dev.read<ctrl>() == 0x12345678u);
  CHECK(dev.read<ctrl::prescale>() == 0x0f);
  CHECK(dev.read<ctrl::busy>() == true);
  CHECK_FALSE(dev.read<ctrl::rate>().has_value());  // 2 is no encoding: reported, not invented
  CHECK(dev.read<ctrl::rate>() == speed::turbo);
  const auto s = dev.snapshot<ctrl>();
  CHECK(s.raw() == 0x00ab1234u);
  CHECK(s.get<ctrl::enable>() == false);
  CHECK(s.get<ctrl::mode>() == 2);
  CHECK(s.get<ctrl::rate>() == speed::turbo);
  CHECK(s.get<ctrl::prescale>() == 0x12);
  CHECK(s.is(ctrl::mode::val<2>));
  CHECK_FALSE(s.is(ctrl::mode::val<3>));
  CHECK(s.describe() == "enable=0 mode=0x2 rate=turbo busy=0 prescale=0x12");
  CHECK(rec.log == Log{rd(0, 32, 0x12345678), rd(0, 32, 0xf5b), rd(0, 32, 0x40), rd(0, 32, 0x20),
                       rd(0, 32, 0x30), rd(0, 32, 0x00ab1234)});
}

TEST_CASE("write: one store, unnamed fields take reset or leave-unchanged values", "[reg]") {
  reg::recorder rec;
  auto dev = reg::bind<map>(rec);
  dev.write(ctrl::mode::val<5>, ctrl::rate::val<speed::fast>);
  // reset 0x00a50000 kept in the undeclared bits; mode=5 -> 0xa, rate=1 -> 0x10
  dev.write<ctrl>();
  dev.write(isr::mask::val<3>);
  // isr: w1c and w1s take 0, kick (wo) its reset 0, reserved bits 14..15 = 0b10
  dev.write<ctrl>(0xdeadbeefu);
  dev.write<tx>(std::uint8_t{0x41});
  CHECK(rec.log == Log{wr(0, 32, 0x00a5001a), wr(0, 32, 0x00a50000), wr(4, 32, 0x8300), wr(0, 32, 0xdeadbeef),
                       wr(0xc, 8, 0x41)});
  CHECK(rec.reads() == 0);
}

TEST_CASE("modify: one load and one store, whatever the number of fields", "[reg]") {
  reg::recorder rec;
  auto dev = reg::bind<map>(rec);
  rec.replies = {0xffffffff, 0x12345678};
  dev.modify(ctrl::mode::val<0>);
  dev.modify(ctrl::enable::val<1>, ctrl::mode::val<7>, ctrl::prescale::val<0>);
  CHECK(rec.log == Log{rd(0, 32, 0xffffffff), wr(0, 32, 0xfffffff1), rd(0, 32, 0x12345678),
                       wr(0, 32, 0x1234007f)});
}

TEST_CASE("modify: w1c flags that read as 1 are not written back", "[reg]") {
  reg::recorder rec;
  auto dev = reg::bind<map>(rec);
  // Both flags pending, request set, mask 0xf, reserved as the device shows them.
  rec.replies = {0x0000bf13, 0x0000bf13};
  dev.modify(isr::mask::val<0>);  // must not clear done/error, nor re-set request
  dev.modify(isr::done::val<1>);  // clears done only
  // Kept: mask and the undeclared bit 13; reserved written as 0b10; kick (wo) as its reset 0.
  CHECK(rec.log == Log{rd(4, 32, 0xbf13), wr(4, 32, 0xa000), rd(4, 32, 0xbf13), wr(4, 32, 0xaf01)});
}

TEST_CASE("modify: no load when the named fields leave nothing to keep", "[reg]") {
  reg::recorder rec;
  auto dev = reg::bind<map>(rec);
  using full = reg::reg16<"full", 0x20, reg::rw, 0, reg::field<"lo", 0, 8>, reg::field<"hi", 8, 8>>;
  using lo = reg::field<"lo", 0, 8>;
  using hi = reg::field<"hi", 8, 8>;
  using full_map = reg::map<"full", 0x40, reg::contract{}, full>;
  auto f = reg::bind<full_map>(rec);
  f.modify(lo::val<0x12>, hi::val<0x34>);
  f.modify(lo::val<0x56>);
  CHECK(rec.log == Log{wr(0x20, 16, 0x3412), rd(0x20, 16, 0), wr(0x20, 16, 0x0056)});
  rec.clear();
  // isr: done, error, request, kick are not kept; mask is. Naming mask covers it.
  dev.modify(isr::mask::val<1>, isr::done::val<1>);
  CHECK(rec.log == Log{rd(4, 32, 0), wr(4, 32, 0x8101)});  // undeclared bits are kept: a load
}

TEST_CASE("run-time values: checked form reports, truncated form says so", "[reg]") {
  reg::recorder rec;
  auto dev = reg::bind<map>(rec);
  dev.write(ctrl::prescale::checked(0xffu));
  CHECK_THROWS_AS(ctrl::prescale::checked(0x100u), std::system_error);
  try {
    (void)ctrl::mode::checked(8);
  } catch (const std::system_error& e) {
    CHECK(e.code() == mmapx::errc::value_out_of_range);
    CHECK(std::string(e.what()).find("'mode'") != std::string::npos);
  }
  std::error_code ec;
  const auto v = ctrl::mode::checked(9, ec);
  CHECK(ec == mmapx::errc::value_out_of_range);
  CHECK(v.bits == 0);
  (void)ctrl::rate::checked(2, ec);
  CHECK(ec == mmapx::errc::unknown_encoding);
  CHECK(ctrl::rate::checked(speed::fast, ec).bits == 0x10);
  CHECK_FALSE(ec);
  CHECK(ctrl::rate::checked(static_cast<speed>(2), ec).bits == 0);
  CHECK(ec == mmapx::errc::unknown_encoding);
  dev.write(ctrl::mode::truncated(0xfu));
  CHECK(rec.log == Log{wr(0, 32, 0x00a5ff00), wr(0, 32, 0x00a5000e)});
}

TEST_CASE("64-bit registers split in the order the contract says", "[reg]") {
  reg::recorder rec;
  auto lohi = reg::bind<map_on<reg::lo_hi>>(rec);
  auto hilo = reg::bind<map_on<reg::hi_lo>>(rec);
  auto wide = reg::bind<map64>(rec);
  lohi.write<limit>(std::uint64_t{0x1122334455667788});
  hilo.write<limit>(std::uint64_t{0x1122334455667788});
  wide.write<limit>(std::uint64_t{0x1122334455667788});
  CHECK(rec.log == Log{wr(0x10, 32, 0x55667788), wr(0x14, 32, 0x11223344), wr(0x14, 32, 0x11223344),
                       wr(0x10, 32, 0x55667788), wr(0x10, 64, 0x1122334455667788)});
  rec.clear();
  rec.replies = {0x55667788, 0x11223344, 0x11223344, 0x55667788};
  CHECK(lohi.read<limit>() == 0x1122334455667788u);
  CHECK(hilo.read<limit>() == 0x1122334455667788u);
  CHECK(rec.log == Log{rd(0x10, 32, 0x55667788), rd(0x14, 32, 0x11223344), rd(0x14, 32, 0x11223344),
                       rd(0x10, 32, 0x55667788)});
}

TEST_CASE("a counter is read high-low-high until the high half is stable", "[reg]") {
  reg::recorder rec;
  auto dev = reg::bind<map>(rec);
  // The low half wrapped between the reads: the first pair is inconsistent.
  rec.replies = {0x00000001, 0x00000000, 0x00000002, 0x00000002, 0x00000005, 0x00000002};
  CHECK(dev.read<ticks>() == 0x0000000200000005u);
  CHECK(rec.log == Log{rd(0x1c, 32, 1), rd(0x18, 32, 0), rd(0x1c, 32, 2), rd(0x1c, 32, 2), rd(0x18, 32, 5),
                       rd(0x1c, 32, 2)});
}

TEST_CASE("wait_until: returns at once when the field matches, times out otherwise", "[reg]") {
  reg::recorder rec;
  auto dev = reg::bind<map>(rec);
  int polls = 0;
  rec.on_read = [&](std::size_t, unsigned) -> std::uint64_t { return ++polls < 3 ? 0x40 : 0; };
  std::error_code ec = make_error_code(mmapx::errc::parse_error);
  dev.wait_until(ctrl::busy::val<0>, std::chrono::hours(1), ec);
  CHECK_FALSE(ec);
  CHECK(polls == 3);

  rec.on_read = [](std::size_t, unsigned) -> std::uint64_t { return 0x40; };
  dev.wait_until(ctrl::busy::val<0>, std::chrono::nanoseconds(0), ec);
  CHECK(ec == mmapx::errc::timed_out);
  CHECK(ec == std::errc::timed_out);
  try {
    dev.wait_until(ctrl::busy::val<0>, std::chrono::microseconds(10));
    FAIL("wait_until did not throw");
  } catch (const std::system_error& e) {
    CHECK(e.code() == mmapx::errc::timed_out);
    CHECK(std::string(e.what()) == "mmapx: wait_until 'ctrl.busy': timed out");
  }
}

TEST_CASE("binding plain memory: checks the fit and the alignment once", "[reg]") {
  // malloc'd memory: suitably aligned, and it implicitly creates the
  // integers the registers are accessed as.
  std::unique_ptr<void, decltype(&std::free)> memory(std::malloc(0x80), &std::free);
  REQUIRE(memory);
  auto* bytes = static_cast<std::byte*>(memory.get());

  std::error_code ec;
  CHECK(map::extent == 0x20);  // the last register, ticks, ends there
  auto exact = reg::bind<map>(std::span<std::byte>(bytes, 0x20), ec);
  CHECK_FALSE(ec);
  CHECK(exact.bus().base() == bytes);
  CHECK(map::alignment == 8);
  auto small = reg::bind<map>(std::span<std::byte>(bytes, map::extent - 1), ec);
  CHECK(ec == mmapx::errc::view_too_large);
  auto skewed = reg::bind<map>(std::span<std::byte>(bytes + 4, 0x40), ec);
  CHECK(ec == mmapx::errc::view_misaligned);
  (void)small;
  (void)skewed;
  CHECK_THROWS_AS(reg::bind<map>(nullptr, 0x40), std::system_error);
  try {
    (void)reg::bind<map>(bytes, 8);
  } catch (const std::system_error& e) {
    CHECK(e.code() == mmapx::errc::view_too_large);
    CHECK(std::string(e.what()).rfind("mmapx: bind register map 'dev' at 0x", 0) == 0);
  }

  // Two instances of one map at two bases.
  auto first = reg::bind<map64>(std::span<std::byte>(bytes, 0x40));
  auto second = reg::bind<map64>(bytes + 0x40, 0x40);
  first.write<ctrl>(0x11u);
  second.write<ctrl>(0x22u);
  first.write<limit>(std::uint64_t{0x0123456789abcdef});
  CHECK(first.read<ctrl>() == 0x11u);
  CHECK(second.read<ctrl>() == 0x22u);
  CHECK(first.read<limit>() == 0x0123456789abcdefu);
  second.modify(ctrl::enable::val<0>, ctrl::mode::val<3>);
  CHECK(second.read<ctrl>() == 0x26u);
}

TEST_CASE("binding a region: its bytes, or a part of them", "[reg]") {
  auto region = mmapx::map_anonymous(4096);
  auto dev = reg::bind<map64>(region.bytes());
  dev.write<isr>(0xabcdu);
  auto part = reg::bind<map64>(region.bytes().subspan(0x40));
  part.write<isr>(0x1234u);
  CHECK(dev.read<isr>() == 0xabcdu);
  CHECK(part.read<isr>() == 0x1234u);
  CHECK(std::to_integer<unsigned>(region.bytes()[0x44]) == 0x34);
  const auto& view = region;
  auto read_only = reg::bind<map64>(view.bytes());  // a block that cannot write (compile_fail checks)
  CHECK(read_only.read<isr>() == 0xabcdu);
  std::error_code ec;
  (void)reg::bind<map64>(region.bytes().subspan(4080), ec);
  CHECK(ec == mmapx::errc::view_too_large);
}
