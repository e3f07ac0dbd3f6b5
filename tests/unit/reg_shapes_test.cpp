// Aliased, banked and repeated registers, shadows of write-only registers,
// fields that belong to their register, and raw constants (issue 14), on the
// recording bus: the exact accesses each call makes.
#include "reg_test_catch.hpp"

#include <chrono>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

using namespace regtest;
using Log = std::vector<reg::access_record>;

// A field declared inside a register belongs to it: the same text in two
// registers gives two types, and neither register accepts the other's.
static_assert(!std::is_same_v<page1_a::value, normal::value>);
static_assert(!reg::layout<normal>::has<page1_a::value>);
static_assert(reg::layout<rah_reg>::has<rah_reg::valid>);
static_assert(reg::layout<rah::at<2>>::has<rah_reg::valid>);  // elements keep their register's fields

TEST_CASE("aliases: one offset, reads reach the readable register, writes the writable one", "[reg][shapes]") {
  reg::recorder rec;
  rec.replies = {0x11};
  auto dev = reg::bind<shapes>(rec);
  dev.write<data_out>(0x41u);
  CHECK(dev.read<data_in>() == 0x11u);
  CHECK(rec.log == Log{wr(0x20, 32, 0x41), rd(0x20, 32, 0x11)});
}

TEST_CASE("banks: the scope selects on entry and restores on exit, also on an exception", "[reg][shapes]") {
  reg::recorder rec;
  rec.replies = {0xa01, 0x1234, 0xa01};
  auto dev = reg::bind<shapes>(rec);
  {
    const auto p1 = dev.bank<page1>();
    p1.write<page1_a>(7u);
    CHECK(p1.read<page1_b>() == 0x1234u);
    p1.write<sel>(0xf00u);  // unbanked registers that the bank does not hide stay in reach
  }
  // sel read 0xa01 (page 1 of other=0xa): page field set to 1, other fields kept; restored after.
  CHECK(rec.log == Log{rd(0x1c, 32, 0xa01), wr(0x1c, 32, 0xa01), wr(0x24, 32, 7), rd(0x28, 32, 0x1234),
                       wr(0x1c, 32, 0xf00), wr(0x1c, 32, 0xa01)});
  rec.clear();
  CHECK_THROWS_AS(
      [&] {
        const auto p2 = dev.bank<page2>();
        (void)p2.read<page2_a>();
        throw std::runtime_error("driver gave up");
      }(),
      std::runtime_error);
  CHECK(rec.log == Log{rd(0x1c, 32, 0xa01), wr(0x1c, 32, 0xa02), rd(0x24, 32, 0), wr(0x1c, 32, 0xa01)});
  rec.clear();
  dev.write<normal>(1u);  // outside every bank, the unbanked register at 0x24
  CHECK(rec.log == Log{wr(0x24, 32, 1)});
}

TEST_CASE("arrays: elements at a stride, by constant or run-time index, checked when asked", "[reg][shapes]") {
  reg::recorder rec;
  auto dev = reg::bind<shapes>(rec);
  dev.write<ral::at<3>>(0x33u);
  dev.write<rah::at<0>>(rah_reg::valid::val<1>, rah_reg::high::val<0xbeef>);
  for (std::size_t i = 0; i < rah::count; ++i) dev.at<rah>(i).write(rah_reg::valid::val<1>, rah_reg::high::truncated(i));
  rec.replies = {0x8000ffff};
  CHECK(dev.at<rah, 1>().read<rah_reg::valid>());
  CHECK(rec.log == Log{wr(0x58, 32, 0x33), wr(0x44, 32, 0x8000beef), wr(0x44, 32, 0x80000000),
                       wr(0x4c, 32, 0x80000001), wr(0x54, 32, 0x80000002), wr(0x5c, 32, 0x80000003),
                       rd(0x4c, 32, 0x8000ffff)});

  rec.clear();
  rec.replies = {0x80001234, 0x80001234, 0x00000007};
  const auto e = dev.at<rah>(3);
  CHECK(e.snapshot().get<rah_reg::high>() == 0x1234);
  CHECK(e.matches(rah_reg::valid::val<1>));
  e.modify(rah_reg::valid::val<1>);  // keeps high (and the undeclared bits) from the load
  CHECK(rec.log == Log{rd(0x5c, 32, 0x80001234), rd(0x5c, 32, 0x80001234), rd(0x5c, 32, 7), wr(0x5c, 32, 0x80000007)});

  rec.clear();
  rec.replies = {0, 0x80000000};
  e.wait_until(rah_reg::valid::val<1>, std::chrono::seconds(5));  // polls element 3 until valid
  CHECK(rec.log == Log{rd(0x5c, 32, 0), rd(0x5c, 32, 0x80000000)});
  std::error_code ec;
  e.wait_until(rah_reg::valid::val<1>, std::chrono::milliseconds(1), ec);  // replies are used up: reads give 0
  CHECK(ec == mmapx::errc::timed_out);
  (void)dev.checked_at<ral>(4, ec);
  CHECK(ec == mmapx::errc::value_out_of_range);
  (void)dev.checked_at<ral>(3, ec);
  CHECK_FALSE(ec);
  try {
    (void)dev.checked_at<queues>(3);
    FAIL("no exception");
  } catch (const std::system_error& e) {
    CHECK(e.code() == mmapx::errc::value_out_of_range);
    CHECK(std::string(e.what()).find("'q'") != std::string::npos);
  }
}

