// In-guest privilege tests of the module: every ioctl (the documented ones
// and a sweep of every other command number, direction and size under the
// module's magic), read() and the status page are tried as uid 65534 and as
// root without CAP_SYS_ADMIN; nothing they return may be a physical address
// of the module's memory or a kernel pointer. Root with CAP_SYS_ADMIN is the
// control: it does get physical addresses, so the detector can see a leak.
#include "kmod_support.hpp"
#include "privileges.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

using namespace kmod_test;
using namespace std::chrono_literals;

namespace {

/// Physical ranges of the module's memory that root learnt: [first, last].
using ranges = std::vector<std::pair<std::uint64_t, std::uint64_t>>;

/// What one call gave back to user space.
struct answer {
  std::string what;
  int error = 0;                  // errno, 0 on success
  std::vector<std::uint8_t> out;  // the bytes the kernel could have written
  std::vector<std::uint8_t> in;   // the same bytes before the call (empty: zeros)
};

/// A word the kernel wrote that is a kernel address (upper canonical half)
/// or lies in the module's physical memory, or the empty string.
std::string leak_in(const answer& a, const ranges& physical) {
  for (std::size_t at = 0; at + 8 <= a.out.size(); at += 4) {
    std::uint64_t word, before = 0;
    std::memcpy(&word, a.out.data() + at, sizeof word);
    if (at + 8 <= a.in.size()) std::memcpy(&before, a.in.data() + at, sizeof before);
    if (word == before) continue;  // what the caller passed in
    char text[160];
    if (word >= 0xffff800000000000ULL) {
      std::snprintf(text, sizeof text, "%s: kernel pointer 0x%llx at byte %zu", a.what.c_str(),
                    static_cast<unsigned long long>(word), at);
      return text;
    }
    for (const auto& [first, last] : physical) {
      if (word >= first && word <= last) {
        std::snprintf(text, sizeof text, "%s: physical address 0x%llx at byte %zu",
                      a.what.c_str(), static_cast<unsigned long long>(word), at);
        return text;
      }
    }
  }
  return {};
}

/// ioctl with `in` (size bytes, or zeros) at the start of a zeroed page; the
/// whole page is the answer, in case the kernel writes past `size`.
answer call(int fd, unsigned long request, const void* in, std::size_t size, std::string what) {
  answer a{std::move(what), 0, std::vector<std::uint8_t>(4096), {}};
  if (in != nullptr) std::memcpy(a.out.data(), in, size);
  a.in = a.out;
  if (::ioctl(fd, request, a.out.data()) != 0) a.error = errno;
  return a;
}

/// Every documented ioctl with valid arguments, read() of an event, the
/// status page, then every other command of the module's magic.
std::vector<answer> every_call(int fd, const kmod::geometry& g) {
  std::vector<answer> all;
  all.push_back(call(fd, MMAPX_KMOD_IOC_GEOMETRY, nullptr, sizeof(kmod::geometry), "GEOMETRY"));
  ::mmapx_kmod_producer producer{1000000, MMAPX_KMOD_CACHED, 0};
  all.push_back(call(fd, MMAPX_KMOD_IOC_START, &producer, sizeof producer, "START"));
  const std::uint64_t period = 2000000;
  all.push_back(call(fd, MMAPX_KMOD_IOC_SET_PERIOD, &period, sizeof period, "SET_PERIOD"));
  pollfd p{fd, POLLIN, 0};
  answer event{"read", 0, std::vector<std::uint8_t>(sizeof(::mmapx_kmod_event)), {}};
  if (::poll(&p, 1, 5000) != 1 || ::read(fd, event.out.data(), event.out.size()) !=
                                      static_cast<ssize_t>(event.out.size()))
    event.error = errno ? errno : EIO;
  all.push_back(event);
  ::mmapx_kmod_event e{};
  std::memcpy(&e, event.out.data(), sizeof e);
  all.push_back(call(fd, MMAPX_KMOD_IOC_RELEASE, &e.index, sizeof e.index, "RELEASE"));
  all.push_back(call(fd, MMAPX_KMOD_IOC_STATS, nullptr, sizeof(kmod::statistics), "STATS"));
  all.push_back(call(fd, MMAPX_KMOD_IOC_STOP, nullptr, 0, "STOP"));
  for (auto cache : all_caches) {
    for (std::uint32_t i = 0; i < g.buffer_count; ++i) {
      ::mmapx_kmod_bus_address ba{static_cast<std::uint32_t>(cache), i, 0};
      all.push_back(call(fd, MMAPX_KMOD_IOC_BUS_ADDRESS, &ba, sizeof ba,
                         "BUS_ADDRESS " + std::to_string(i)));
    }
    for (auto method : all_methods) {
      int error = 0;
      void* map = raw_mmap(g.buffer_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                           kmod::buffer_offset(cache, method, 0), error);
      if (map == nullptr) {
        all.push_back({"mmap", error, {}, {}});
        continue;
      }
      static_cast<volatile std::uint8_t*>(map)[g.page_size] = 1;  // a lazy page, touched
      ::mmapx_kmod_memtype mt{reinterpret_cast<std::uintptr_t>(map) + g.page_size, 0, 0, 0};
      all.push_back(call(fd, MMAPX_KMOD_IOC_MEMTYPE, &mt, sizeof mt, "MEMTYPE"));
      ::munmap(map, g.buffer_size);
    }
  }
  int error = 0;
  void* status = raw_mmap(g.page_size, PROT_READ, MAP_SHARED, fd, MMAPX_KMOD_STATUS_OFFSET, error);
  if (status != nullptr) {
    ::mmapx_kmod_memtype mt{reinterpret_cast<std::uintptr_t>(status), 0, 0, 0};
    all.push_back(call(fd, MMAPX_KMOD_IOC_MEMTYPE, &mt, sizeof mt, "MEMTYPE status"));
    const auto* bytes = static_cast<const std::uint8_t*>(status);
    all.push_back({"status page", 0, std::vector<std::uint8_t>(bytes, bytes + g.page_size), {}});
    ::munmap(status, g.page_size);
  }
  // Every command number, direction and size of the magic, with zeroed input.
  for (unsigned nr = 0; nr < 32; ++nr) {
    for (unsigned dir : {_IOC_NONE, _IOC_READ, _IOC_WRITE, _IOC_READ | _IOC_WRITE}) {
      for (unsigned size : {0u, 4u, 8u, 16u, 24u, 32u, 64u, 256u}) {
        if ((dir == _IOC_NONE) != (size == 0)) continue;
        all.push_back(call(fd, _IOC(dir, MMAPX_KMOD_IOC_MAGIC, nr, size), nullptr, size,
                           "ioctl nr " + std::to_string(nr) + " size " + std::to_string(size)));
      }
    }
  }
  ::ioctl(fd, MMAPX_KMOD_IOC_STOP);
  return all;
}

/// Runs every_call on `fd` (and on a descriptor of its own when `reopen`),
/// checks the documented refusals, returns the number of leaks (printed).
int leaks_of(int fd, bool reopen, const ranges& physical) {
  kmod::geometry g{};
  if (::ioctl(fd, MMAPX_KMOD_IOC_GEOMETRY, &g) != 0) return 100;
  int found = 0;
  for (int round = 0; round < (reopen ? 2 : 1); ++round) {
    const int own = round == 0 ? fd : ::open(kmod::device_path(0).c_str(), O_RDWR | O_CLOEXEC);
    if (own < 0) return 101;
    for (const auto& a : every_call(own, g)) {
      if (a.what.rfind("BUS_ADDRESS", 0) == 0 && a.error != EPERM) {
        std::fprintf(stderr, "%s without CAP_SYS_ADMIN: errno %d, not EPERM\n", a.what.c_str(),
                     a.error);
        ++found;
      }
      if ((a.what.rfind("MEMTYPE", 0) == 0 || a.what == "mmap" || a.what == "read") &&
          a.error != 0) {
        std::fprintf(stderr, "%s without CAP_SYS_ADMIN: errno %d\n", a.what.c_str(), a.error);
        ++found;
      }
      const auto leak = leak_in(a, physical);
      if (!leak.empty()) {
        std::fprintf(stderr, "leak to uid %d: %s\n", static_cast<int>(::getuid()), leak.c_str());
        ++found;
      }
    }
    if (round == 1) ::close(own);
  }
  return found;
}

bool become_nobody() {
  const gid_t none = 65534;
  return ::setgroups(0, nullptr) == 0 && ::setresgid(none, none, none) == 0 &&
         ::setresuid(65534, 65534, 65534) == 0 && ::geteuid() == 65534;
}

}  // namespace

