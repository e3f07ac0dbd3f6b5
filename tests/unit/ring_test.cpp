// Mirrored ring buffer and the SPSC queue on it: the mirror, wrap-around at
// every offset, threads, processes (memfd and POSIX shm handed over by
// descriptor), timeouts, huge pages, and bad capacities, descriptors and sizes.
#include <catch.hpp>
#include "test_support.hpp"

#include <mmapx/file.hpp>
#include <mmapx/ring.hpp>
#include <mmapx/shm.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using mmapx_test::in_child;

const std::size_t pg = mmapx::page_size();

std::span<const std::byte> as_bytes(const std::string& s) { return std::as_bytes(std::span(s)); }

/// Message i of the streams below: 1 to 700 bytes whose content depends on i.
std::string message(std::size_t i) { return mmapx_test::pattern(1 + (i * 37) % 700, static_cast<unsigned>(i)); }

/// Reads `count` messages (size prefix, then the bytes) and checks each; 0 when all match.
int consume(mmapx::spsc_queue& q, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    std::uint32_t size = 0;
    q.read(std::as_writable_bytes(std::span(&size, 1)), 10s);
    std::string got(size, '\0');
    q.read(std::as_writable_bytes(std::span(got)), 10s);
    if (got != message(i)) return 10;
  }
  return 0;
}

void produce(mmapx::spsc_queue& q, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    const std::string m = message(i);
    const auto size = static_cast<std::uint32_t>(m.size());
    q.write(std::as_bytes(std::span(&size, 1)), 10s);
    q.write(as_bytes(m), 10s);
  }
}

std::size_t free_huge_pages_2m() {
  std::ifstream in("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
  std::size_t n = 0;
  in >> n;
  return n;
}

}  // namespace

TEST_CASE("ring: the two halves are the same memory", "[ring]") {
  auto buf = mmapx::mirrored_buffer::create(2 * pg);
  REQUIRE(buf.capacity() == 2 * pg);
  for (std::size_t i = 0; i < buf.capacity(); i += 97) {
    buf.data()[i] = std::byte{static_cast<unsigned char>(i)};
    CHECK(buf.data()[i + buf.capacity()] == std::byte{static_cast<unsigned char>(i)});
    buf.data()[i + buf.capacity()] = std::byte{0xee};
    CHECK(buf.data()[i] == std::byte{0xee});
  }
  CHECK(buf.native_handle() >= 0);

  // a record written across the end reads back whole from the start
  const std::string text = mmapx_test::pattern(pg, 9);
  std::memcpy(buf.data() + buf.capacity() - 10, text.data(), text.size());
  CHECK(std::memcmp(buf.data(), text.data() + 10, text.size() - 10) == 0);
}

TEST_CASE("ring: mirroring an existing descriptor (POSIX shm)", "[ring]") {
  const std::string name = "/mmapx-ring-test-" + std::to_string(::getpid());
  auto shm = mmapx::shared_memory::create(name.c_str(), 3 * pg);
  auto buf = mmapx::mirrored_buffer::map(shm.native_handle(), pg, 2 * pg);
  auto plain = shm.map();
  plain.data()[pg + 5] = std::byte{7};
  CHECK(buf.data()[5] == std::byte{7});
  CHECK(buf.data()[2 * pg + 5] == std::byte{7});
}

TEST_CASE("ring: the whole range is unmapped when the buffer goes", "[ring]") {
  std::byte* where = nullptr;
  {
    auto buf = mmapx::mirrored_buffer::create(pg);
    where = buf.data();
    auto moved = std::move(buf);
    CHECK(moved.data() == where);
    CHECK(buf.data() == nullptr);
  }
  // msync on an unmapped range is ENOMEM
  CHECK(::msync(where, 2 * pg, MS_ASYNC) == -1);
  CHECK(errno == ENOMEM);
}

TEST_CASE("ring: wrap-around at every offset", "[ring]") {
  auto q = mmapx::spsc_queue::create(pg);
  const std::string full = mmapx_test::pattern(pg, 5);
  std::string back(pg, '\0');
  for (std::size_t offset = 0; offset < pg; ++offset) {
    // a full-capacity record starting at `offset` (wraps unless offset is 0)
    REQUIRE(q.write_space().size() == pg);
    REQUIRE(q.write_space().data() == q.read_space().data());
    q.write(as_bytes(full), 0ns);
    CHECK(q.write_space().empty());
    REQUIRE(q.read_space().size() == pg);
    q.read(std::as_writable_bytes(std::span(back)), 0ns);
    REQUIRE(back == full);
    // move the start one byte on
    q.write(as_bytes(full.substr(0, 1)), 0ns);
    q.read(std::as_writable_bytes(std::span(back.data(), 1)), 0ns);
  }
}

