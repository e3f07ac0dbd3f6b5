// Unit tests of mmapx/vfio.hpp that need no device: what the build machine
// offers (usually no VFIO at all), and objects that own nothing. The
// device, DMA and interrupt paths run in the VM (tests/vm/vfio_test.cpp).
#include <catch.hpp>

#include <mmapx/anonymous.hpp>
#include <mmapx/vfio.hpp>

#include <unistd.h>

#include <chrono>
#include <string>

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
