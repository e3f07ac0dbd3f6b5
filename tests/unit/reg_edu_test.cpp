// The edu map (mmapx/devices/edu.hpp) driving a behavioural fake of QEMU's
// edu device (modelled on hw/misc/edu.c) through the recording bus: the
// same driver steps the device issue runs against the real device.
#include "catch.hpp"

#include <mmapx/devices/edu.hpp>
#include <mmapx/reg/recording_bus.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace reg = mmapx::reg;
namespace edu = mmapx::edu;
using namespace std::chrono_literals;

namespace {

/// edu's MMIO behaviour, with time replaced by polls: a factorial completes
/// after three reads of status, a DMA after two reads of its command.
class fake_edu {
 public:
  std::vector<std::uint8_t> ram = std::vector<std::uint8_t>(0x10000);  ///< "guest RAM" for DMA
  std::array<std::uint8_t, edu::dma_buffer_size> buffer{};
  int bad_accesses = 0;  ///< accesses edu would ignore (wrong size)

  explicit fake_edu(reg::recorder& rec) {
    rec.on_read = [this](std::size_t offset, unsigned bits) { return read(offset, bits); };
    rec.on_write = [this](std::size_t offset, unsigned bits, std::uint64_t v) { write(offset, bits, v); };
  }

  std::uint32_t irq_status = 0;

 private:
  std::uint32_t addr4_ = 0, fact_ = 0, status_ = 0;
  std::uint64_t src_ = 0, dst_ = 0, cnt_ = 0, cmd_ = 0;
  int fact_polls_ = 0, dma_polls_ = 0;

  bool size_ok(std::size_t offset, unsigned bits) {
    const bool ok = offset < 0x80 ? bits == 32 : (bits == 32 || bits == 64);
    bad_accesses += ok ? 0 : 1;
    return ok;
  }
  std::uint64_t read(std::size_t offset, unsigned bits) {
    if (!size_ok(offset, bits)) return ~std::uint64_t{0};
    switch (offset) {
      case 0x00: return 0x010000ed;
      case 0x04: return addr4_;
      case 0x08: return fact_;
      case 0x20:
        if ((status_ & 1) != 0 && --fact_polls_ == 0) finish_factorial();
        return status_;
      case 0x24: return irq_status;
      case 0x80: return src_;
      case 0x88: return dst_;
      case 0x90: return cnt_;
      case 0x98:
        if ((cmd_ & 1) != 0 && --dma_polls_ == 0) finish_dma();
        return cmd_;
      default: return ~std::uint64_t{0};
    }
  }
  void write(std::size_t offset, unsigned bits, std::uint64_t v) {
    if (!size_ok(offset, bits)) return;
    const bool dma_idle = (cmd_ & 1) == 0;
    switch (offset) {
      case 0x04: addr4_ = ~static_cast<std::uint32_t>(v); break;
      case 0x08:
        if ((status_ & 1) == 0) fact_ = static_cast<std::uint32_t>(v), status_ |= 1, fact_polls_ = 3;
        break;
      case 0x20: status_ = (v & 0x80) != 0 ? status_ | 0x80 : status_ & ~0x80u; break;
      case 0x60: irq_status |= static_cast<std::uint32_t>(v); break;
      case 0x64: irq_status &= ~static_cast<std::uint32_t>(v); break;
      case 0x80: if (dma_idle) src_ = v; break;
      case 0x88: if (dma_idle) dst_ = v; break;
      case 0x90: if (dma_idle) cnt_ = v; break;
      case 0x98: if (dma_idle && (v & 1) != 0) cmd_ = v, dma_polls_ = 2; break;
      default: break;
    }
  }
  void finish_factorial() {
    std::uint32_t result = 1;
    for (std::uint32_t n = fact_; n > 0; --n) result *= n;
    fact_ = result;
    status_ &= ~1u;
    if ((status_ & 0x80) != 0) irq_status |= edu::irq_factorial;
  }
  void finish_dma() {
    if ((cmd_ & 2) == 0)  // RAM to device
      std::copy_n(ram.begin() + static_cast<std::ptrdiff_t>(src_), cnt_,
                  buffer.begin() + static_cast<std::ptrdiff_t>(dst_ - edu::dma_buffer_address));
    else
      std::copy_n(buffer.begin() + static_cast<std::ptrdiff_t>(src_ - edu::dma_buffer_address), cnt_,
                  ram.begin() + static_cast<std::ptrdiff_t>(dst_));
    cmd_ &= ~std::uint64_t{1};
    if ((cmd_ & 4) != 0) irq_status |= edu::irq_dma;
  }
};

}  // namespace

TEST_CASE("edu: identification and liveness", "[reg][edu]") {
  reg::recorder rec;
  fake_edu device(rec);
  auto dev = reg::bind<edu::map>(rec);
  const auto id = dev.snapshot<edu::id>();
  CHECK(id.get<edu::id::code>() == edu::id_code);
  CHECK(id.get<edu::id::major>() == 1);
  CHECK(id.get<edu::id::minor>() == 0);
  dev.write<edu::liveness>(0x12345678u);
  CHECK(dev.read<edu::liveness>() == ~0x12345678u);
  CHECK(device.bad_accesses == 0);
}