TEST_CASE("ring: zero-copy spans and commits", "[ring]") {
  auto q = mmapx::spsc_queue::create(pg);
  auto room = q.write_space();
  REQUIRE(room.size() == pg);
  std::memcpy(room.data(), "hello", 5);
  CHECK(q.read_space().empty());  // not yet published
  q.commit_write(5);
  REQUIRE(q.read_space().size() == 5);
  CHECK(std::memcmp(q.read_space().data(), "hello", 5) == 0);
  q.commit_read(2);
  CHECK(q.read_space().size() == 3);
  CHECK(q.write_space().size() == pg - 3);
  std::error_code ec;
  q.commit_read(4, ec);
  CHECK(ec == mmapx::errc::range_outside_region);
  CHECK(q.read_space().size() == 3);
  q.commit_write(pg - 2, ec);
  CHECK(ec == mmapx::errc::range_outside_region);
  CHECK(q.read_space().size() == 3);
}

TEST_CASE("ring: queue between two threads", "[ring]") {
  auto q = mmapx::spsc_queue::create(pg);  // small: the writer blocks, the ring wraps often
  constexpr std::size_t count = 5000;
  int result = -1;
  std::thread reader([&] { result = consume(q, count); });
  produce(q, count);
  reader.join();
  CHECK(result == 0);
  CHECK(q.read_space().empty());
}

