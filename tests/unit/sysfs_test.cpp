// Unit tests: the PCI and UIO sysfs parsers against a fake sysfs tree in a
// temporary directory ($MMAPX_SYSFS_ROOT), including malformed attributes
// (empty, garbage, huge numbers, missing files) and their documented errors;
// and the shared helpers of detail/posix.hpp (number parsing, deadlines,
// poll_until).
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <mmapx/anonymous.hpp>
#include <mmapx/devices/edu.hpp>
#include <mmapx/pci.hpp>
#include <mmapx/reg.hpp>
#include <mmapx/uio.hpp>

#include "catch.hpp"
#include "fake_sysfs.hpp"
#include "test_support.hpp"

using namespace mmapx;
using mmapx_test::read_file;
using mmapx_test::contains;
using mmapx_test::fake_sysfs;
using mmapx_test::temp_dir;
using mmapx_test::thrown_by;
using mmapx_test::write_file;
namespace fs = std::filesystem;

namespace {

// BAR0: 1 MiB memory; BAR1: not implemented; BAR2: 64-bit prefetchable
// 16 MiB (its upper half is BAR3's register); BAR4: I/O ports; BAR5: none.
const char* const edu_like_resource =
    "0x00000000fea00000 0x00000000feafffff 0x0000000000040200\n"
    "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
    "0x0000000fe0000000 0x0000000fe0ffffff 0x000000000014220c\n"
    "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
    "0x000000000000c000 0x000000000000c01f 0x0000000000040101\n"
    "0x0000000000000000 0x0000000000000000 0x0000000000000000\n";

}  // namespace

TEST_CASE("sysfs: find_pci_devices matches vendor and device IDs, sorted; unreadable IDs are no match",
          "[sysfs][pci]") {
  fake_sysfs sys;
  sys.pci_device("0000:00:06.0", "0x1234\n", "0x11e8\n");
  sys.pci_device("0000:00:04.0", "0x1234\n", "0x11e8\n");
  sys.pci_device("0000:00:05.0", "0x8086\n", "0x11e8\n");
  sys.pci_device("0000:00:07.0", "garbage\n", "0x11e8\n");
  sys.pci_device("0000:00:08.0", "0x1234\n", "");
  sys.pci_device("0000:00:09.0", "0x100000000000000001234\n", "0x11e8\n");
  sys.attribute("bus/pci/devices/0000:00:0a.0/vendor", "0x1234\n");  // no device attribute
  CHECK(find_pci_devices(0x1234, 0x11e8) == std::vector<std::string>{"0000:00:04.0", "0000:00:06.0"});
  CHECK(find_pci_devices(0x8086, 0x11e8) == std::vector<std::string>{"0000:00:05.0"});
  CHECK(find_pci_devices(0xffff, 0xffff).empty());
}

TEST_CASE("sysfs: find_pci_devices without a bus/pci/devices directory is ENOENT", "[sysfs][pci]") {
  fake_sysfs sys;
  fs::remove_all(sys / "bus");
  std::error_code ec;
  CHECK(find_pci_devices(0x1234, 0x11e8, ec).empty());
  CHECK(ec == std::errc::no_such_file_or_directory);
  CHECK(contains(thrown_by([] { find_pci_devices(1, 2); }).what(), "list PCI devices"));
}

TEST_CASE("sysfs: pci_bar_info reads the resource table: size, kind, 64-bit, prefetchable", "[sysfs][pci]") {
  fake_sysfs sys;
  sys.pci_device("0000:00:04.0", "0x1234\n", "0x11e8\n", edu_like_resource);
  const pci_bar bar0 = pci_bar_info("0000:00:04.0", 0);
  CHECK(bar0.index == 0);
  CHECK(bar0.address == 0xfea00000);
  CHECK(bar0.size == 0x100000);
  CHECK_FALSE(bar0.io);
  CHECK_FALSE(bar0.prefetchable);
  CHECK_FALSE(bar0.is_64bit);
  CHECK(pci_bar_info("0000:00:04.0", 1).size == 0);
  const pci_bar bar2 = pci_bar_info("0000:00:04.0", 2);
  CHECK(bar2.address == 0xfe0000000);
  CHECK(bar2.size == 0x1000000);
  CHECK(bar2.prefetchable);
  CHECK(bar2.is_64bit);
  const pci_bar bar4 = pci_bar_info("0000:00:04.0", 4);
  CHECK(bar4.io);
  CHECK(bar4.size == 0x20);
}

