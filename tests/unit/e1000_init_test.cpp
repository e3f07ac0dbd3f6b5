// The e1000 driver (examples/e1000/driver.hpp) against a recording bus and a
// small behavioural fake of an 82540EM: the bring-up sequence in the order of
// the manual's chapter 14, the MAC address from EEPROM words through EERD,
// descriptor rings in DMA memory, wrap-arounds, and every error the driver
// promises (ring sizes, alignment, frame length, link down, EEPROM timeout).
#include "catch.hpp"

#include "../../examples/e1000/driver.hpp"
#include "../../examples/e1000/frames.hpp"

#include <mmapx/anonymous.hpp>
#include <mmapx/reg/recording_bus.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <vector>

namespace reg = mmapx::reg;
namespace e1000 = mmapx::e1000;
using e1000_driver::driver_error;
using Catch::Matchers::Contains;

namespace {

constexpr std::uint64_t fake_iova = 0x40000000;  // where the fake "device" sees the DMA region

/// An 82540EM as far as the driver can tell: registers in a table, CTRL.RST
/// self-clearing, EERD answering from a 64-word EEPROM, ICR clearing on read,
/// and a loopback data path: a TDT write sends every queued frame, which the
/// device stores into its own receive ring (like RCTL.LBM = PHY loopback).
class fake_e1000 {
 public:
  std::map<std::size_t, std::uint32_t> regs;
  std::array<std::uint16_t, 64> eeprom{0x5452, 0x1200, 0x5634};  // 52:54:00:12:34:56
  bool link = true;
  bool eeprom_answers = true;
  bool dma_reaches_memory = true;  ///< false: TDH moves, nothing is written back (an IOMMU fault)
  bool transmitter_runs = true;    ///< false: TDT writes are ignored (a stuck device)
  std::byte* dma = nullptr;  // the driver's DMA region, at fake_iova

  explicit fake_e1000(reg::recorder& rec) {
    rec.on_read = [this](std::size_t offset, unsigned) { return read(offset); };
    rec.on_write = [this](std::size_t offset, unsigned, std::uint64_t v) { write(offset, static_cast<std::uint32_t>(v)); };
  }

 private:
  std::uint32_t read(std::size_t offset) {
    switch (offset) {
      case 0x0008: return link ? 0x80080783u : 0x80080781u;  // what QEMU's model reports (QEMU.md)
      case 0x00c0: return std::exchange(regs[0x00c0], 0);
      default: return regs[offset];
    }
  }
  void write(std::size_t offset, std::uint32_t v) {
    switch (offset) {
      case 0x0000: regs[offset] = v & ~(1u << 26); break;  // RST clears itself
      case 0x0014: {
        const unsigned word = (v >> 8) & 0xff;
        regs[offset] = eeprom_answers ? (std::uint32_t{eeprom[word]} << 16) | (word << 8) | 0x10 : 0;
        break;
      }
      case 0x3818: regs[offset] = v; transmit(); break;
      default: regs[offset] = v;
    }
  }
  template <class T>
  T& at(std::uint64_t iova) { return *reinterpret_cast<T*>(dma + (iova - fake_iova)); }

  void transmit() {
    if (!transmitter_runs) return;
    if (!dma_reaches_memory) {
      regs[0x3810] = regs[0x3818];
      return;
    }
    const std::size_t tx_n = regs[0x3808] / 16, rx_n = regs[0x2808] / 16;
    while (regs[0x3810] != regs[0x3818]) {
      auto& t = at<e1000::tx_descriptor>(regs[0x3800] + 16 * regs[0x3810]);
      std::size_t& rdh = rdh_;
      if (rdh == regs[0x2818]) break;  // receive ring full: stays queued
      auto& r = at<e1000::rx_descriptor>(regs[0x2800] + 16 * rdh);
      std::memcpy(&at<std::byte>(r.addr), &at<std::byte>(t.addr), t.length);
      r.length = t.length;
      r.errors = 0;
      r.status = e1000::rx_status::dd | e1000::rx_status::eop;
      rdh = (rdh + 1) % rx_n;
      regs[0x2810] = static_cast<std::uint32_t>(rdh);
      t.status = e1000::tx_status_dd;
      regs[0x3810] = static_cast<std::uint32_t>((regs[0x3810] + 1) % tx_n);
    }
  }
  std::size_t rdh_ = 0;
};

struct rig {
  reg::recorder rec;
  fake_e1000 dev{rec};
  mmapx::rw_region dma;
  e1000_driver::nic<reg::recording_bus> nic;

