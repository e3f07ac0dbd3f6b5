// Reliability: concurrency. Two processes write disjoint ranges of one shared
// mapping (a file and a memfd) and neither loses the other's bytes; threads
// share one region for writing, reading, flushing and advising. Built with
// ThreadSanitizer in CI (scripts/test), which checks the library adds no race
// of its own: the regions' bookkeeping is only read while threads share them.
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <mmapx/anonymous.hpp>
#include <mmapx/file.hpp>
#include <mmapx/memfd.hpp>
#include <mmapx/sigbus.hpp>

#include "catch.hpp"
#include "reliability_support.hpp"
#include "test_support.hpp"

using namespace mmapx;
using mmapx_test::child;
using mmapx_test::read_file;
using mmapx_test::temp_dir;

namespace {

using mmapx::access;

const std::size_t page = mmapx::page_size();

/// Byte i of writer w's half in round n: every round overwrites everything,
/// so a lost or misplaced write shows up in the final contents.
char byte_of(int writer, std::size_t i, int round) { return static_cast<char>('A' + (writer * 7 + i * 3 + round) % 26); }

/// Writer `w` fills [w*half, (w+1)*half) of `base` `rounds` times, with plain
/// stores at unaligned boundaries (half is not a multiple of the page size).
void fill_half(std::byte* base, std::size_t half, int w, int rounds) {
  for (int round = 0; round < rounds; ++round)
    for (std::size_t i = 0; i < half; ++i) base[w * half + i] = static_cast<std::byte>(byte_of(w, i, round));
}

bool half_is(const std::byte* base, std::size_t half, int w, int round) {
  for (std::size_t i = 0; i < half; ++i)
    if (base[w * half + i] != static_cast<std::byte>(byte_of(w, i, round))) return false;
  return true;
}

constexpr int rounds = 20;

/// Parent and child write their own halves of `r` at the same time.
template <access A>
void two_processes_write(region<A>& r) {
  const std::size_t half = r.size() / 2;
  child other([&] {
    fill_half(r.data(), half, 1, rounds);
    return 0;
  });
  fill_half(r.data(), half, 0, rounds);
  REQUIRE(other.wait().exited(0));
  CHECK(half_is(r.data(), half, 0, rounds - 1));
  CHECK(half_is(r.data(), half, 1, rounds - 1));
}

}  // namespace

TEST_CASE("two processes writing disjoint ranges of one shared file mapping keep each other's bytes", "[reliability][concurrency]") {
  temp_dir dir;
  const auto path = dir / "shared";
  const std::size_t size = 2 * (8 * page + 123);  // the halves meet inside a page
  auto r = map_file<access::read_write>(path, {.open = open_mode::create, .size = size});
  two_processes_write(r);
  r.flush(flush_level::sync);
  const std::string file = read_file(path);
  REQUIRE(file.size() == size);
  CHECK(half_is(reinterpret_cast<const std::byte*>(file.data()), size / 2, 0, rounds - 1));
  CHECK(half_is(reinterpret_cast<const std::byte*>(file.data()), size / 2, 1, rounds - 1));
}

TEST_CASE("two processes writing disjoint ranges of one memfd mapping keep each other's bytes", "[reliability][concurrency]") {
  auto r = map_memfd("halves", 2 * (4 * page + 5));
  two_processes_write(r);
  // A second mapping of the same memfd, as another process would make from the fd.
  auto again = map_fd<access::read>(r.native_handle());
  CHECK(half_is(again.data(), r.size() / 2, 0, rounds - 1));
  CHECK(half_is(again.data(), r.size() / 2, 1, rounds - 1));
}

TEST_CASE("threads sharing one region write, read, flush and advise it together", "[reliability][concurrency]") {
  temp_dir dir;
  constexpr int threads = 4;
  const std::size_t slice = 3 * page + 17;
  auto r = map_file<access::read_write>(dir / "f", {.open = open_mode::create, .size = threads * slice});
  std::atomic<int> failures{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::vector<char> out(slice);
      for (int round = 0; round < rounds; ++round) {
        std::vector<char> mine(slice);
        for (std::size_t i = 0; i < slice; ++i) mine[i] = byte_of(t, i, round);
        std::error_code ec;
        // Each thread owns its slice: writes through the helper, reads back, flushes, advises.
        copy_to(r, t * slice, std::as_bytes(std::span(mine)), ec);
        if (ec) ++failures;
        copy_from(r, t * slice, std::as_writable_bytes(std::span(out)), ec);
        if (ec || out != mine) ++failures;
        r.flush(t * slice, slice, round % 2 == 0 ? flush_level::async : flush_level::sync, ec);
        if (ec) ++failures;
        r.advise(advice::will_need, t * slice, slice, ec);
        if (ec) ++failures;
      }
    });
  }
  for (auto& th : pool) th.join();
  CHECK(failures == 0);
  const std::string file = read_file(dir / "f");
  for (int t = 0; t < threads; ++t)
    for (std::size_t i = 0; i < slice; i += 97) CHECK(file[t * slice + i] == byte_of(t, i, rounds - 1));
}

TEST_CASE("threads handing a region to each other: moved-from regions stay safe", "[reliability][concurrency]") {
  // One thread makes the mapping, another uses it after a move; a third
  // uses the moved-from (empty) region at the same time.
  auto made = map_anonymous(4 * page);
  std::memset(made.data(), 'z', made.size());
  rw_region taken;
  std::atomic<bool> handed{false};
  std::atomic<int> failures{0};
  std::thread maker([&] {
    taken = std::move(made);
    handed.store(true, std::memory_order_release);
  });
  maker.join();
  std::thread user([&] {
    while (!handed.load(std::memory_order_acquire)) {
    }
    std::vector<char> out(taken.size());
    std::error_code ec;
    copy_from(taken, 0, std::as_writable_bytes(std::span(out)), ec);
    if (ec || out != std::vector<char>(4 * page, 'z')) ++failures;
  });
  std::thread empty_user([&] {
    std::error_code ec;
    char c;
    copy_from(made, 0, std::as_writable_bytes(std::span(&c, 1)), ec);
    if (ec != errc::range_outside_region) ++failures;
    made.advise(advice::normal, ec);
    if (ec) ++failures;
  });
  user.join();
  empty_user.join();
  CHECK(failures == 0);
}