TEST_CASE("sysfs: malformed resource tables are parse_error or value_out_of_range, never a made-up BAR",
          "[sysfs][pci]") {
  fake_sysfs sys;
  struct row {
    const char* resource;
    std::error_code expected;
  };
  const row rows[] = {
      {"", errc::parse_error},                                            // empty file
      {"garbage\n", errc::parse_error},                                   // not numbers
      {"0x1000 0x1fff\n", errc::parse_error},                             // two numbers
      {"0x1000 0x1fff 0x200 0x0\n", errc::parse_error},                   // four numbers
      {"-0x1000 0x1fff 0x200\n", errc::parse_error},                      // a sign
      {"0x1000 0x1fffz 0x200\n", errc::parse_error},                      // trailing junk
      {"0x10000000000000000 0x1fff 0x200\n", errc::value_out_of_range},   // 2^64
      {"99999999999999999999999 0x1fff 0x200\n", errc::value_out_of_range},
  };
  for (const auto& r : rows) {
    INFO("resource: '" << r.resource << "'");
    sys.pci_device("0000:00:04.0", "0x1234\n", "0x11e8\n", r.resource);
    std::error_code ec;
    pci_bar_info("0000:00:04.0", 0, ec);
    CHECK(ec == r.expected);
  }
  // Fewer lines than the index asks for.
  sys.pci_device("0000:00:04.0", "0x1234\n", "0x11e8\n", "0x1000 0x1fff 0x200\n");
  std::error_code ec;
  pci_bar_info("0000:00:04.0", 3, ec);
  CHECK(ec == errc::parse_error);
  // Longer than any real table: refused, not cut off and parsed.
  std::string huge;
  for (int i = 0; i < 100; ++i) huge += "0x0000000000000000 0x0000000000000000 0x0000000000000000\n";
  sys.pci_device("0000:00:04.0", "0x1234\n", "0x11e8\n", huge);
  pci_bar_info("0000:00:04.0", 0, ec);
  CHECK(ec == errc::parse_error);
  // The message names the device, not a path that has gone away.
  const auto e = thrown_by([] { pci_bar_info("0000:00:04.0", 0); });
  CHECK(contains(e.what(), "read sysfs resource of PCI device '0000:00:04.0'"));
}

TEST_CASE("sysfs: a missing resource file or device is ENOENT naming the device", "[sysfs][pci]") {
  fake_sysfs sys;
  std::error_code ec;
  pci_bar_info("0000:00:04.0", 0, ec);
  CHECK(ec == std::errc::no_such_file_or_directory);
  CHECK(contains(thrown_by([] { pci_bar_info("0000:00:04.0", 0); }).what(), "'0000:00:04.0'"));
}

TEST_CASE("sysfs: a FIFO or a directory where an attribute should be fails at once, never hangs",
          "[sysfs][pci]") {
  fake_sysfs sys;
  fs::create_directories(sys / "bus/pci/devices/0000:00:04.0/resource");  // a directory
  std::error_code ec;
  pci_bar_info("0000:00:04.0", 0, ec);
  CHECK(ec == std::errc::is_a_directory);
  fs::create_directories(sys / "bus/pci/devices/0000:00:05.0");
  REQUIRE(::mkfifo((sys / "bus/pci/devices/0000:00:05.0/resource").c_str(), 0600) == 0);
  pci_bar_info("0000:00:05.0", 0, ec);  // no writer: reads as empty
  CHECK(ec == errc::parse_error);
}