  explicit rig(e1000_driver::config cfg = {})
      : dma(mmapx::map_anonymous(e1000_driver::dma_layout::of(cfg.rx_ring, cfg.tx_ring).total)),
        nic(reg::bind<e1000::map>(rec), dma, fake_iova, cfg, "fake0") {
    dev.dma = dma.data();
  }
};

/// Offsets of the writes in the log, in order.
std::vector<std::size_t> write_offsets(const reg::recorder& rec) {
  std::vector<std::size_t> out;
  for (const auto& a : rec.log)
    if (a.kind == reg::access_record::op::write) out.push_back(a.offset);
  return out;
}
/// Index of the first access matching kind/offset at or after `from`; log size if none.
std::size_t find(const reg::recorder& rec, reg::access_record::op kind, std::size_t offset, std::size_t from = 0) {
  for (std::size_t i = from; i < rec.log.size(); ++i)
    if (rec.log[i].kind == kind && rec.log[i].offset == offset) return i;
  return rec.log.size();
}
constexpr auto R = reg::access_record::op::read;
constexpr auto W = reg::access_record::op::write;

}  // namespace

TEST_CASE("e1000 init follows the manual's order", "[e1000]") {
  e1000_driver::config cfg;
  cfg.interrupts = true;
  rig r(cfg);
  r.nic.init();
  const auto& log = r.rec.log;

  // Interrupts masked, reset, masked again, pending causes read away.
  REQUIRE(log.size() > 10);
  CHECK(log[0] == reg::write_of(0x00d8, 32, e1000::cause::all));
  CHECK(log[1] == reg::read_of(0x0000, 32, 0));
  CHECK(log[2] == reg::write_of(0x0000, 32, 1u << 26));
  const std::size_t second_imc = find(r.rec, W, 0x00d8, 3);
  CHECK(second_imc < find(r.rec, R, 0x00c0));
  CHECK(find(r.rec, R, 0x0000, 3) < second_imc);  // RST polled until clear

  // MAC from EEPROM words 0, 1, 2 through EERD (start=1, address in bits 8-15).
  const std::size_t eerd0 = find(r.rec, W, 0x0014);
  CHECK(log[eerd0].value == 0x001);
  CHECK(find(r.rec, W, 0x0014, eerd0 + 1) < log.size());
  CHECK(r.nic.mac() == std::array<std::uint8_t, 6>{0x52, 0x54, 0x00, 0x12, 0x34, 0x56});

  // Link: SLU and ASDE set, LRST/PHY_RST/ILOS clear; then STATUS polled.
  const std::size_t ctrl_link = find(r.rec, W, 0x0000, 3);
  REQUIRE(ctrl_link < log.size());
  CHECK((log[ctrl_link].value & ((1u << 6) | (1u << 5))) == ((1u << 6) | (1u << 5)));
  CHECK((log[ctrl_link].value & ((1u << 3) | (1u << 31) | (1u << 7))) == 0);
  CHECK(ctrl_link > eerd0);
  CHECK(find(r.rec, R, 0x0008, ctrl_link) < log.size());

  // Statistics read (cleared) before the tables and rings are set up.
  const std::size_t gprc = find(r.rec, R, 0x4074);
  const std::size_t mta0 = find(r.rec, W, 0x5200);
  CHECK(gprc > ctrl_link);
  CHECK(gprc < mta0);
  const auto writes = write_offsets(r.rec);
  CHECK(std::count_if(writes.begin(), writes.end(), [](std::size_t o) { return o >= 0x5200 && o < 0x5400; }) == 128);

  // Station address: RAL0 then RAH0 with AV.
  const std::size_t ral = find(r.rec, W, 0x5400);
  CHECK(log[ral].value == 0x12005452u);
  CHECK(log[ral + 1] == reg::write_of(0x5404, 32, 0x80005634u));

  // Receive ring programmed, RDT given, then RCTL.EN: BAM, SECRC, 2048-byte buffers.
  const std::size_t rdbal = find(r.rec, W, 0x2800);
  CHECK(log[rdbal].value == fake_iova);
  CHECK(find(r.rec, W, 0x2808) < find(r.rec, W, 0x2818));
  CHECK(r.dev.regs[0x2808] == 256 * 16);
  CHECK(r.dev.regs[0x2818] == 255);
  const std::size_t rctl = find(r.rec, W, 0x0100);
  CHECK(find(r.rec, W, 0x2818) < rctl);
  CHECK(log[rctl].value == ((1u << 1) | (1u << 15) | (1u << 26)));
  CHECK(rctl > ral);

  // Transmit ring, then TCTL (EN, PSP, CT=0x0f, COLD=0x40) and TIPG (10, 8, 6).
  const std::size_t tctl = find(r.rec, W, 0x0400);
  CHECK(find(r.rec, W, 0x3818) < tctl);
  CHECK(tctl > rctl);
  CHECK(log[tctl].value == ((1u << 1) | (1u << 3) | (0x0fu << 4) | (0x40u << 12)));
  CHECK(r.dev.regs[0x0410] == (10u | (8u << 10) | (6u << 20)));

  // Interrupts unmasked last.
  CHECK(log.back() == reg::write_of(0x00d0, 32, 0xddu));
}