TEST_CASE("ring: queue between two processes over a memfd", "[ring]") {
  auto q = mmapx::spsc_queue::create(2 * pg);
  const int fd = q.native_handle();
  constexpr std::size_t count = 3000;
  const pid_t pid = ::fork();
  if (pid == 0) {
    int rc = 1;
    try {
      auto mine = mmapx::spsc_queue::attach(fd);
      rc = mine.capacity() == 2 * pg ? consume(mine, count) : 3;
    } catch (...) {
      rc = 2;
    }
    std::_Exit(rc);
  }
  REQUIRE(pid > 0);
  produce(q, count);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

TEST_CASE("ring: queue between two processes over POSIX shared memory", "[ring]") {
  const std::string name = "/mmapx-spsc-test-" + std::to_string(::getpid());
  auto shm = mmapx::shared_memory::create(name.c_str(), 0);
  auto q = mmapx::spsc_queue::create_on(shm.native_handle(), pg);
  CHECK(shm.size() == 2 * pg);  // the header page and the data
  constexpr std::size_t count = 2000;
  // The child opens the name itself, as an unrelated process would; it writes.
  const pid_t pid = ::fork();
  if (pid == 0) {
    int rc = 1;
    try {
      auto other = mmapx::shared_memory::open(name.c_str());
      auto mine = mmapx::spsc_queue::attach(other.native_handle());
      produce(mine, count);
      rc = 0;
    } catch (...) {
      rc = 2;
    }
    std::_Exit(rc);
  }
  REQUIRE(pid > 0);
  CHECK(consume(q, count) == 0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

TEST_CASE("ring: waiting times out", "[ring]") {
  auto q = mmapx::spsc_queue::create(pg);
  std::string buf(10, '\0');
  std::error_code ec;
  q.read(std::as_writable_bytes(std::span(buf)), 10ms, ec);
  CHECK(ec == mmapx::errc::timed_out);
  q.write(as_bytes(std::string(pg - 5, 'x')), 0ns);
  q.write(as_bytes(buf), 10ms, ec);
  CHECK(ec == mmapx::errc::timed_out);
  CHECK(q.read_space().size() == pg - 5);  // the failed write added nothing
  q.wait_readable(pg - 5, 0ns);
  CHECK_THROWS_AS(q.wait_readable(pg, 1ms), std::system_error);
  // a reader waiting for ever is woken by a later write
  std::thread late([&] {
    std::this_thread::sleep_for(20ms);
    q.commit_read(pg - 5);
  });
  q.wait_writable(pg, std::chrono::nanoseconds::max());
  late.join();
  CHECK(q.write_space().size() == pg);
}

TEST_CASE("ring: huge pages", "[ring]") {
  const std::size_t huge = std::size_t{1} << 21;
  std::error_code ec;
  auto buf = mmapx::mirrored_buffer::create(huge, {.huge = mmapx::huge_pages::explicit_2m}, ec);
  if (free_huge_pages_2m() < 1) {
    WARN("no free 2 MiB huge pages: only the error is checked");
    CHECK(ec == mmapx::errc::huge_pages_unavailable);
    auto fallback = mmapx::mirrored_buffer::create(
        huge, {.huge = mmapx::huge_pages::explicit_2m, .on_no_huge_pages = mmapx::huge_fallback::base_pages});
    fallback.data()[0] = std::byte{3};
    CHECK(fallback.data()[huge] == std::byte{3});
    return;
  }
  REQUIRE_FALSE(ec);
  CHECK(reinterpret_cast<std::uintptr_t>(buf.data()) % huge == 0);
  buf.data()[huge - 1] = std::byte{4};
  CHECK(buf.data()[2 * huge - 1] == std::byte{4});
}

TEST_CASE("ring: bad input", "[ring][errors]") {
  std::error_code ec;
  mmapx::mirrored_buffer::create(0, {}, ec);
  CHECK(ec == std::errc::invalid_argument);
  mmapx::mirrored_buffer::create(pg + 1, {}, ec);
  CHECK(ec == std::errc::invalid_argument);
  mmapx::mirrored_buffer::create(pg, {.huge = mmapx::huge_pages::explicit_2m}, ec);  // not a huge page multiple
  CHECK(ec == std::errc::invalid_argument);
  mmapx::mirrored_buffer::create(SIZE_MAX - pg + 1, {}, ec);
  CHECK(ec == mmapx::errc::size_overflow);
  mmapx::spsc_queue::create(0, {}, ec);
  CHECK(ec == std::errc::invalid_argument);
  mmapx::spsc_queue::create(100, {}, ec);
  CHECK(ec == std::errc::invalid_argument);
  mmapx::spsc_queue::create(SIZE_MAX - pg + 1, {}, ec);
  CHECK(ec == std::errc::invalid_argument);

  auto mem = mmapx::map_memfd("not-a-ring", 2 * pg);
  mmapx::mirrored_buffer::map(mem.native_handle(), 1, pg, ec);
  CHECK(ec == std::errc::invalid_argument);
  mmapx::mirrored_buffer::map(-1, 0, pg, ec);
  CHECK(ec == std::errc::bad_file_descriptor);
  mmapx::spsc_queue::attach(mem.native_handle(), ec);  // zeros, no magic
  CHECK(ec == std::errc::invalid_argument);
  auto tiny = mmapx::map_memfd("tiny", 10);
  mmapx::spsc_queue::attach(tiny.native_handle(), ec);
  CHECK(ec == std::errc::invalid_argument);
  mmapx::spsc_queue::attach(-1, ec);
  CHECK(ec == std::errc::bad_file_descriptor);
  const int dir = ::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  mmapx::spsc_queue::attach(dir, ec);
  CHECK(ec == std::errc::no_such_device);
  mmapx::mirrored_buffer::map(dir, 0, pg, ec);  // opened read-only; mirrors are writable
  CHECK(ec == std::errc::permission_denied);
  ::close(dir);
  const int proc = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  mmapx::mirrored_buffer::map(proc, 0, pg, ec);
  CHECK(ec == std::errc::permission_denied);
  ::close(proc);

  // a queue whose header claims more than the descriptor holds
  auto q = mmapx::spsc_queue::create(pg);
  ::ftruncate(q.native_handle(), static_cast<off_t>(pg + pg / 2));
  mmapx::spsc_queue::attach(q.native_handle(), ec);
  CHECK(ec == std::errc::invalid_argument);
  ::ftruncate(q.native_handle(), static_cast<off_t>(2 * pg));

  std::string big(pg + 1, 'x');
  q.write(as_bytes(big), 0ns, ec);
  CHECK(ec == std::errc::message_size);
  q.read(std::as_writable_bytes(std::span(big)), 0ns, ec);
  CHECK(ec == std::errc::message_size);

  mmapx::spsc_queue none;
  CHECK(none.write_space().empty());
  CHECK(none.read_space().empty());
  none.write(as_bytes(big.substr(0, 1)), 0ns, ec);
  CHECK(ec == mmapx::errc::not_mapped);
  auto moved = std::move(q);
  CHECK(q.capacity() == 0);
  q.read(std::as_writable_bytes(std::span(big.data(), 1)), 0ns, ec);
  CHECK(ec == mmapx::errc::not_mapped);
  CHECK(moved.write_space().size() == pg);
}

TEST_CASE("ring: a peer that corrupts the indices cannot push spans outside the mapping", "[ring][errors]") {
  auto q = mmapx::spsc_queue::create(pg);
  auto raw = mmapx::map_fd<mmapx::access::read_write>(q.native_handle(), {.length = pg});
  auto* h = reinterpret_cast<mmapx::detail::ring_header*>(raw.data());
  h->head.store(h->tail.load() + 10 * pg);  // claims ten capacities of data
  CHECK(q.read_space().size() == pg);
  CHECK(q.write_space().empty());
  h->tail.store(h->head.load() + 1);  // tail ahead of head
  CHECK(q.read_space().size() == pg);
  CHECK(q.write_space().empty());
}