TEST_CASE("sysfs: map_pci_bar maps the resource file and refuses what the table forbids", "[sysfs][pci]") {
  fake_sysfs sys;
  sys.pci_device("0000:00:04.0", "0x1234\n", "0x11e8\n", edu_like_resource);
  // A regular file stands in for the BAR: mapping it works like the real one.
  write_file(sys / "bus/pci/devices/0000:00:04.0/resource0", std::string(0x100000, '\0'));
  {
    auto bar0 = map_pci_bar("0000:00:04.0", 0, {.offset = 0x1000, .length = 8});
    CHECK(bar0.size() == 8);
    bar0.data()[0] = std::byte{0x5a};
  }
  CHECK(read_file(sys / "bus/pci/devices/0000:00:04.0/resource0")[0x1000] == 0x5a);
  CHECK(map_pci_bar("0000:00:04.0", 0).size() == 0x100000);

  std::error_code ec;
  map_pci_bar("0000:00:04.0", 1, {}, ec);
  CHECK(ec == std::errc::no_such_device_or_address);  // not implemented
  map_pci_bar("0000:00:04.0", 4, {}, ec);
  CHECK(ec == std::errc::operation_not_supported);  // I/O ports
  map_pci_bar("0000:00:04.0", 0, {.write_combining = true}, ec);
  CHECK(ec == std::errc::operation_not_supported);  // not prefetchable
  map_pci_bar("0000:00:04.0", 0, {.offset = 0xff000, .length = 0x2000}, ec);
  CHECK(ec == errc::range_outside_region);
  map_pci_bar("0000:00:04.0", 0, {.offset = 0x100001}, ec);
  CHECK(ec == errc::range_outside_region);
  map_pci_bar("0000:00:04.0", 6, {}, ec);
  CHECK(ec == std::errc::invalid_argument);
  map_pci_bar("0000:00:04.0/../../..", 0, {}, ec);
  CHECK(ec == errc::parse_error);
  // Prefetchable, so write-combining is allowed: resource2_wc is what opens.
  map_pci_bar("0000:00:04.0", 2, {.length = 4096, .write_combining = true}, ec);
  CHECK(ec == std::errc::no_such_file_or_directory);
  CHECK(contains(thrown_by([] { map_pci_bar("0000:00:04.0", 2, {.length = 4096, .write_combining = true}); }).what(),
                 "open sysfs resource file of PCI BAR '0000:00:04.0'"));
}

TEST_CASE("sysfs: pci_enable_intx and pci_enable_bus_master flip one bit of the command register",
          "[sysfs][pci]") {
  fake_sysfs sys;
  sys.pci_device("0000:00:04.0", "0x1234\n", "0x11e8\n", edu_like_resource);
  const auto config = sys / "bus/pci/devices/0000:00:04.0/config";
  std::string space(64, '\0');
  space[4] = '\x03';  // memory and I/O enabled
  space[5] = '\x05';  // INTx disabled (bit 10), SERR# enabled (bit 8)
  write_file(config, space);

  pci_enable_intx("0000:00:04.0");
  CHECK(read_file(config)[5] == '\x01');  // only INTx-disable cleared
  pci_enable_intx("0000:00:04.0", false);
  CHECK(read_file(config)[5] == '\x05');
  pci_enable_bus_master("0000:00:04.0");
  CHECK(read_file(config)[4] == '\x07');
  pci_enable_bus_master("0000:00:04.0", false);
  CHECK(read_file(config)[4] == '\x03');

  std::error_code ec;
  write_file(config, "");  // a config space too short to hold the register
  pci_enable_intx("0000:00:04.0", true, ec);
  CHECK(ec == std::errc::io_error);
  fs::remove(config);
  pci_enable_intx("0000:00:04.0", true, ec);
  CHECK(ec == std::errc::no_such_file_or_directory);
  CHECK(contains(thrown_by([] { pci_enable_intx("0000:00:04.0"); }).what(), "open sysfs config of PCI device"));
  pci_enable_intx("00:04.0", true, ec);
  CHECK(ec == errc::parse_error);
}