TEST_CASE("block arrays: each copy is a block of the queue's map at its offset", "[reg][shapes]") {
  reg::recorder rec;
  rec.replies = {0x5, 0x31};
  auto dev = reg::bind<shapes>(rec);
  const auto q2 = dev.at<queues>(2);
  q2.write<tdt>(9u);
  CHECK(q2.read<tdh>() == 5u);
  dev.at<queues, 1>().modify(tctl::mode::val<2>);
  CHECK(rec.log == Log{wr(0xc4, 32, 9), rd(0xc0, 32, 5), rd(0xa8, 32, 0x31), wr(0xa8, 32, 0x21)});
}

TEST_CASE("shadows: a modify of a write-only register changes only the named fields", "[reg][shapes]") {
  struct cfg : reg::reg8<"cfg", 0, reg::wo, 0x01> {
    using enable = field<"enable", 0, 1, reg::wo>;
    using flush = field<"flush", 1, 1, reg::w1s>;  // self-clearing command
    using level = field<"level", 4, 2, reg::wo>;
    using fields = reg::fields<enable, flush, level>;
  };
  using cfg_map = reg::map<"cfg", 1, reg::contract{reg::w8}, cfg>;
  reg::recorder rec;
  auto dev = reg::bind<cfg_map>(rec);
  reg::shadow<cfg> last;
  CHECK(last.raw() == 0x01);  // the reset value until written
  dev.write(last, cfg::enable::val<1>, cfg::flush::val<1>, cfg::level::val<2>);
  CHECK(last.raw() == 0x23);
  dev.modify(last, cfg::level::val<3>);  // enable stays 1, flush is not sent again
  CHECK(last.get<cfg::enable>());
  CHECK(last.get<cfg::level>() == 3);
  dev.modify(last, cfg::enable::val<0>);
  CHECK(rec.log == Log{wr(0, 8, 0x23), wr(0, 8, 0x31), wr(0, 8, 0x30)});
  CHECK(rec.reads() == 0);
  // Naming every write-only field needs no shadow: nothing is invented.
  dev.modify(cfg::enable::val<1>, cfg::level::val<0>);
  CHECK(rec.log.back() == wr(0, 8, 0x01));
}

TEST_CASE("raw constants: any integer constant that fits, without a cast", "[reg][shapes]") {
  using byte_reg = reg::reg8<"byte", 0, reg::rw, 0>;
  using byte_map = reg::map<"b", 1, reg::contract{reg::w8}, byte_reg>;
  reg::recorder rec;
  auto dev = reg::bind<byte_map>(rec);
  dev.write<byte_reg>(0x5a);
  dev.write<byte_reg>(255);
  dev.write<byte_reg>(std::uint8_t{7});
  dev.write<byte_reg>(byte_reg::value::checked(200u));
  CHECK_THROWS_AS(byte_reg::value::checked(256u), std::system_error);
  CHECK(rec.log == Log{wr(0, 8, 0x5a), wr(0, 8, 0xff), wr(0, 8, 7), wr(0, 8, 200)});
}

