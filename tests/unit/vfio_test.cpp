// Unit tests of mmapx/vfio.hpp that need no device: what the build machine
// offers (usually no VFIO at all), objects that own nothing, and the checks
// of sysfs made before VFIO is asked (on a fake sysfs tree). The device, DMA
// and interrupt paths run in the VM (tests/vm/vfio_test.cpp).
#include <catch.hpp>

#include <mmapx/anonymous.hpp>
#include <mmapx/vfio.hpp>

#include <unistd.h>

#include <chrono>
#include <string>

#include "fake_sysfs.hpp"
#include "test_support.hpp"

using namespace std::chrono_literals;
namespace vfio = mmapx::vfio;

TEST_CASE("VFIO on the build machine: the container opens, or the message says what to load", "[vfio]") {
  std::error_code ec;
  auto box = vfio::container::open(ec);
  if (::access("/dev/vfio/vfio", F_OK) != 0) {
    CHECK(ec == std::errc::no_such_file_or_directory);
    CHECK_FALSE(box.is_open());
    try {
      (void)vfio::container::open();
      FAIL("no exception");
    } catch (const std::system_error& e) {
      CHECK_THAT(e.what(), Catch::Contains("load the vfio, vfio_iommu_type1 and vfio-pci modules") &&
                               Catch::Contains("/dev/vfio/vfio"));
    }
  } else {
    CHECK((!ec || ec == std::errc::permission_denied));
  }
}

TEST_CASE("VFIO: addresses are checked before anything is opened", "[vfio]") {
  vfio::container none;
  std::error_code ec;
  for (const char* bad : {"", "00:04.0", "0000:00:04", "0000:00:04.8", "../../../../dev/mem", "0000:0g:04.0"}) {
    (void)none.open_device(bad, ec);
    CHECK(ec == mmapx::errc::parse_error);
  }
  (void)none.open_device("0000:7f:1f.7", ec);  // well-formed, but no such device
  CHECK(ec == std::errc::no_such_file_or_directory);
  try {
    (void)none.open_device("0000:7f:1f.7");
    FAIL("no exception");
  } catch (const std::system_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("no such PCI device") && Catch::Contains("0000:7f:1f.7"));
  }
}

TEST_CASE("VFIO: objects that own nothing are safe to use and say so", "[vfio]") {
  std::error_code ec;
  vfio::container box;
  CHECK_FALSE(box.is_open());
  CHECK(box.native_handle() == -1);
  CHECK(box.iova_ranges().empty());
  CHECK(box.iova_page_sizes() == 0);
  CHECK_FALSE(box.dma_mappings_available().has_value());
  auto memory = mmapx::map_anonymous(4096);
  (void)box.map_dma(memory, {}, ec);
  CHECK(ec == std::errc::invalid_argument);

  vfio::device dev;
  CHECK_FALSE(dev.is_open());
  CHECK(dev.native_handle() == -1);
  (void)dev.region_info(0, ec);
  CHECK(ec == std::errc::bad_file_descriptor);
  (void)dev.map_region(0, 0, 0, {}, ec);
  CHECK(ec == std::errc::bad_file_descriptor);
  (void)dev.enable_interrupts(vfio::irq_type::msi, 1, ec);
  CHECK(ec == std::errc::bad_file_descriptor);
  dev.reset(ec);
  CHECK(ec == std::errc::not_supported);

  vfio::dma_mapping mapping;
  CHECK_FALSE(mapping.is_mapped());
  CHECK(mapping.size() == 0);
  (void)mapping.iova_of(memory.data(), ec);
  CHECK(ec == mmapx::errc::range_outside_region);
  mapping.unmap(ec);
  CHECK(!ec);

  vfio::interrupts irq;
  CHECK(irq.vectors() == 0);
  CHECK(irq.native_handle() == -1);
  CHECK(irq.count() == 0);
  (void)irq.wait(1ms, 0, ec);
  CHECK(ec == std::errc::invalid_argument);
  irq.unmask(ec);
  CHECK(ec == mmapx::errc::not_mapped);
}

TEST_CASE("VFIO: which ranges of a region may be mapped (sparse-mmap areas)", "[vfio]") {
  // A 16 KiB BAR whose middle page (say, an MSI-X table) may not be mapped.
  vfio::region_info bar;
  bar.size = 0x4000;
  bar.readable = bar.writable = bar.mappable = true;
  bar.areas = {{0x0, 0x1000}, {0x2000, 0x2000}};
  std::error_code code;
  using mmapx::vfio::detail::unmappable;
  CHECK(unmappable(bar, 0, 0x1000, true, code) == nullptr);
  CHECK(unmappable(bar, 0x10, 0x20, true, code) == nullptr);
  CHECK(unmappable(bar, 0x2000, 0x2000, true, code) == nullptr);
  CHECK(unmappable(bar, 0x3ffc, 4, false, code) == nullptr);
  for (auto [offset, length] : {std::pair<std::uint64_t, std::uint64_t>{0, 0x4000}, {0x800, 0x1000}, {0x1000, 0x10},
                                {0x1ff0, 0x20}, {0x3ffc, 8}, {0x4000, 1}, {UINT64_MAX, 2}, {0, 0}}) {
    INFO(offset << " + " << length);
    CHECK(unmappable(bar, offset, length, true, code) != nullptr);
    CHECK(code == mmapx::errc::range_outside_region);
  }
  CHECK(std::string(unmappable(bar, 0x1000, 0x10, true, code)).find("sparse-mmap") != std::string::npos);
  // Without the capability, all of it.
  bar.areas.clear();
  CHECK(unmappable(bar, 0, 0x4000, true, code) == nullptr);
  // Read-only, not mappable, absent.
  bar.writable = false;
  CHECK(unmappable(bar, 0, 0x1000, false, code) == nullptr);
  CHECK(unmappable(bar, 0, 0x1000, true, code) != nullptr);
  CHECK(code == std::errc::permission_denied);
  bar.mappable = false;
  CHECK(std::string(unmappable(bar, 0, 0x1000, false, code)).find("does not allow mmap") != std::string::npos);
  CHECK(code == std::errc::operation_not_supported);
  bar.size = 0;
  CHECK(std::string(unmappable(bar, 0, 0x1000, false, code)).find("does not exist") != std::string::npos);
}