TEST_CASE("edu: factorial, polled and with its interrupt", "[reg][edu]") {
  reg::recorder rec;
  fake_edu device(rec);
  auto dev = reg::bind<edu::map>(rec);

  dev.write<edu::factorial>(5u);
  dev.wait_until(edu::status::computing::val<0>, 10s);
  CHECK(dev.read<edu::factorial>() == 120u);
  CHECK(rec.log.front() == reg::write_of(0x08, 32, 5));
  CHECK(rec.reads() == 3 + 1);  // three polls, one result

  rec.clear();
  dev.modify(edu::status::irq_on_done::val<1>);
  CHECK(rec.log == std::vector{reg::read_of(0x20, 32, 0), reg::write_of(0x20, 32, 0x80)});
  dev.write<edu::factorial>(10u);
  dev.wait_until(edu::status::computing::val<0>, 10s);
  CHECK(dev.read<edu::factorial>() == 3628800u);
  CHECK(dev.read<edu::irq_status::factorial_done>());
  dev.write<edu::irq_ack>(edu::irq_factorial);
  CHECK(dev.read<edu::irq_status>() == 0u);
  CHECK(device.bad_accesses == 0);
}

TEST_CASE("edu: interrupt raise and acknowledge", "[reg][edu]") {
  reg::recorder rec;
  fake_edu device(rec);
  auto dev = reg::bind<edu::map>(rec);
  dev.write<edu::irq_raise>(0x1234u);
  CHECK(dev.read<edu::irq_status>() == 0x1234u);
  dev.write<edu::irq_ack>(0x1004u);
  CHECK(device.irq_status == 0x0230u);
}

TEST_CASE("edu: DMA to the device and back, as the specification's example", "[reg][edu]") {
  reg::recorder rec;
  fake_edu device(rec);
  auto dev = reg::bind<edu::map>(rec);
  for (std::size_t i = 0; i < 100; ++i) device.ram[0x1000 + i] = static_cast<std::uint8_t>(i * 7);

  dev.write<edu::dma_source>(std::uint64_t{0x1000});
  dev.write<edu::dma_destination>(edu::dma_buffer_address);
  dev.write<edu::dma_count>(std::uint64_t{100});
  dev.write(edu::dma_command::start::val<1>, edu::dma_command::direction::val<edu::dma_direction::ram_to_device>);
  dev.wait_until(edu::dma_command::start::val<0>, 10s);
  // 64-bit registers take one 64-bit access each: edu ignores a write to their upper half.
  CHECK(rec.log[0] == reg::write_of(0x80, 64, 0x1000));
  CHECK(rec.log[3] == reg::write_of(0x98, 32, 0x1));

  dev.write<edu::dma_source>(edu::dma_buffer_address);
  dev.write<edu::dma_destination>(std::uint64_t{0x2000});
  dev.write(edu::dma_command::start::val<1>, edu::dma_command::direction::val<edu::dma_direction::device_to_ram>,
            edu::dma_command::irq_on_done::val<1>);
  CHECK(dev.read<edu::dma_command::direction>() == edu::dma_direction::device_to_ram);
  dev.wait_until(edu::dma_command::start::val<0>, 10s);
  CHECK(std::equal(device.ram.begin() + 0x1000, device.ram.begin() + 0x1000 + 100, device.ram.begin() + 0x2000));
  CHECK(device.ram[0x2000 + 99] == static_cast<std::uint8_t>(99 * 7));
  CHECK(dev.read<edu::irq_status::dma_done>());
  CHECK(device.bad_accesses == 0);
}

TEST_CASE("edu: dump and command-line assignments", "[reg][edu]") {
  reg::recorder rec;
  fake_edu device(rec);
  auto dev = reg::bind<edu::map>(rec);
  dev.apply(reg::parse_assignment(reg::info_of<edu::map>, "status.irq_on_done=1"));
  dev.apply(reg::parse_assignment(reg::info_of<edu::map>, "liveness=0xf0f0f0f0"));
  const std::string text = dev.dump();
  CHECK(text.find("  0x0000 id               0x010000ed  code=0xed minor=0x0 major=0x1\n") != std::string::npos);
  CHECK(text.find("  0x0004 liveness         0x0f0f0f0f\n") != std::string::npos);
  CHECK(text.find("  0x0020 status           0x00000080  computing=0 irq_on_done=1\n") != std::string::npos);
  CHECK(text.find("  0x0060 irq_raise        (write-only)\n") != std::string::npos);
  CHECK(text.find("direction=ram_to_device") != std::string::npos);
  std::error_code ec;
  (void)reg::parse_assignment(reg::info_of<edu::map>, "id.major=2", ec);
  CHECK(ec == mmapx::errc::access_denied_by_map);
  CHECK(device.bad_accesses == 0);
}
