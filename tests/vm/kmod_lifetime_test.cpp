// In-guest lifetime tests of the module: mappings outlive their descriptor,
// survive fork, are shared between processes, keep the module loaded, a
// minor nobody uses is zeroed for its next user, and the bus-address ioctl
// is for CAP_SYS_ADMIN only.
#include "kmod_support.hpp"
#include "privileges.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

using namespace kmod_test;

namespace {

struct pipe_pair {
  int fds[2] = {-1, -1};
  pipe_pair() { REQUIRE(::pipe2(fds, O_CLOEXEC) == 0); }
  ~pipe_pair() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  void signal() const { REQUIRE(::write(fds[1], "x", 1) == 1); }
  bool wait() const {
    char c;
    return ::read(fds[0], &c, 1) == 1;
  }
};

std::uint64_t live(const kmod::device& dev) { return dev.stats().live_mappings; }

bool exists(const char* path) {
  struct stat st {};
  return ::stat(path, &st) == 0;
}

}  // namespace

TEST_CASE("kmod: a mapping outlives its descriptor, and the reverse") {
  auto dev = kmod::device::open(kmod::device_path(0));
  const auto& g = dev.info();
  const auto before = live(dev);
  const std::uint64_t offset = kmod::buffer_offset(kmod::cache_mode::cached,
                                                   kmod::map_method::lazy, 2);
  SECTION("close before munmap") {
    const int fd = ::open(kmod::device_path(0).c_str(), O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    int error = 0;
    auto* p = static_cast<std::uint8_t*>(raw_mmap(g.buffer_size, PROT_READ | PROT_WRITE,
                                                  MAP_SHARED, fd, offset, error));
    REQUIRE(p != nullptr);
    REQUIRE(::close(fd) == 0);
    p[g.buffer_size - 1] = 0x77;  // a lazy page, faulted in after the close
    CHECK(p[g.buffer_size - 1] == 0x77);
    CHECK(live(dev) == before + 1);
    CHECK(::munmap(p, g.buffer_size) == 0);
    CHECK(live(dev) == before);
  }
  SECTION("munmap before close") {
    const int fd = ::open(kmod::device_path(0).c_str(), O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    int error = 0;
    void* p = raw_mmap(g.buffer_size, PROT_READ, MAP_SHARED, fd, offset, error);
    REQUIRE(p != nullptr);
    CHECK(::munmap(p, g.buffer_size) == 0);
    CHECK(live(dev) == before);
    CHECK(::close(fd) == 0);
  }
}

TEST_CASE("kmod: fork with a live mapping: the child reads after the parent unmapped") {
  auto dev = kmod::device::open(kmod::device_path(0));
  const auto& g = dev.info();
  for (auto method : all_methods) {
    CAPTURE(static_cast<int>(method));
    auto r = dev.map({.index = 3 % g.buffer_count, .method = method});
    for (std::size_t i = 0; i < r.size(); i += 8) {
      const std::uint64_t v = i * 3 + 1;
      std::memcpy(r.data() + i, &v, sizeof v);
    }
    auto* data = r.data();
    const std::size_t size = r.size();
    pipe_pair unmapped;
    const auto parent_live = live(dev);
    mmapx_test::child reader([&] {
      if (!unmapped.wait()) return 10;
      for (std::size_t i = 0; i < size; i += 8)
        if (read_u64(data + i) != i * 3 + 1) return 11;
      const std::uint64_t mark = 0xC0FFEE;
      std::memcpy(data, &mark, sizeof mark);
      return 0;
    });
    CHECK(live(dev) == parent_live + 1);  // the child's copy
    r = {};  // the parent unmaps
    unmapped.signal();
    CHECK(reader.wait().exited(0));
    auto again = dev.map<mmapx::access::read>({.index = 3 % g.buffer_count});
    CHECK(read_u64(again.data()) == 0xC0FFEE);
  }
}

TEST_CASE("kmod: two processes mapping one buffer see each other's writes") {
  auto dev = kmod::device::open(kmod::device_path(0));
  pipe_pair to_child, to_parent;
  auto mine = dev.map({.index = 1, .cache = kmod::cache_mode::write_combining,
                       .method = kmod::map_method::lazy});
  mmapx_test::child other([&] {
    int status = 0;
    {
      // The child opens and maps on its own, with the other method.
      auto own = kmod::device::open(kmod::device_path(0));
      auto theirs = own.map({.index = 1, .cache = kmod::cache_mode::write_combining});
      if (!to_child.wait()) return 20;
      volatile auto* v = reinterpret_cast<volatile std::uint64_t*>(theirs.data());
      if (v[10] != 0x1111) status = 21;
      v[11] = 0x2222;
    }
    to_parent.signal();
    return status;
  });
  volatile auto* v = reinterpret_cast<volatile std::uint64_t*>(mine.data());
  v[10] = 0x1111;
  to_child.signal();
  REQUIRE(to_parent.wait());
  CHECK(v[11] == 0x2222);
  CHECK(other.wait().exited(0));
}

TEST_CASE("kmod: the bus address is for CAP_SYS_ADMIN only") {
  auto dev = kmod::device::open(kmod::device_path(0));
  CHECK(dev.bus_address(kmod::cache_mode::cached, 0) != 0);
  const int status = in_child([&] {
    if (!mmapx_test::drop_capability(CAP_SYS_ADMIN, mmapx_test::drop_scope::for_good)) return 31;
    std::error_code ec;
    (void)dev.bus_address(kmod::cache_mode::cached, 0, ec);
    if (ec != std::errc::operation_not_permitted) return 32;
    // Everything else still works without the capability.
    (void)dev.stats(ec);
    return ec ? 33 : 0;
  });
  CHECK(status == 0);
}

TEST_CASE("kmod: a minor nobody uses starts zeroed for its next user; users share contents") {
  const auto all_equal = [](const mmapx::ro_region& r, std::byte value) {
    for (auto b : r.bytes())
      if (b != value) return false;
    return true;
  };
  for (auto cache : all_caches) {
    CAPTURE(static_cast<int>(cache));
    {
      auto first = kmod::device::open(kmod::device_path(1));
      auto r = first.map({.index = 1, .cache = cache});
      std::memset(r.data(), 0xAB, r.size());
      // A second user while the first is there sees what the first wrote.
      auto second = kmod::device::open(kmod::device_path(1));
      CHECK(all_equal(second.map<mmapx::access::read>({.index = 1, .cache = cache}),
                      std::byte{0xAB}));
    }
    // Every descriptor and mapping gone: the next user finds zeros.
    auto next = kmod::device::open(kmod::device_path(1));
    CHECK(all_equal(next.map<mmapx::access::read>({.index = 1, .cache = cache}), std::byte{0}));
  }
}

TEST_CASE("kmod: rmmod is refused while a mapping exists and succeeds afterwards") {
  const std::string params = current_parameters();
  const std::string node = kmod::device_path(0);
  {
    // A mapping alone, its descriptor closed, holds the module.
    const int fd = ::open(node.c_str(), O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    int error = 0;
    auto* p = static_cast<std::uint8_t*>(raw_mmap(4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                                                  0, error));
    REQUIRE(p != nullptr);
    REQUIRE(::close(fd) == 0);
    CHECK(unload_module() == EWOULDBLOCK);
    CHECK(exists(node.c_str()));
    p[0] = 1;
    CHECK(::munmap(p, 4096) == 0);
  }
  CHECK(unload_module() == 0);
  CHECK(!exists(node.c_str()));

  // Load it again, as it was, for whatever runs next.
  CHECK(load_module(params) == 0);
  REQUIRE(exists(node.c_str()));
  auto dev = kmod::device::open(node);
  CHECK(dev.stats().live_mappings == 0);
  // Buffers are zeroed before anyone can see them.
  auto fresh = dev.map<mmapx::access::read>({.index = 0});
  bool zero = true;
  for (auto b : fresh.bytes()) zero = zero && b == std::byte{0};
  CHECK(zero);
}