TEST_CASE("kmod: no ioctl gives the unprivileged a physical address or a kernel pointer") {
  auto dev = kmod::device::open(kmod::device_path(0));
  const auto& g = dev.info();
  // What root (CAP_SYS_ADMIN) learns: where every buffer and the status page are.
  ranges physical;
  for (auto cache : all_caches) {
    for (std::uint32_t i = 0; i < g.buffer_count; ++i) {
      const std::uint64_t base = dev.bus_address(cache, i);
      physical.emplace_back(base, base + g.buffer_size - 1);
    }
  }
  {
    auto status = dev.map_status();
    const auto mt = dev.memory_type_of(status.data());
    REQUIRE(mt.physical != 0);
    physical.emplace_back(mt.physical, mt.physical + g.page_size - 1);
  }
  // The control: with CAP_SYS_ADMIN the detector does find addresses.
  CHECK(leaks_of(dev.native_handle(), false, physical) > 0);

  // uid 65534 may open the node (0666 here) and uses a descriptor root opened.
  REQUIRE(::chmod(kmod::device_path(0).c_str(), 0666) == 0);
  const int nobody = in_child([&] {
    if (!become_nobody()) return 90;
    return std::min(leaks_of(dev.native_handle(), true, physical), 80);
  });
  CHECK(nobody == 0);
  const int no_admin = in_child([&] {
    if (!mmapx_test::drop_capability(CAP_SYS_ADMIN, mmapx_test::drop_scope::for_good)) return 91;
    return std::min(leaks_of(dev.native_handle(), true, physical), 80);
  });
  CHECK(no_admin == 0);
  ::chmod(kmod::device_path(0).c_str(), 0600);
}

TEST_CASE("kmod: without CAP_SYS_ADMIN the memory type comes without the physical address") {
  auto dev = kmod::device::open(kmod::device_path(0));
  auto buffer = dev.map({.index = 0, .cache = kmod::cache_mode::write_combining});
  const auto privileged = dev.memory_type_of(buffer.data());
  CHECK(privileged.physical == dev.bus_address(kmod::cache_mode::write_combining, 0));
  const int status = in_child([&] {
    if (!mmapx_test::drop_capability(CAP_SYS_ADMIN, mmapx_test::drop_scope::for_good)) return 40;
    const auto mt = dev.memory_type_of(buffer.data());
    if (mt.physical != 0) return 41;
    if (mt.user != privileged.user || mt.kernel != privileged.kernel) return 42;
    return 0;
  });
  CHECK(status == 0);
}
