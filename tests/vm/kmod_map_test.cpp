// In-guest tests of the module's mmap path through mmapx::kmod: every method
// and cache mode, whole and partial mappings, fault counts, the memory type
// the page tables really hold, the read-only status page and the mapping
// rules (no private, no exec, no growth, no write added later).
#include "kmod_support.hpp"

#include <mmapx/kmod.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace kmod_test;
using mmapx::access;

namespace {

std::uint64_t faults(const kmod::device& dev) { return dev.stats().faults; }

kmod::memory_type expected_type(kmod::cache_mode cache) {
  switch (cache) {
    case kmod::cache_mode::uncached: return kmod::memory_type::uncached_minus;
    case kmod::cache_mode::write_combining: return kmod::memory_type::write_combining;
    case kmod::cache_mode::cached: break;
  }
  return kmod::memory_type::write_back;
}

}  // namespace

TEST_CASE("kmod: the device reports its geometry, the status page holds the same") {
  auto dev = kmod::device::open(kmod::device_path(0));
  const auto& g = dev.info();
  CHECK(g.abi_version == MMAPX_KMOD_ABI_VERSION);
  CHECK(g.minor == 0);
  CHECK(g.page_size == static_cast<std::uint32_t>(::sysconf(_SC_PAGESIZE)));
  CHECK(g.buffer_count >= 2);
  CHECK(g.buffer_size >= 4 * g.page_size);
  CHECK(g.buffer_size % g.page_size == 0);
  CHECK(g.cache_modes == 0b111);
  CHECK(g.methods == 0b11);

  auto status = dev.map_status();
  REQUIRE(status.size() == sizeof(kmod::geometry));
  kmod::geometry copy{};
  std::memcpy(&copy, status.data(), sizeof copy);
  CHECK(std::memcmp(&copy, &g, sizeof copy) == 0);

  auto other = kmod::device::open(kmod::device_path(1));
  CHECK(other.info().minor == 1);
}

TEST_CASE("kmod: every method and cache mode maps, reads and writes, whole and partial") {
  auto dev = kmod::device::open(kmod::device_path(0));
  const auto& g = dev.info();
  const std::size_t page = g.page_size;
  for (auto cache : all_caches) {
    for (auto method : all_methods) {
      for (std::uint32_t index : {0u, g.buffer_count - 1}) {
        CAPTURE(static_cast<int>(cache), static_cast<int>(method), index);
        auto whole = dev.map({.index = index, .cache = cache, .method = method});
        REQUIRE(whole.size() == g.buffer_size);
        const auto salt = static_cast<std::uint8_t>(17 * static_cast<int>(cache) +
                                                    5 * static_cast<int>(method) + index);
        for (std::size_t i = 0; i < whole.size(); ++i)
          whole.data()[i] = std::byte(static_cast<std::uint8_t>(i * 7 + salt));

        // Partial, at an offset that is not even page-aligned.
        const std::uint64_t offset = page + 100;
        const std::size_t length = 2 * page;
        auto part = dev.map({.index = index, .cache = cache, .method = method,
                             .offset = offset, .length = length});
        REQUIRE(part.size() == length);
        CHECK(std::memcmp(part.data(), whole.data() + offset, length) == 0);
        part.data()[0] = std::byte{0xA5};
        part.data()[length - 1] = std::byte{0x5A};
        CHECK(whole.data()[offset] == std::byte{0xA5});
        CHECK(whole.data()[offset + length - 1] == std::byte{0x5A});

        // The other method shows the same buffer.
        const auto other_method =
            method == kmod::map_method::eager ? kmod::map_method::lazy : kmod::map_method::eager;
        auto other = dev.map<access::read>({.index = index, .cache = cache,
                                            .method = other_method,
                                            .offset = g.buffer_size - page});
        REQUIRE(other.size() == page);
        CHECK(std::memcmp(other.data(), whole.data() + g.buffer_size - page, page) == 0);
      }
    }
  }
}

