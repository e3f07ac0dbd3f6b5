// In-guest tests of the device backends against QEMU's edu and ivshmem-plain
// devices: /dev/mem and PCI sysfs mappings driven through the typed edu
// register map, UIO interrupts through uio_pci_generic, and every documented
// error. One boot runs them all (tests run in this order; UIO binds edu
// last). The ivshmem pattern written here is checked on the host afterwards
// by ivshmem_check.py.
#include <catch.hpp>

#include <mmapx/devices/edu.hpp>
#include <mmapx/devmem.hpp>
#include <mmapx/pci.hpp>
#include <mmapx/uio.hpp>

#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "child_process.hpp"
#include "privileges.hpp"

using mmapx_test::in_child;
using namespace std::chrono_literals;
namespace edu = mmapx::edu;

namespace {

std::string edu_address() {
  const auto found = mmapx::find_pci_devices(edu::vendor_id, edu::device_id);
  REQUIRE(found.size() == 1);
  return found[0];
}

template <class Region>
void check_edu_registers(Region& bar0) {
  auto dev = mmapx::reg::bind<edu::map>(bar0.bytes());
  CHECK(dev.template read<edu::id>() == 0x010000edU);
  CHECK(dev.template read<edu::id::code>() == edu::id_code);
  for (std::uint32_t v : {0x0U, 0x12345678U, 0xffffffffU}) {
    dev.template write<edu::liveness>(v);
    CHECK(dev.template read<edu::liveness>() == ~v);
  }
  dev.template write<edu::factorial>(10U);
  dev.wait_until(edu::status::computing::val<0>, 2s);
  CHECK(dev.template read<edu::factorial>() == 3628800U);  // 10! = 0x375F00
}

// The kernel's interrupt count of uioN, without consuming the event from /dev/uioN.
std::uint32_t uio_event_count(unsigned number) {
  mmapx::detail::failure f;
  std::uint32_t count = 0;
  REQUIRE(mmapx::detail::read_uio_event_count(number, count, f));
  return count;
}

}  // namespace

TEST_CASE("PCI: edu's BAR0 from sysfs, mapped through resource0", "[pci]") {
  const auto address = edu_address();
  const auto bar = mmapx::pci_bar_info(address, 0);
  CHECK(bar.size == edu::bar0_size);
  CHECK_FALSE(bar.io);
  CHECK_FALSE(bar.prefetchable);
  CHECK(bar.address != 0);
  auto bar0 = mmapx::map_pci_bar(address, 0);
  REQUIRE(bar0.size() == edu::bar0_size);
  check_edu_registers(bar0);

  // A window at a non-page-aligned offset sees the same registers.
  auto window = mmapx::map_pci_bar<mmapx::access::read>(address, 0, {.offset = 4096 + 0, .length = 16});
  auto regs = mmapx::map_pci_bar<mmapx::access::read>(address, 0, {.offset = 0, .length = 4});
  CHECK(window.size() == 16);
  CHECK(*reinterpret_cast<const volatile std::uint32_t*>(regs.data()) == 0x010000edU);
}

TEST_CASE("PCI: bad requests are clear errors", "[pci][errors]") {
  const auto address = edu_address();
  std::error_code ec;
  for (const char* bad : {"00:04.0", "0000:00:04", "0000:00:04.8", "../../../../dev/mem", "0000:0g:04.0"}) {
    (void)mmapx::pci_bar_info(bad, 0, ec);
    CHECK(ec == mmapx::errc::parse_error);
  }
  try {
    (void)mmapx::map_pci_bar("0000:00:04", 0);
    FAIL("no exception");
  } catch (const std::system_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("expected DDDD:BB:DD.F") && Catch::Contains("'0000:00:04'"));
  }
  (void)mmapx::pci_bar_info("0000:00:1f.7", 0, ec);
  CHECK(ec == std::errc::no_such_file_or_directory);
  (void)mmapx::pci_bar_info(address, 6, ec);
  CHECK(ec == std::errc::invalid_argument);
  // edu implements BAR0 only.
  auto none = mmapx::map_pci_bar(address, 1, {}, ec);
  CHECK(ec == std::errc::no_such_device_or_address);
  CHECK_FALSE(none.is_mapped());
  (void)mmapx::map_pci_bar(address, 0, {.write_combining = true}, ec);
  CHECK(ec == std::errc::operation_not_supported);
  (void)mmapx::map_pci_bar(address, 0, {.offset = edu::bar0_size - 8, .length = 16}, ec);
  CHECK(ec == mmapx::errc::range_outside_region);
  (void)mmapx::map_pci_bar(address, 0, {.offset = edu::bar0_size + 4096}, ec);
  CHECK(ec == mmapx::errc::range_outside_region);

  // Some device of the emulated PC (PIIX IDE) has an I/O-port BAR: refused.
  bool io_seen = false;
  for (const auto& dev : mmapx::find_pci_devices(0x8086, 0x7010)) {
    for (unsigned i = 0; i < mmapx::pci_bar_count; ++i) {
      if (!mmapx::pci_bar_info(dev, i).io) continue;
      io_seen = true;
      try {
        (void)mmapx::map_pci_bar(dev, i);
        FAIL("I/O BAR mapped");
      } catch (const std::system_error& e) {
        CHECK(e.code() == std::errc::operation_not_supported);
        CHECK_THAT(e.what(), Catch::Contains("I/O-port BAR"));
      }
    }
  }
  CHECK(io_seen);
}

