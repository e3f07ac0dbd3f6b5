// Reliability: what a flush promises. A writer process maps a file, writes
// numbered records, flushes each at the durable level, says so on a pipe, and
// is killed with SIGKILL at once; every record it reported flushed must be in
// the file afterwards, intact.
//
// What a unit test cannot show: power loss. SIGKILL loses the process, not the
// page cache, so these tests prove that flushed records survive the writer's
// death and are in the file's pages; that flush_level::durable also reached
// the disk (msync MS_SYNC + fdatasync) is the kernel's promise, which only a
// power-cut test on real hardware could check.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <mmapx/file.hpp>

#include "catch.hpp"
#include "reliability_support.hpp"
#include "test_support.hpp"

using namespace mmapx;
using mmapx_test::child;
using mmapx_test::pipe_pair;
using mmapx_test::read_file;
using mmapx_test::temp_dir;

namespace {

using mmapx::access;

/// One fixed-size record: its number, a payload that depends on it, and a
/// checksum over both, so a torn or missing record is detectable.
struct record {
  std::uint64_t number;
  char payload[48];
  std::uint64_t check;
};
static_assert(sizeof(record) == 64);

std::uint64_t checksum(const record& r) {
  std::uint64_t h = 1469598103934665603ULL ^ r.number;
  for (const char c : r.payload) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return h;
}

record make_record(std::uint64_t n) {
  record r{};
  r.number = n;
  for (std::size_t i = 0; i < sizeof r.payload; ++i) r.payload[i] = static_cast<char>('a' + (n + i) % 26);
  r.check = checksum(r);
  return r;
}

/// True when record n of `file` (read without mmapx) is there, whole and right.
bool intact_in(const std::string& file, std::uint64_t n) {
  if ((n + 1) * sizeof(record) > file.size()) return false;
  record r;
  std::memcpy(&r, file.data() + n * sizeof(record), sizeof r);
  return r.number == n && r.check == checksum(r) && r.check == make_record(n).check;
}

constexpr std::size_t capacity = 4096;  // records the file has room for

/// Reads the little numbers the writer sends, until it stops (killed).
std::vector<std::uint64_t> reported(int fd, std::size_t kill_after, const child& writer) {
  std::vector<std::uint64_t> numbers;
  for (;;) {
    std::uint64_t n;
    const ssize_t got = ::read(fd, &n, sizeof n);
    if (got != static_cast<ssize_t>(sizeof n)) break;
    numbers.push_back(n);
    if (numbers.size() == kill_after) writer.kill(SIGKILL);
  }
  return numbers;
}

}  // namespace

TEST_CASE("records flushed at the durable level survive the writer's SIGKILL", "[reliability][durability]") {
  temp_dir dir;
  const auto path = dir / "log";
  constexpr std::size_t kill_after = 300;
  pipe_pair progress;
  child writer([&] {
    progress.close_read();
    auto log = map_file<access::read_write>(path, {.open = open_mode::create, .size = capacity * sizeof(record)});
    for (std::uint64_t n = 0; n < capacity; ++n) {
      const record r = make_record(n);
      std::memcpy(log.data() + n * sizeof(record), &r, sizeof r);
      log.flush(n * sizeof(record), sizeof r, flush_level::durable);
      if (::write(progress.write_end(), &n, sizeof n) != sizeof n) return 1;
    }
    for (;;) ::pause();  // never exits by itself: it is killed
  });
  progress.close_write();
  const auto numbers = reported(progress.read_end(), kill_after, writer);
  const auto end = writer.wait();
  CHECK(end.signal == SIGKILL);
  REQUIRE(numbers.size() >= kill_after);

  const std::string file = read_file(path);
  REQUIRE(file.size() == capacity * sizeof(record));
  for (const std::uint64_t n : numbers) {
    INFO("record " << n);
    CHECK(intact_in(file, n));
  }
  // Nothing past what was written: the file's reserved tail reads as zeros.
  const std::size_t written_end = (numbers.back() + 1) * sizeof(record);
  std::size_t first_nonzero_after = file.size();
  for (std::size_t i = written_end + sizeof(record); i < file.size(); ++i)
    if (file[i] != 0) {
      first_nonzero_after = i;
      break;
    }
  CHECK(first_nonzero_after == file.size());
}

TEST_CASE("unaligned ranges flushed at the durable level reach the file", "[reliability][durability]") {
  temp_dir dir;
  const auto path = dir / "f";
  auto log = map_file<access::read_write>(path, {.open = open_mode::create, .size = 64 * sizeof(record)});
  // Unaligned ranges: flush rounds them to pages itself.
  for (std::uint64_t n = 0; n < 64; n += 3) {
    const record r = make_record(n);
    std::memcpy(log.data() + n * sizeof(record), &r, sizeof r);
    log.flush(n * sizeof(record) + 1, sizeof r - 2, flush_level::durable);
  }
  const std::string file = read_file(path);
  for (std::uint64_t n = 0; n < 64; n += 3) CHECK(intact_in(file, n));
}

TEST_CASE("the async level: what it promises and what it does not", "[reliability][durability]") {
  // Promised (msync MS_ASYNC on Linux): the call returns at once without
  // error, the range is checked like any other, and the bytes are in the
  // file's pages: read(2) by any process sees them, before and after the
  // writer dies. Not promised, and not testable here: that they are on the
  // disk; a power cut right after an async flush may lose them. Use
  // flush_level::durable for that.
  temp_dir dir;
  const auto path = dir / "f";
  pipe_pair progress;
  child writer([&] {
    progress.close_read();
    auto w = map_file<access::read_write>(path, {.open = open_mode::create, .size = 16 * sizeof(record)});
    for (std::uint64_t n = 0; n < 16; ++n) {
      const record r = make_record(n);
      std::memcpy(w.data() + n * sizeof(record), &r, sizeof r);
    }
    std::error_code ec;
    w.flush(flush_level::async, ec);
    if (ec) return 1;
    w.flush(0, w.size() + 1, flush_level::async, ec);
    if (ec != errc::range_outside_region) return 2;
    const char done = 'd';
    if (::write(progress.write_end(), &done, 1) != 1) return 3;
    for (;;) ::pause();
  });
  progress.close_write();
  char done = 0;
  REQUIRE(::read(progress.read_end(), &done, 1) == 1);
  // Seen by another process while the writer still lives, and after it is killed.
  std::string file = read_file(path);
  REQUIRE(file.size() == 16 * sizeof(record));
  writer.kill(SIGKILL);
  CHECK(writer.wait().signal == SIGKILL);
  file = read_file(path);
  for (std::uint64_t n = 0; n < 16; ++n) CHECK(intact_in(file, n));
}

TEST_CASE("a durable flush of a mapping whose file was truncated returns without error", "[reliability][durability]") {
  temp_dir dir;
  const auto path = dir / "f";
  auto w = map_file<access::read_write>(path, {.open = open_mode::create, .size = 4 * mmapx::page_size()});
  REQUIRE(::truncate(path.c_str(), 0) == 0);
  // msync of pages past the end is not an error on Linux: they are gone, and
  // there is nothing left to write. No SIGBUS either: msync touches no page.
  std::error_code ec;
  w.flush(flush_level::durable, ec);
  CHECK_FALSE(ec);
  CHECK(std::filesystem::file_size(path) == 0);
}