TEST_CASE("kmod: eager mappings serve no faults, lazy ones one per touched page") {
  auto dev = kmod::device::open(kmod::device_path(0));
  const auto& g = dev.info();
  const std::size_t page = g.page_size;
  const std::size_t pages = g.buffer_size / page;
  for (auto cache : all_caches) {
    CAPTURE(static_cast<int>(cache));
    const auto live_before = dev.stats().live_mappings;
    {
      const auto before = faults(dev);
      auto eager = dev.map({.index = 1, .cache = cache, .method = kmod::map_method::eager});
      for (std::size_t p = 0; p < pages; ++p) eager.data()[p * page] = std::byte{1};
      CHECK(faults(dev) == before);
      CHECK(dev.stats().live_mappings == live_before + 1);
    }
    {
      const auto before = faults(dev);
      auto lazy = dev.map({.index = 1, .cache = cache, .method = kmod::map_method::lazy});
      CHECK(faults(dev) == before);
      const std::vector<std::size_t> touched{0, 3, pages - 1};
      for (auto p : touched) (void)*reinterpret_cast<volatile const std::uint8_t*>(lazy.data() + p * page);
      CHECK(faults(dev) == before + touched.size());
      // Touching a mapped page again (reading or writing) needs no fault.
      for (auto p : touched) lazy.data()[p * page + 8] = std::byte{2};
      CHECK(faults(dev) == before + touched.size());

      const auto before_part = faults(dev);
      auto part = dev.map({.index = 1, .cache = cache, .method = kmod::map_method::lazy,
                           .offset = 2 * page, .length = 3 * page});
      for (std::size_t p = 0; p < 3; ++p) part.data()[p * page] = std::byte{3};
      CHECK(faults(dev) == before_part + 3);
      CHECK(dev.stats().live_mappings == live_before + 2);
    }
    CHECK(dev.stats().live_mappings == live_before);
  }
}

TEST_CASE("kmod: the page tables give each buffer its cache type, user and kernel alike") {
  auto dev = kmod::device::open(kmod::device_path(0));
  const auto& g = dev.info();
  std::ifstream list("/sys/kernel/debug/x86/pat_memtype_list");
  REQUIRE(list.good());  // /init mounts debugfs
  std::stringstream pat_text;
  pat_text << list.rdbuf();

  for (auto cache : all_caches) {
    for (auto method : all_methods) {
      CAPTURE(static_cast<int>(cache), static_cast<int>(method));
      auto r = dev.map({.index = 0, .cache = cache, .method = method});
      if (method == kmod::map_method::lazy) {
        // Nothing maps an untouched lazy page yet.
        std::error_code ec;
        (void)dev.memory_type_of(r.data() + g.page_size, ec);
        CHECK(ec == std::errc::bad_address);
      }
      for (std::size_t p = 0; p < g.buffer_size / g.page_size; ++p) {
        r.data()[p * g.page_size] = std::byte{0x11};
        const auto t = dev.memory_type_of(r.data() + p * g.page_size);
        CHECK(t.user == expected_type(cache));
        CHECK(t.kernel == expected_type(cache));
        if (p == 0) {
          const auto bus = dev.bus_address(cache, 0);
          CHECK(t.physical == bus);
          CHECK(bus + g.buffer_size <= (std::uint64_t{1} << 32));  // GFP_DMA32
        }
      }
    }
  }
  // The kernel tracks RAM's memory type in struct page, not in this list
  // (arch/x86/mm/pat/memtype.c, memtype_reserve: RAM returns early), so the
  // buffers must not show up here with any type, right or wrong.
  for (auto cache : all_caches) {
    char start[32];
    std::snprintf(start, sizeof start, "0x%016llx",
                  static_cast<unsigned long long>(dev.bus_address(cache, 0)));
    CAPTURE(start);
    CHECK(pat_text.str().find(start) == std::string::npos);
  }
}