TEST_CASE("names: elements, bank members and aliases by name; dump reads nothing with side effects",
          "[reg][shapes][names]") {
  constexpr const reg::map_info& info = reg::info_of<shapes>;
  static_assert(info.registers.size() == 1 + 2 + 1 + 1 + 2 + 1 + 4 + 4 + 3 * 3);
  static_assert(info.find("ral[3]")->offset == 0x58);
  static_assert(info.find("q[2].tctl")->offset == 0xc8);
  static_assert(info.find("ral[4]") == nullptr);
  CHECK(info.find("page1_a")->bank->name == "page1");
  CHECK(info.find("normal")->bank == nullptr);

  CHECK(reg::parse_assignment(info, "ral[3]=1").target == info.find("ral[3]"));
  CHECK(reg::parse_assignment(info, "ral[0x3]=1").target == info.find("ral[3]"));
  CHECK(reg::parse_assignment(info, "rah[1].valid=1").field == info.find("rah[1]")->find("valid"));
  CHECK(reg::parse_assignment(info, "q[1].tctl.mode=2").target == info.find("q[1].tctl"));
  std::error_code ec;
  for (const char* bad : {"ral[4]=1", "ral[18446744073709551616]=1", "q[1]=1", "q.tdt=1", "ral=1"}) {
    (void)reg::parse_assignment(info, bad, ec);
    CHECK(ec == mmapx::errc::unknown_name);
  }
  for (const char* bad : {"ral[=1", "ral[]=1", "ral[x]=1", "ral[1=1", "q[1].=1", "ral[1]x=1"}) {
    (void)reg::parse_assignment(info, bad, ec);
    CHECK(ec == mmapx::errc::parse_error);
  }
  (void)reg::parse_assignment(info, "data_in=1", ec);  // the read-only side of the alias
  CHECK(ec == mmapx::errc::access_denied_by_map);

  reg::recorder rec;
  rec.on_read = [](std::size_t offset, unsigned) -> std::uint64_t { return offset == 0x1c ? 0x300 : offset; };
  auto dev = reg::bind<shapes>(rec);
  dev.apply(reg::parse_assignment(info, "page1_b=5"));  // through its bank
  dev.apply(reg::parse_assignment(info, "data_out=6"));
  dev.apply(reg::parse_assignment(info, "q[2].tctl.mode=1"));
  CHECK(rec.log == Log{rd(0x1c, 32, 0x300), wr(0x1c, 32, 0x301), wr(0x28, 32, 5), wr(0x1c, 32, 0x300),
                       wr(0x20, 32, 6), rd(0xc8, 32, 0xc8), wr(0xc8, 32, 0xd8)});
  rec.clear();
  CHECK(dev.read(*info.find("page2_a")) == 0x24);
  dev.write(*info.find("ral[1]"), 0x99);
  CHECK(rec.log == Log{rd(0x1c, 32, 0x300), wr(0x1c, 32, 0x302), rd(0x24, 32, 0x24), wr(0x1c, 32, 0x300),
                       wr(0x48, 32, 0x99)});
  dev.write(*info.find("data_in"), 1, ec);
  CHECK(ec == mmapx::errc::access_denied_by_map);
  (void)dev.read(*info.find("data_out"), ec);
  CHECK(ec == mmapx::errc::access_denied_by_map);
  dev.write(*info.find("ral[1]"), 0x100000000, ec);
  CHECK(ec == mmapx::errc::value_out_of_range);
  (void)dev.read(*reg::info_of<map>.find("ctrl"), ec);  // an entry of another map
  CHECK(ec == mmapx::errc::unknown_name);

  rec.clear();
  const std::string text = dev.dump();
  CHECK(text.find("  0x0020 data_in          (not read: reads have side effects)\n") != std::string::npos);
  CHECK(text.find("  0x0020 data_out         (write-only)\n") != std::string::npos);
  CHECK(text.find("  0x0058 ral[3]           0x00000058\n") != std::string::npos);
  CHECK(text.find("  0x00c8 q[2].tctl        0x000000c8  enable=0 mode=0x0\n") != std::string::npos);
  CHECK(text.find("  0x0024 page2_a          0x00000024\n") != std::string::npos);
  for (const auto& a : rec.log) CHECK((a.kind == reg::access_record::op::write ? a.offset == 0x1c : a.offset != 0x20));
}