namespace {

constexpr const char* nic = "0000:00:04.0";

/// A fake tree with PCI device `nic`, in IOMMU group 7 unless `group` is
/// empty, bound to `driver` unless that is empty.
void vfio_candidate(const mmapx_test::fake_sysfs& sys, const std::string& group, const std::string& driver) {
  sys.pci_device(nic, "0x8086\n", "0x100e\n");
  const std::string dev = std::string("bus/pci/devices/") + nic;
  if (!group.empty()) sys.link(dev + "/iommu_group", "../../../../kernel/iommu_groups/" + group);
  if (!driver.empty()) sys.link(dev + "/driver", "../../../../bus/pci/drivers/" + driver);
}

/// open_device's error for `nic` on a container that is not open (the
/// sysfs checks run first).
std::system_error open_error() {
  vfio::container none;
  return mmapx_test::thrown_by([&] { (void)none.open_device(nic); });
}

}  // namespace

TEST_CASE("VFIO sysfs checks: a device without an IOMMU group link is ENODEV: the IOMMU is off", "[vfio][sysfs]") {
  mmapx_test::fake_sysfs sys;
  for (const char* group : {"", "not-a-number", "99999999999"}) {
    INFO("iommu_group -> " << group);
    vfio_candidate(sys, group, "vfio-pci");
    const auto e = open_error();
    CHECK(e.code() == std::errc::no_such_device);
    CHECK_THAT(e.what(), Catch::Contains("the device has no IOMMU group: the IOMMU is off or absent") &&
                             Catch::Contains("intel_iommu=on") && Catch::Contains(nic));
    std::filesystem::remove_all(sys / "bus/pci/devices" / nic);
  }
}

TEST_CASE("VFIO sysfs checks: a device bound to another driver (or none) gets the commands that bind it",
          "[vfio][sysfs]") {
  mmapx_test::fake_sysfs sys;
  const std::string root = (sys / "").string();  // "<root>/"
  vfio_candidate(sys, "7", "e1000");
  auto e = open_error();
  CHECK(e.code() == std::errc::no_such_device);
  CHECK_THAT(e.what(), Catch::Contains("the device is bound to e1000, not to vfio-pci") &&
                           Catch::Contains("modprobe vfio-pci") &&
                           Catch::Contains("echo vfio-pci > " + root + "bus/pci/devices/" + nic + "/driver_override") &&
                           Catch::Contains(std::string("echo ") + nic + " > " + root + "bus/pci/drivers/e1000/unbind") &&
                           Catch::Contains(std::string("echo ") + nic + " > " + root + "bus/pci/drivers_probe"));

  std::filesystem::remove(sys / "bus/pci/devices" / nic / "driver");
  e = open_error();
  CHECK(e.code() == std::errc::no_such_device);
  CHECK_THAT(e.what(), Catch::Contains("bound to no driver, not to vfio-pci") &&
                           Catch::Contains(root + "bus/pci/drivers_probe") && !Catch::Contains("unbind"));

  // Bound to vfio-pci: the checks pass and the closed container is next.
  vfio_candidate(sys, "", "vfio-pci");
  std::error_code ec;
  vfio::container none;
  (void)none.open_device(nic, ec);
  CHECK(ec == mmapx::errc::not_mapped);
}

TEST_CASE("VFIO sysfs checks: a group that is not viable names the device bound to another driver",
          "[vfio][sysfs]") {
  mmapx_test::fake_sysfs sys;
  const std::string group = "kernel/iommu_groups/7/devices/";
  const auto member = [&](const std::string& address, const std::string& driver) {
    std::filesystem::create_directories(sys / (group + address));
    if (!driver.empty()) sys.link(group + address + "/driver", "../../../../bus/pci/drivers/" + driver);
  };
  member(nic, "vfio-pci");
  member("0000:00:00.0", "pcieport");  // a bridge: harmless
  member("0000:00:04.1", "");          // bound to nothing: harmless
  mmapx::detail::failure f;
  vfio::detail::explain_not_viable(7, nic, f);
  CHECK(f.code == std::errc::device_or_resource_busy);
  CHECK_THAT(f.operation, Catch::Contains("open VFIO group 7 (not viable: another device of the group, unknown,"));

  member("0000:00:04.2", "e1000");
  f = {};
  vfio::detail::explain_not_viable(7, nic, f);
  CHECK(f.code == std::errc::device_or_resource_busy);
  CHECK_THAT(f.operation, Catch::Contains("another device of the group, 0000:00:04.2 (bound to e1000), is bound") &&
                              Catch::Contains("bind it to vfio-pci too"));

  // The device itself never blocks its group, whatever it is bound to.
  std::filesystem::remove_all(sys / "kernel");
  member(nic, "e1000");
  f = {};
  vfio::detail::explain_not_viable(7, nic, f);
  CHECK_THAT(f.operation, Catch::Contains("another device of the group, unknown,"));
}