TEST_CASE("kmod: mapping rules: no private, no exec, read-only stays read-only, no growth") {
  auto dev = kmod::device::open(kmod::device_path(0));
  const auto& g = dev.info();
  const int fd = dev.native_handle();
  const std::uint64_t buf0 = kmod::buffer_offset(kmod::cache_mode::cached,
                                                 kmod::map_method::eager, 0);
  int error = 0;

  CHECK(raw_mmap(g.buffer_size, PROT_READ, MAP_PRIVATE, fd, buf0, error) == nullptr);
  CHECK(error == EINVAL);
  CHECK(raw_mmap(g.buffer_size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, buf0, error) == nullptr);
  CHECK(error == EPERM);
  CHECK(raw_mmap(g.page_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, MMAPX_KMOD_STATUS_OFFSET,
                 error) == nullptr);
  CHECK(error == EACCES);

  // mprotect cannot add what mmap cleared.
  void* status = raw_mmap(g.page_size, PROT_READ, MAP_SHARED, fd, MMAPX_KMOD_STATUS_OFFSET, error);
  REQUIRE(status != nullptr);
  CHECK(::mprotect(status, g.page_size, PROT_READ | PROT_WRITE) == -1);
  CHECK(errno == EACCES);
  CHECK(::munmap(status, g.page_size) == 0);

  void* data = raw_mmap(g.buffer_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, buf0, error);
  REQUIRE(data != nullptr);
  CHECK(::mprotect(data, g.buffer_size, PROT_READ | PROT_EXEC) == -1);
  CHECK(errno == EACCES);

  // Growing in place or by moving fails (VM_DONTEXPAND); a same-size move works.
  const auto live = dev.stats().live_mappings;
  CHECK(::mremap(data, g.buffer_size, 2 * g.buffer_size, 0) == MAP_FAILED);
  CHECK(errno == EFAULT);
  CHECK(::mremap(data, g.buffer_size, 2 * g.buffer_size, MREMAP_MAYMOVE) == MAP_FAILED);
  CHECK(errno == EFAULT);
  void* far = ::mmap(nullptr, g.buffer_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(far != MAP_FAILED);
  void* moved = ::mremap(data, g.buffer_size, g.buffer_size, MREMAP_MAYMOVE | MREMAP_FIXED, far);
  REQUIRE(moved == far);
  CHECK(dev.stats().live_mappings == live);
  static_cast<volatile std::uint8_t*>(moved)[0] = 0x42;
  // Shrinking is fine: the rest is simply unmapped.
  CHECK(::mremap(moved, g.buffer_size, g.page_size, 0) == moved);
  CHECK(::munmap(moved, g.page_size) == 0);
  CHECK(dev.stats().live_mappings == live - 1);
}

TEST_CASE("kmod: bad requests get clear errors from the library") {
  std::error_code ec;
  auto missing = kmod::device::open("/dev/mmapx-none", ec);
  CHECK(ec == std::errc::no_such_file_or_directory);
  try {
    (void)kmod::device::open("/dev/mmapx-none");
    FAIL("open of a missing device did not throw");
  } catch (const std::system_error& e) {
    CHECK(std::string(e.what()).find("/dev/mmapx-none") != std::string::npos);
  }

  auto dev = kmod::device::open(kmod::device_path(0));
  const auto& g = dev.info();
  (void)dev.map({.index = g.buffer_count}, ec);
  CHECK(ec == mmapx::errc::range_outside_region);
  (void)dev.map({.offset = g.buffer_size - 10, .length = 11}, ec);
  CHECK(ec == mmapx::errc::range_outside_region);
  (void)dev.map({.offset = g.buffer_size + 1}, ec);
  CHECK(ec == mmapx::errc::range_outside_region);
  auto last = dev.map({.offset = g.buffer_size - 10, .length = 10}, ec);
  CHECK(!ec);
  CHECK(last.size() == 10);

  dev.start(std::chrono::nanoseconds(0), kmod::cache_mode::cached, ec);
  CHECK(ec == std::errc::invalid_argument);
  dev.hand_back(0, ec);
  CHECK(ec == std::errc::invalid_argument);
  (void)dev.bus_address(kmod::cache_mode::cached, g.buffer_count, ec);
  CHECK(ec == std::errc::invalid_argument);
  int local = 0;
  (void)dev.memory_type_of(&local, ec);
  CHECK(ec == std::errc::invalid_argument);

  // Unknown ioctl commands are ENOTTY.
  CHECK(::ioctl(dev.native_handle(), _IO(MMAPX_KMOD_IOC_MAGIC, 0x7f)) == -1);
  CHECK(errno == ENOTTY);
}