TEST_CASE("e1000 polling mode leaves every interrupt masked", "[e1000]") {
  rig r;
  r.nic.init();
  CHECK(find(r.rec, W, 0x00d0) == r.rec.log.size());
}

TEST_CASE("e1000 receive descriptors point at their buffers' IOVAs", "[e1000]") {
  rig r;
  r.nic.init();
  const auto layout = e1000_driver::dma_layout::of(256, 256);
  const auto* rx = reinterpret_cast<const e1000::rx_descriptor*>(r.dma.data() + layout.rx_ring);
  for (std::size_t i = 0; i < 256; ++i) REQUIRE(rx[i].addr == fake_iova + layout.rx_buffers + i * 2048);
  CHECK(r.dev.regs[0x3800] == fake_iova + layout.tx_ring);
  CHECK(layout.tx_ring % 128 == 0);
}

TEST_CASE("e1000 frames go round both rings many times, every byte intact", "[e1000]") {
  e1000_driver::config cfg;
  cfg.rx_ring = 16;
  cfg.tx_ring = 8;
  rig r(cfg);
  r.nic.init();
  const e1000_frames::mac_address dst{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  std::vector<std::uint8_t> frame;
  std::uint32_t sent = 0, verified = 0;
  while (verified < 500) {
    while (sent < 500 && r.nic.in_flight() < 4) {
      frame.resize(e1000_frames::mixed_size(sent));
      e1000_frames::fill(frame, sent, dst, dst);
      REQUIRE(r.nic.queue(frame));
      ++sent;
    }
    r.nic.flush();
    r.nic.reclaim();
    r.nic.receive([&](std::span<const std::uint8_t> in) {
      const auto v = e1000_frames::check(in, dst);
      REQUIRE(v.ok);
      CHECK(v.seq == verified);
      ++verified;
    });
  }
  const auto& c = r.nic.counters();
  CHECK(c.sent == 500);
  CHECK(c.received == 500);
  CHECK(c.rx_wraps == 500 / 16);
  CHECK(c.tx_wraps == 500 / 8);
}

TEST_CASE("e1000 transmit ring full: queue says so instead of overwriting", "[e1000]") {
  e1000_driver::config cfg;
  cfg.tx_ring = 8;
  rig r(cfg);
  r.nic.init();
  std::vector<std::uint8_t> frame(60);
  for (int i = 0; i < 7; ++i) REQUIRE(r.nic.queue(frame));
  CHECK_FALSE(r.nic.queue(frame));  // one slot stays empty: head == tail means empty
  r.nic.flush();
  CHECK(r.nic.reclaim() == 7);
  CHECK(r.nic.queue(frame));
}

TEST_CASE("e1000 wait_transmitted: a device whose DMA fails, or that is stuck, is an error, not a hang", "[e1000]") {
  rig r;
  r.nic.init();
  std::vector<std::uint8_t> frame(60);
  REQUIRE(r.nic.queue(frame));
  r.nic.flush();
  r.nic.wait_transmitted(std::chrono::milliseconds(100));  // a working device: returns
  CHECK(r.nic.in_flight() == 0);

  r.dev.dma_reaches_memory = false;
  REQUIRE(r.nic.queue(frame));
  REQUIRE(r.nic.queue(frame));
  r.nic.flush();
  CHECK_THROWS_WITH(r.nic.wait_transmitted(std::chrono::milliseconds(20)),
                    Contains("fake0: device error: the device took transmit descriptors but wrote none back") &&
                        Contains("TDH=3, TDT=3, oldest unfinished 1"));

  rig stuck;
  stuck.nic.init();
  stuck.dev.transmitter_runs = false;
  REQUIRE(stuck.nic.queue(frame));
  stuck.nic.flush();
  CHECK_THROWS_WITH(stuck.nic.wait_transmitted(std::chrono::milliseconds(20)),
                    Contains("transmit stalled: no descriptor taken within 20 ms (TDH=0, TDT=1"));
}

TEST_CASE("e1000 ring sizes the hardware does not allow are refused", "[e1000]") {
  for (std::size_t n : {std::size_t{0}, std::size_t{4}, std::size_t{12}, std::size_t{65544}, SIZE_MAX}) {
    e1000_driver::config cfg;
    cfg.rx_ring = n;
    reg::recorder rec;
    auto dma = mmapx::map_anonymous(4096);
    CHECK_THROWS_WITH((e1000_driver::nic<reg::recording_bus>(reg::bind<e1000::map>(rec), dma, fake_iova, cfg, "x")),
                      Contains("receive ring of") && Contains("multiple of 8 descriptors"));
    CHECK(rec.log.empty());
  }
  e1000_driver::config cfg;
  cfg.tx_ring = 100;
  reg::recorder rec;
  auto dma = mmapx::map_anonymous(1 << 20);
  CHECK_THROWS_WITH((e1000_driver::nic<reg::recording_bus>(reg::bind<e1000::map>(rec), dma, fake_iova, cfg, "x")),
                    Contains("transmit ring of 100 descriptors"));
}

TEST_CASE("e1000 DMA memory: a misaligned IOVA or a short region is refused", "[e1000]") {
  reg::recorder rec;
  auto dma = mmapx::map_anonymous(1 << 20);
  CHECK_THROWS_WITH((e1000_driver::nic<reg::recording_bus>(reg::bind<e1000::map>(rec), dma, fake_iova + 64, {}, "x")),
                    Contains("not 128-byte aligned"));
  auto small = mmapx::map_anonymous(4096);
  CHECK_THROWS_WITH((e1000_driver::nic<reg::recording_bus>(reg::bind<e1000::map>(rec), small, fake_iova, {}, "x")),
                    Contains("DMA region of 4096 bytes"));
  CHECK(rec.log.empty());
}

TEST_CASE("e1000 a frame too long or too short is refused, nothing queued", "[e1000]") {
  rig r;
  r.nic.init();
  r.rec.clear();
  std::vector<std::uint8_t> big(1515), tiny(13), max(1514);
  CHECK_THROWS_WITH(r.nic.queue(big), Contains("frame of 1515 bytes"));
  CHECK_THROWS_WITH(r.nic.queue(tiny), Contains("frame of 13 bytes"));
  CHECK(r.nic.in_flight() == 0);
  CHECK(r.nic.queue(max));
  CHECK(r.rec.log.empty());  // queue() touches no register; flush() does
}

TEST_CASE("e1000 link down and a silent EEPROM are timeouts that name the cause", "[e1000]") {
  e1000_driver::config cfg;
  cfg.link_timeout = std::chrono::milliseconds(20);
  {
    rig r(cfg);
    r.dev.link = false;
    CHECK_THROWS_WITH(r.nic.init(), Contains("fake0") && Contains("link down"));
  }
  {
    rig r(cfg);
    r.dev.eeprom_answers = false;
    CHECK_THROWS_WITH(r.nic.init(), Contains("EERD.DONE"));
  }
}

TEST_CASE("e1000 dump never reads ICR or a statistics register", "[e1000]") {
  reg::recorder rec;
  fake_e1000 dev(rec);
  const auto text = reg::bind<e1000::map>(rec).dump();
  for (const auto& a : rec.log) {
    CHECK(a.offset != 0x00c0);
    CHECK((a.offset < 0x4000 || a.offset >= 0x4100));
  }
  CHECK_THAT(text, Contains("icr              (not read: reads have side effects)"));
  CHECK_THAT(text, Contains("gprc             (not read: reads have side effects)"));
  CHECK_THAT(text, Contains("status           0x80080783"));
}

TEST_CASE("e1000 statistics: 64-bit counters read low half then high half", "[e1000]") {
  reg::recorder rec;
  fake_e1000 dev(rec);
  dev.regs[0x40c0] = 0x89abcdef;
  dev.regs[0x40c4] = 0x1;
  auto block = reg::bind<e1000::map>(rec);
  CHECK(block.read<e1000::tor>() == 0x189abcdefull);
  REQUIRE(rec.log.size() == 2);
  CHECK(rec.log[0].offset == 0x40c0);
  CHECK(rec.log[1].offset == 0x40c4);
}

TEST_CASE("e1000 test frames: check() finds any changed byte, a wrong length or destination", "[e1000]") {
  const e1000_frames::mac_address dst{2, 0, 0, 0, 0, 1}, src{2, 0, 0, 0, 0, 2}, other{2, 0, 0, 0, 0, 3};
  for (std::uint32_t seq : {0u, 1u, 77u, 0xffffffffu}) {
    std::vector<std::uint8_t> frame(e1000_frames::mixed_size(seq));
    REQUIRE(frame.size() >= e1000_frames::min_size);
    REQUIRE(frame.size() <= e1000_frames::max_size);
    e1000_frames::fill(frame, seq, dst, src);
    const auto good = e1000_frames::check(frame, dst);
    CHECK(good.ok);
    CHECK(good.seq == seq);
    CHECK_FALSE(e1000_frames::check(frame, other).ok);
    for (std::size_t i : {std::size_t{20}, frame.size() / 2, frame.size() - 1}) {
      auto bad = frame;
      bad[i] ^= 0x01;
      const auto v = e1000_frames::check(bad, dst);
      CHECK_FALSE(v.ok);
      CHECK_THAT(v.problem, Contains("byte " + std::to_string(i)));
    }
    auto cut = frame;
    cut.pop_back();
    CHECK_THAT(e1000_frames::check(cut, dst).problem, Contains("bytes received"));
  }
  const std::vector<std::uint8_t> runt(10);
  CHECK_THAT(e1000_frames::check(runt, dst).problem, Contains("shorter than the header"));
}