TEST_CASE("sysfs: UIO maps: addr, size, offset and the optional name of each mapN, in order", "[sysfs][uio]") {
  fake_sysfs sys;
  sys.attribute("class/uio/uio0/maps/map0/addr", "0x00000000fea00000\n");
  sys.attribute("class/uio/uio0/maps/map0/size", "0x0000000000100000\n");
  sys.attribute("class/uio/uio0/maps/map0/offset", "0x0\n");
  sys.attribute("class/uio/uio0/maps/map0/name", "bar0\n");
  sys.attribute("class/uio/uio0/maps/map1/addr", "0x00000000feb00000\n");
  sys.attribute("class/uio/uio0/maps/map1/size", "0x1000\n");
  sys.attribute("class/uio/uio0/maps/map1/offset", "0x80\n");
  sys.attribute("class/uio/uio0/maps/map3/addr", "0x0\n");  // after a gap: not listed
  detail::failure f;
  const auto maps = detail::read_uio_maps(0, f);
  REQUIRE_FALSE(f);
  REQUIRE(maps.size() == 2);
  CHECK(maps[0].index == 0);
  CHECK(maps[0].name == "bar0");
  CHECK(maps[0].address == 0xfea00000);
  CHECK(maps[0].size == 0x100000);
  CHECK(maps[0].offset == 0);
  CHECK(maps[1].index == 1);
  CHECK(maps[1].name.empty());
  CHECK(maps[1].size == 0x1000);
  CHECK(maps[1].offset == 0x80);
  detail::failure none;
  CHECK(detail::read_uio_maps(5, none).empty());  // a device without maps
  CHECK_FALSE(none);
}

TEST_CASE("sysfs: malformed UIO map attributes fail naming the attribute, not with a partial list", "[sysfs][uio]") {
  fake_sysfs sys;
  struct row {
    const char* size;  // nullptr: no size attribute
    std::error_code expected;
  };
  const row rows[] = {
      {"", errc::parse_error},
      {"\n", errc::parse_error},
      {"lots\n", errc::parse_error},
      {"0x1000 \n", errc::parse_error},
      {"0x1000\n\n", errc::parse_error},
      {"0x10000000000000000\n", errc::value_out_of_range},
      {nullptr, std::error_code(ENOENT, std::system_category())},
  };
  for (const auto& r : rows) {
    INFO("size: '" << (r.size != nullptr ? r.size : "(missing)") << "'");
    fs::remove_all(sys / "class/uio/uio0");
    for (const char* map : {"map0", "map1"}) {
      const std::string d = std::string("class/uio/uio0/maps/") + map + "/";
      sys.attribute(d + "addr", "0x1000\n");
      sys.attribute(d + "offset", "0x0\n");
      if (std::string(map) == "map0" || r.size != nullptr) sys.attribute(d + "size", "0x1000\n");
    }
    if (r.size != nullptr) sys.attribute("class/uio/uio0/maps/map1/size", r.size);
    detail::failure f;
    CHECK(detail::read_uio_maps(0, f).empty());
    CHECK(f.code == r.expected);
    REQUIRE(f.subject != nullptr);
    CHECK(contains(f.what(), "/class/uio/uio0/maps/map1/size'"));  // the attribute itself, map 1 of uio0
    CHECK_FALSE(f.has_address);  // no address is involved
  }
}

TEST_CASE("sysfs: the UIO event count is a 32-bit decimal attribute", "[sysfs][uio]") {
  fake_sysfs sys;
  struct row {
    const char* event;
    std::error_code expected;
    std::uint32_t count;
  };
  const row rows[] = {
      {"5\n", {}, 5},
      {"4294967295\n", {}, 4294967295U},
      {"4294967296\n", errc::value_out_of_range, 0},
      {"", errc::parse_error, 0},
      {"five\n", errc::parse_error, 0},
      {"-1\n", errc::parse_error, 0},
  };
  for (const auto& r : rows) {
    INFO("event: '" << r.event << "'");
    sys.attribute("class/uio/uio3/event", r.event);
    detail::failure f;
    std::uint32_t count = 0;
    CHECK(detail::read_uio_event_count(3, count, f) == !r.expected);
    CHECK(f.code == r.expected);
    if (!r.expected) CHECK(count == r.count);
    if (r.expected) CHECK(contains(f.what(), "/class/uio/uio3/event'"));  // the attribute's path
  }
  detail::failure f;
  std::uint32_t count = 0;
  CHECK_FALSE(detail::read_uio_event_count(4, count, f));
  CHECK(f.code == std::errc::no_such_file_or_directory);
}