TEST_CASE("/dev/mem: edu's BAR0 at its physical address, uncached and cached", "[devmem]") {
  const auto bar = mmapx::pci_bar_info(edu_address(), 0);
  auto uncached = mmapx::map_physical(bar.address, edu::bar0_size);
  check_edu_registers(uncached);
  auto cached = mmapx::map_physical(bar.address, edu::bar0_size, {.cache = mmapx::devmem_cache::cached});
  check_edu_registers(cached);
  // Any alignment: 4 bytes at BAR0 + 4 is the liveness register.
  auto liveness = mmapx::map_physical(bar.address + 4, 4);
  auto* reg = reinterpret_cast<volatile std::uint32_t*>(liveness.data());
  *reg = 0x0f0f0f0fU;
  CHECK(*reg == 0xf0f0f0f0U);
}

TEST_CASE("/dev/mem: refusals explain themselves", "[devmem][errors]") {
  std::error_code ec;
  // RAM above the first MiB: STRICT_DEVMEM says no.
  auto ram = mmapx::map_physical(16 << 20, 4096, {}, ec);
  CHECK(ec == std::errc::operation_not_permitted);
  CHECK_FALSE(ram.is_mapped());
  try {
    (void)mmapx::map_physical(16 << 20, 4096);
    FAIL("no exception");
  } catch (const std::system_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("STRICT_DEVMEM") && Catch::Contains("0x1000000"));
  }
  // Beyond what the CPU can address.
  (void)mmapx::map_physical(std::uint64_t{1} << 62, 4096, {}, ec);
  CHECK(ec);
  (void)mmapx::map_physical(0xfeb00000, 0, {}, ec);
  CHECK(ec == std::errc::invalid_argument);
  (void)mmapx::map_physical(0xfeb00000, 4096, {.path = "/dev/no-such-mem"}, ec);
  CHECK(ec == std::errc::no_such_file_or_directory);

  const auto bar_address = mmapx::pci_bar_info(edu_address(), 0).address;
  // Without CAP_SYS_RAWIO, and as an ordinary user.
  const int no_rawio = in_child([&] {
    if (!mmapx_test::drop_capability(CAP_SYS_RAWIO)) return 3;
    try {
      (void)mmapx::map_physical(bar_address, 4096);
      return 4;
    } catch (const std::system_error& e) {
      const std::string what = e.what();
      return e.code() == std::errc::operation_not_permitted &&
                     what.find("root or CAP_SYS_RAWIO") != std::string::npos
                 ? 0
                 : 5;
    }
  });
  CHECK(no_rawio == 0);
  const int nobody = in_child([&] {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 3;
    std::error_code child_ec;
    (void)mmapx::map_physical(bar_address, 4096, {}, child_ec);
    return child_ec == std::errc::permission_denied ? 0 : 4;
  });
  CHECK(nobody == 0);
}

TEST_CASE("device files need a length, and the driver judges the rest", "[device][errors]") {
  std::error_code ec;
  (void)mmapx::map_device("/dev/mem", 0, 0, {}, ec);
  CHECK(ec == std::errc::invalid_argument);
  (void)mmapx::map_device("/dev/no-such-device", 0, 4096, {}, ec);
  CHECK(ec == std::errc::no_such_file_or_directory);
  // /dev/zero is a character device with size 0 that maps fine.
  auto zero = mmapx::map_device<mmapx::access::read>("/dev/zero", 0, 8192);
  CHECK(zero.size() == 8192);
  CHECK(zero.data()[8191] == std::byte{0});
}