TEST_CASE("sysfs: a UIO device's PCI address comes from its device link", "[sysfs][uio]") {
  fake_sysfs sys;
  fs::create_directories(sys / "devices/pci0000:00/0000:00:04.0");
  fs::create_directories(sys / "devices/platform/serial8250");
  fs::create_directories(sys / "class/uio/uio0");
  fs::create_directories(sys / "class/uio/uio1");
  fs::create_directories(sys / "class/uio/uio2");
  fs::create_symlink("../../../devices/pci0000:00/0000:00:04.0", sys / "class/uio/uio0/device");
  fs::create_symlink("../../../devices/platform/serial8250", sys / "class/uio/uio1/device");
  CHECK(detail::uio_pci_address(0) == "0000:00:04.0");
  CHECK(detail::uio_pci_address(1).empty());  // not a PCI device
  CHECK(detail::uio_pci_address(2).empty());  // no link
  CHECK(detail::uio_pci_address(9).empty());  // no device
}

TEST_CASE("sysfs: UIO devices are found by name: the lowest number wins, other entries are skipped",
          "[sysfs][uio]") {
  fake_sysfs sys;
  // Numbers far above any real /dev/uioN, so opening them fails the same
  // everywhere: ENOENT for the number that the name lookup chose.
  sys.attribute("class/uio/uio4000010/name", "uio_pci_generic\n");
  sys.attribute("class/uio/uio4000002/name", "uio_pci_generic\n");
  sys.attribute("class/uio/uio4000001/name", "other\n");
  sys.attribute("class/uio/uio4000003/name", "");
  sys.attribute("class/uio/uiofoo/name", "uio_pci_generic\n");
  sys.attribute("class/uio/uio99999999999/name", "uio_pci_generic\n");  // above unsigned
  fs::create_directories(sys / "class/uio/uio4000004");                   // no name
  unsigned number = 0;
  detail::failure f;
  REQUIRE(detail::find_uio_by_name("uio_pci_generic", number, f));
  CHECK(number == 4000002);
  const auto e = thrown_by([] { uio_device::open_by_name("uio_pci_generic"); });
  CHECK(e.code() == std::errc::no_such_file_or_directory);
  CHECK(contains(e.what(), "'uio_pci_generic: /dev/uio4000002'"));  // the name and the file it chose

  std::error_code ec;
  uio_device::open_by_name("nothing bound", ec);
  CHECK(ec == std::errc::no_such_device);
  fs::remove_all(sys / "class/uio");
  uio_device::open_by_name("uio_pci_generic", ec);
  CHECK(ec == std::errc::no_such_file_or_directory);
  CHECK(contains(thrown_by([] { uio_device::open_by_name("x"); }).what(), "is the uio module loaded?"));
}

TEST_CASE("sysfs: a sysfs root so long that the path cannot be built is ENAMETOOLONG", "[sysfs]") {
  fake_sysfs sys;
  ::setenv("MMAPX_SYSFS_ROOT", std::string(600, 'x').c_str(), 1);
  std::error_code ec;
  pci_bar_info("0000:00:04.0", 0, ec);
  CHECK(ec == std::errc::filename_too_long);
  find_pci_devices(1, 2, ec);
  CHECK(ec == std::errc::filename_too_long);
}

TEST_CASE("posix: parse_unsigned takes decimal, 0x and 0b over the full 64-bit range", "[posix]") {
  struct row {
    const char* text;
    std::error_code expected;
    std::uint64_t value;
  };
  const row rows[] = {
      {"0", {}, 0},
      {"010", {}, 10},  // no octal
      {"0x1F", {}, 31},
      {"0X1f", {}, 31},
      {"0b101", {}, 5},
      {"18446744073709551615", {}, UINT64_MAX},
      {"0xffffffffffffffff", {}, UINT64_MAX},
      {"18446744073709551616", errc::value_out_of_range, 0},
      {"0x10000000000000000", errc::value_out_of_range, 0},
      {"", errc::parse_error, 0},
      {"0x", errc::parse_error, 0},
      {"0b2", errc::parse_error, 0},
      {"-1", errc::parse_error, 0},
      {"+1", errc::parse_error, 0},
      {" 1", errc::parse_error, 0},
      {"1 ", errc::parse_error, 0},
      {"12Q", errc::parse_error, 0},
  };
  for (const auto& r : rows) {
    INFO("text: '" << r.text << "'");
    detail::failure f;
    std::uint64_t value = 42;
    CHECK(detail::parse_unsigned(r.text, value, f, "parse") == !r.expected);
    CHECK(f.code == r.expected);
    CHECK(value == (r.expected ? 42 : r.value));  // untouched on failure
  }
}

TEST_CASE("posix: a deadline follows the one timeout rule (negative forever, zero once, huge forever)",
          "[posix]") {
  using namespace std::chrono;
  CHECK(detail::deadline(milliseconds(-1)).poll_ms() == -1);
  CHECK_FALSE(detail::deadline(milliseconds(-1)).expired());
  CHECK(detail::deadline(milliseconds(0)).poll_ms() == 0);
  CHECK(detail::deadline(milliseconds(0)).expired());
  CHECK(detail::deadline(nanoseconds(0)).expired());
  CHECK_FALSE(detail::deadline(milliseconds::max()).expired());
  CHECK(detail::deadline(milliseconds::max()).poll_ms() == -1);
  CHECK(detail::deadline(nanoseconds::max()).poll_ms() == -1);
  CHECK(detail::deadline(hours::max()).poll_ms() == -1);
  const int left = detail::deadline(seconds(10)).poll_ms();
  CHECK(left > 0);
  CHECK(left <= 10000);
  CHECK(detail::deadline(hours(24 * 365)).poll_ms() == INT_MAX);  // capped; the caller polls again
}

TEST_CASE("posix: poll_until tells ready, expired and a closed descriptor apart", "[posix]") {
  using namespace std::chrono;
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  detail::failure f;
  CHECK_FALSE(detail::poll_until(fds[0], POLLIN, detail::deadline(milliseconds(0)), f, "poll"));
  CHECK_FALSE(f);  // expiry is not an error here: the caller decides
  CHECK_FALSE(detail::poll_until(fds[0], POLLIN, detail::deadline(milliseconds(20)), f, "poll"));
  CHECK_FALSE(f);
  REQUIRE(::write(fds[1], "x", 1) == 1);
  CHECK(detail::poll_until(fds[0], POLLIN, detail::deadline(milliseconds(-1)), f, "poll"));
  CHECK_FALSE(f);
  ::close(fds[0]);
  ::close(fds[1]);
  CHECK_FALSE(detail::poll_until(fds[0], POLLIN, detail::deadline(milliseconds(-1)), f, "poll"));
  CHECK(f.code == std::errc::bad_file_descriptor);
}

TEST_CASE("posix: without_end is the rule's one test: negative or too long for the clock", "[posix]") {
  using namespace std::chrono;
  CHECK(detail::without_end(nanoseconds(-1)));
  CHECK(detail::without_end(milliseconds::max()));
  CHECK(detail::without_end(nanoseconds::max()));
  CHECK(detail::without_end(hours::max()));
  CHECK(detail::without_end(duration<double>(1e300)));
  CHECK_FALSE(detail::without_end(nanoseconds(0)));
  CHECK_FALSE(detail::without_end(hours(24 * 365 * 100)));
}

TEST_CASE("reg wait_until follows the timeout rule: no end for negative or huge timeouts, zero checks once",
          "[posix][reg]") {
  using namespace std::chrono;
  // Shared memory stands in for the device; a child process plays the
  // device and finishes "computing" 20 ms later (a process, not a thread:
  // no data race for the thread sanitizer to see).
  auto memory = map_anonymous(mmapx::edu::bar0_size, {.shared = true});
  auto regs = reg::bind<mmapx::edu::map>(memory.bytes());
  auto* status = reinterpret_cast<volatile std::uint32_t*>(memory.data() + 0x20);
  for (const nanoseconds timeout : {nanoseconds(-1), nanoseconds::max()}) {
    INFO("timeout: " << timeout.count() << " ns");
    *status = 1;  // computing
    mmapx_test::child device([&] {
      std::this_thread::sleep_for(milliseconds(20));
      *status = 0;
      return 0;
    });
    std::error_code ec;
    regs.wait_until(mmapx::edu::status::computing::val<0>, timeout, ec);  // nanoseconds::max() timed out at once before
    CHECK_FALSE(ec);
    CHECK(device.wait().exited(0));
  }
  *status = 1;
  std::error_code ec;
  regs.wait_until(mmapx::edu::status::computing::val<0>, nanoseconds(0), ec);
  CHECK(ec == errc::timed_out);
}