TEST_CASE("ivshmem-plain: the guest writes a pattern into host memory through BAR2", "[pci][ivshmem]") {
  const auto found = mmapx::find_pci_devices(0x1af4, 0x1110);
  REQUIRE(found.size() == 1);
  const auto bar = mmapx::pci_bar_info(found[0], 2);
  CHECK(bar.size == 1 << 20);
  CHECK(bar.prefetchable);
  CHECK(bar.is_64bit);
  // First half through the write-combining file, second half uncached.
  const std::size_t half = bar.size / 2;
  auto wc = mmapx::map_pci_bar(found[0], 2, {.offset = 0, .length = half, .write_combining = true});
  auto uc = mmapx::map_pci_bar(found[0], 2, {.offset = half, .length = half});
  auto fill = [](std::byte* p, std::size_t n, std::uint64_t first) {
    for (std::size_t i = 0; i < n / 8; ++i) {
      const std::uint64_t v = (first + i) * 0x9E3779B97F4A7C15ULL;
      std::memcpy(p + i * 8, &v, 8);
    }
  };
  fill(wc.data(), half, 0);
  fill(uc.data(), half, half / 8);
  // (A third mapping overlapping both would be refused: x86 PAT forbids
  // mapping one physical range write-combining and uncached at once.)
  std::uint64_t first = 0, last = 0;
  std::memcpy(&first, wc.data() + 8, 8);
  std::memcpy(&last, uc.data() + half - 8, 8);
  CHECK(first == 0x9E3779B97F4A7C15ULL);
  CHECK(last == (bar.size / 8 - 1) * 0x9E3779B97F4A7C15ULL);
}

TEST_CASE("UIO: edu bound to uio_pci_generic delivers its interrupts", "[uio]") {
  const auto address = edu_address();
  std::error_code ec;
  (void)mmapx::uio_device::open_by_name("uio_pci_generic", ec);
  CHECK(ec == std::errc::no_such_device);  // not bound yet
  REQUIRE(mmapx_test::write_kernel_file("/sys/bus/pci/drivers/uio_pci_generic/new_id", "1234 11e8"));

  auto uio = mmapx::uio_device::open_by_name("uio_pci_generic");
  CHECK(uio.name() == "uio_pci_generic");
  CHECK(uio.pci_address() == address);
  auto same = mmapx::uio_device::open(uio.number());
  CHECK(same.name() == uio.name());
  // Since Linux 5.x uio_pci_generic lists the memory BARs as UIO maps.
  const auto maps = uio.maps();
  REQUIRE(maps.size() == 1);
  INFO("map0 is named '" << maps[0].name << "'");
  CHECK(maps[0].index == 0);
  CHECK(maps[0].address == mmapx::pci_bar_info(address, 0).address);
  CHECK(maps[0].size == edu::bar0_size);
  CHECK(maps[0].offset == 0);
  try {
    (void)uio.map(1);
    FAIL("mapped a map that does not exist");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::invalid_argument);
    CHECK_THAT(e.what(), Catch::Contains("no map with this index"));
  }
  (void)mmapx::uio_device::open(99, ec);
  CHECK(ec == std::errc::no_such_file_or_directory);
  (void)mmapx::uio_device::open_by_name("no-such-uio-driver", ec);
  CHECK(ec == std::errc::no_such_device);

  // The registers through UIO map 0 (offset 0 of /dev/uioN).
  auto bar0 = uio.map(0);
  REQUIRE(bar0.size() == edu::bar0_size);
  check_edu_registers(bar0);
  auto dev = mmapx::reg::bind<edu::map>(bar0.bytes());

  (void)uio.wait(50ms, ec);  // none raised: a timeout
  CHECK(ec == mmapx::errc::timed_out);
  (void)uio.wait(0ms, ec);  // zero: one check, no wait
  CHECK(ec == mmapx::errc::timed_out);

  dev.write<edu::irq_raise>(0x10U);
  const auto first = uio.wait(2s);
  CHECK(first.count == 1);
  CHECK(first.missed == 0);
  CHECK(dev.read<edu::irq_status>() == 0x10U);
  dev.write<edu::irq_ack>(0x10U);
  mmapx::pci_enable_intx(address);  // uio_pci_generic masked INTx in its handler

  // write(1) has no irqcontrol behind it in uio_pci_generic.
  try {
    uio.enable_interrupts();
    FAIL("uio_pci_generic accepted irqcontrol");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::function_not_supported);
    CHECK_THAT(e.what(), Catch::Contains("no irqcontrol"));
    CHECK_THAT(e.what(), Catch::Contains("pci_enable_intx"));
  }

  // Two interrupts before the next wait: it sees the second, reports one missed.
  for (std::uint64_t expected = 2; expected <= 3; ++expected) {
    dev.write<edu::irq_raise>(0x20U);
    while (uio_event_count(uio.number()) < expected) ::usleep(1000);
    dev.write<edu::irq_ack>(0x20U);
    mmapx::pci_enable_intx(address);
  }
  const auto later = uio.wait(-1ms);  // negative: no limit (the interrupt is already counted)
  CHECK(later.count == 3);
  CHECK(later.missed == 1);
  (void)uio.wait(50ms, ec);
  CHECK(ec == mmapx::errc::timed_out);
}
