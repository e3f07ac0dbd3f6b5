// Tests of the large-file calls: scan_fd / scan_file / scan (scan.hpp),
// read_ahead, and reserve_file_range (file.hpp), from their doc comments.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include <mmapx/anonymous.hpp>
#include <mmapx/memfd.hpp>
#include <mmapx/scan.hpp>

#include "catch.hpp"
#include "test_support.hpp"

using mmapx_test::pattern;
using mmapx_test::temp_dir;
using mmapx_test::thrown_message;
using mmapx_test::write_file;

namespace {

constexpr std::uint64_t KiB = 1024, MiB = 1024 * 1024;

/// Every window a scan handed out, and the bytes put back together.
struct recorder {
  std::vector<std::pair<std::uint64_t, std::size_t>> windows;
  std::string bytes;
  void operator()(std::span<const std::byte> w, std::uint64_t offset) {
    windows.emplace_back(offset, w.size());
    bytes.append(reinterpret_cast<const char*>(w.data()), w.size());
  }
};

mmapx::unique_fd open_read(const std::filesystem::path& p) {
  mmapx::unique_fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(fd);
  return fd;
}

/// Whether every page holding `bytes` is in memory (test_support's resident).
bool in_memory(std::span<const std::byte> bytes) { return mmapx_test::resident(bytes.data(), bytes.size()); }

/// Drops the file from the page cache (written back first), then reads
/// back only the byte ranges given, page by page through a MADV_RANDOM
/// mapping (no read-ahead: exactly those pages come back). Says whether the
/// file had left the cache; a file system that keeps file pages in memory
/// anyway (tmpfs) says no. Whole-file eviction because a part of a file may
/// sit in a large folio that also holds pages outside it and is kept.
bool cache_only(const std::filesystem::path& p, std::initializer_list<std::pair<std::size_t, std::size_t>> ranges) {
  {
    const mmapx::unique_fd fd(::open(p.c_str(), O_RDWR | O_CLOEXEC));
    REQUIRE(fd);
    REQUIRE(::fsync(fd.get()) == 0);
    REQUIRE(::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED) == 0);
  }
  auto file = mmapx::map_file(p);
  if (in_memory(file.bytes().subspan(0, 1))) return false;
  file.advise(mmapx::advice::random);
  for (const auto& [from, to] : ranges) {
    for (std::size_t at = from; at < to; at += mmapx::page_size()) {
      static_cast<void>(*static_cast<const volatile std::byte*>(file.data() + at));
    }
  }
  return true;
}

bool evict(const std::filesystem::path& p) { return cache_only(p, {}); }

}  // namespace

TEST_CASE("a scan reads the same bytes from a cached file, an evicted one, and one cached in part", "[scan]") {
  // A file just written is all in the page cache; one that is not makes the
  // read-ahead hints and the population wait for the disk, and a file
  // cached in part mixes both. Every mix must read alike.
  temp_dir dir;
  const std::string data = pattern(1 * MiB + 123, 7);
  write_file(dir / "f", data);
  const bool populate = GENERATE(true, false);
  const unsigned ahead = GENERATE(0u, 2u);
  const int state = GENERATE(0, 1, 2, 3);
  INFO("populate " << populate << ", read_ahead " << ahead << ", state " << state);
  // Windows of 64 KiB: state 2 has the first three cached (warm, then cold),
  // state 3 all but four in the middle (cold for a while, then cached again).
  const auto set_state = [&] {
    switch (state) {
      case 1: return evict(dir / "f");
      case 2: return cache_only(dir / "f", {{0, 192 * KiB}});
      case 3: return cache_only(dir / "f", {{0, 320 * KiB}, {576 * KiB, data.size()}});
      default: return true;  // all cached: just written
    }
  };
  MMAPX_SKIP_UNLESS(set_state(), "the file system keeps file pages in memory (tmpfs?)");
  recorder r;
  mmapx::scan_file(dir / "f", std::ref(r), {.window = 64 * KiB, .read_ahead = ahead, .populate = populate});
  CHECK(r.bytes == data);
  CHECK(r.windows.size() == 17);
  auto file = mmapx::map_file(dir / "f");
  CHECK(in_memory(file.bytes()));  // the scan read every page

  auto region = mmapx::map_file(dir / "f", {.offset = 10});
  REQUIRE(set_state());
  recorder from_region;
  mmapx::scan(region, std::ref(from_region), {.window = 64 * KiB, .read_ahead = ahead, .populate = populate});
  CHECK(from_region.bytes == data.substr(10));
}

TEST_CASE("scan_file hands out every byte once, in order, in windows aligned in the file", "[scan]") {
  temp_dir dir;
  const std::string data = pattern(1 * MiB + 123, 4);
  write_file(dir / "f", data);
  const bool populate = GENERATE(true, false);
  const bool sequential = GENERATE(true, false);
  const unsigned ahead = GENERATE(0u, 1u, 8u);
  recorder r;
  mmapx::scan_file(dir / "f", std::ref(r),
                   {.window = 256 * KiB, .read_ahead = ahead, .populate = populate, .sequential = sequential});
  CHECK(r.bytes == data);
  REQUIRE(r.windows.size() == 5);
  CHECK(r.windows.front() == std::pair<std::uint64_t, std::size_t>{0, 256 * KiB});
  CHECK(r.windows.back() == std::pair<std::uint64_t, std::size_t>{1 * MiB, 123});
}

TEST_CASE("scan_fd reads a sub-range at any alignment, windows ending on multiples of the window", "[scan]") {
  temp_dir dir;
  const std::string data = pattern(300 * KiB, 9);
  write_file(dir / "f", data);
  const auto fd = open_read(dir / "f");
  recorder r;
  mmapx::scan_fd(fd.get(), std::ref(r), {.offset = 5000, .length = 200 * KiB, .window = 64 * KiB});
  CHECK(r.bytes == data.substr(5000, 200 * KiB));
  REQUIRE(r.windows.size() == 4);
  CHECK(r.windows[0] == std::pair<std::uint64_t, std::size_t>{5000, 64 * KiB - 5000});
  CHECK(r.windows[1].first == 64 * KiB);
  // The caller's descriptor is only borrowed: still open and at offset 0.
  CHECK(::lseek(fd.get(), 0, SEEK_CUR) == 0);
}

TEST_CASE("a callback returning false stops the scan early, without an error", "[scan]") {
  temp_dir dir;
  write_file(dir / "f", pattern(1 * MiB));
  int calls = 0;
  std::error_code ec;
  mmapx::scan_file(dir / "f", [&](std::span<const std::byte>, std::uint64_t) { return ++calls < 2; },
                   {.window = 64 * KiB}, ec);
  CHECK(!ec);
  CHECK(calls == 2);
}

TEST_CASE("an empty file and an empty range scan nothing", "[scan]") {
  temp_dir dir;
  write_file(dir / "empty", "");
  write_file(dir / "f", pattern(8192));
  int calls = 0;
  auto count = [&](std::span<const std::byte>, std::uint64_t) { ++calls; };
  mmapx::scan_file(dir / "empty", count);
  const auto fd = open_read(dir / "f");
  mmapx::scan_fd(fd.get(), count, {.offset = 8192});  // at the end, to the end
  CHECK(calls == 0);
}

TEST_CASE("scan errors: bad ranges, bad windows, what is not a regular file", "[scan]") {
  temp_dir dir;
  write_file(dir / "f", pattern(8192));
  const auto fd = open_read(dir / "f");
  std::error_code ec;
  int calls = 0;
  auto count = [&](std::span<const std::byte>, std::uint64_t) { ++calls; };

  mmapx::scan_fd(fd.get(), count, {.offset = 8193}, ec);
  CHECK(ec == mmapx::errc::offset_beyond_end);
  mmapx::scan_fd(fd.get(), count, {.offset = 4096, .length = 4097}, ec);
  CHECK(ec == mmapx::errc::length_beyond_end);
  mmapx::scan_fd(fd.get(), count, {.offset = 1, .length = UINT64_MAX}, ec);
  CHECK(ec == mmapx::errc::size_overflow);
  mmapx::scan_fd(fd.get(), count, {.window = 3 * 4096}, ec);
  CHECK(ec == std::errc::invalid_argument);
  mmapx::scan_fd(fd.get(), count, {.window = 1024}, ec);
  CHECK(ec == std::errc::invalid_argument);
  mmapx::scan_fd(fd.get(), count, {.window = 0}, ec);
  CHECK(ec == std::errc::invalid_argument);

  mmapx::scan_fd(-1, count, {}, ec);
  CHECK(ec == std::errc::bad_file_descriptor);
  const auto directory = open_read(dir.path());
  mmapx::scan_fd(directory.get(), count, {}, ec);
  CHECK(ec == mmapx::errc::not_regular_file);
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const mmapx::unique_fd read_end(fds[0]), write_end(fds[1]);
  mmapx::scan_fd(read_end.get(), count, {}, ec);
  CHECK(ec == mmapx::errc::not_regular_file);
  const auto null_device = open_read("/dev/null");
  mmapx::scan_fd(null_device.get(), count, {}, ec);
  CHECK(ec == mmapx::errc::not_regular_file);
  mmapx::scan_file(dir / "missing", count, {}, ec);
  CHECK(ec == std::errc::no_such_file_or_directory);
  CHECK(thrown_message([&] { mmapx::scan_file(dir / "missing", count); }).find("missing") != std::string::npos);
  CHECK(calls == 0);
}

TEST_CASE("a /proc file (size 0) scans as empty rather than failing or hanging", "[scan]") {
  int calls = 0;
  mmapx::scan_file("/proc/self/status", [&](std::span<const std::byte>, std::uint64_t) { ++calls; });
  CHECK(calls == 0);
}

TEST_CASE("an exception from the callback propagates and the scan stops", "[scan]") {
  temp_dir dir;
  write_file(dir / "f", pattern(256 * KiB));
  int calls = 0;
  CHECK_THROWS_AS(mmapx::scan_file(dir / "f",
                                   [&](std::span<const std::byte>, std::uint64_t) {
                                     if (++calls == 2) throw std::runtime_error("stop");
                                   },
                                   {.window = 64 * KiB}),
                  std::runtime_error);
  CHECK(calls == 2);
}

TEST_CASE("a file that shrinks during the scan is an EFAULT or range error, not a SIGBUS", "[scan]") {
  temp_dir dir;
  write_file(dir / "f", pattern(1 * MiB));
  mmapx::unique_fd fd(::open((dir / "f").c_str(), O_RDWR | O_CLOEXEC));
  REQUIRE(fd);
  std::error_code ec;
  int calls = 0;
  mmapx::scan_fd(fd.get(),
                 [&](std::span<const std::byte>, std::uint64_t) {
                   if (++calls == 1) REQUIRE(::ftruncate(fd.get(), 100 * KiB) == 0);
                 },
                 {.window = 64 * KiB}, ec);
  CHECK(ec);  // the next window lies past the new end: mapping or populating it fails
  CHECK(calls == 1);
}

TEST_CASE("scan(region) walks any backend's mapping: file, memfd, anonymous", "[scan]") {
  temp_dir dir;
  const std::string data = pattern(200 * KiB + 7, 3);
  write_file(dir / "f", data);
  SECTION("a file mapped at an unaligned offset: offsets are file offsets, windows aligned in the file") {
    auto file = mmapx::map_file(dir / "f", {.offset = 1000});
    recorder r;
    mmapx::scan(file, std::ref(r), {.window = 64 * KiB});
    CHECK(r.bytes == data.substr(1000));
    REQUIRE(r.windows.size() == 4);
    CHECK(r.windows[0] == std::pair<std::uint64_t, std::size_t>{1000, 64 * KiB - 1000});
    CHECK(r.windows[1].first == 64 * KiB);
  }
  SECTION("a memfd and anonymous memory") {
    auto memfd = mmapx::map_memfd("scan", 128 * KiB);
    std::memcpy(memfd.data(), data.data(), 128 * KiB);
    recorder r;
    mmapx::scan(memfd, std::ref(r), {.offset = 4096, .window = 32 * KiB});
    CHECK(r.bytes == data.substr(4096, 128 * KiB - 4096));
    auto anon = mmapx::map_anonymous(64 * KiB);
    recorder zeros;
    mmapx::scan(anon, std::ref(zeros), {.window = 16 * KiB});
    CHECK(zeros.bytes == std::string(64 * KiB, '\0'));
    CHECK(zeros.windows.size() == 4);
  }
  SECTION("ranges outside the region, and an empty region") {
    auto file = mmapx::map_file(dir / "f");
    std::error_code ec;
    auto nothing = [](std::span<const std::byte>, std::uint64_t) {};
    mmapx::scan(file, nothing, {.offset = file.size() + 1}, ec);
    CHECK(ec == mmapx::errc::range_outside_region);
    mmapx::scan(file, nothing, {.offset = 1, .length = file.size()}, ec);
    CHECK(ec == mmapx::errc::range_outside_region);
    mmapx::scan(file, nothing, {.offset = SIZE_MAX, .length = 2}, ec);
    CHECK(ec == mmapx::errc::range_outside_region);
    mmapx::ro_region empty;
    int calls = 0;
    mmapx::scan(empty, [&](std::span<const std::byte>, std::uint64_t) { ++calls; }, {}, ec);
    CHECK(!ec);
    CHECK(calls == 0);
  }
}

TEST_CASE("read_ahead is a hint: bytes stay the same, bad descriptors and ranges are ignored", "[scan]") {
  temp_dir dir;
  const std::string data = pattern(3 * MiB, 1);
  write_file(dir / "f", data);
  const auto fd = open_read(dir / "f");
  mmapx::read_ahead(fd.get(), 0, 3 * MiB);
  mmapx::read_ahead(fd.get(), 1, UINT64_MAX);  // overflowing end: clamped, no wrap to a tiny range
  mmapx::read_ahead(-1, 0, 4096);
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  mmapx::read_ahead(fds[0], 0, 4096);
  ::close(fds[0]);
  ::close(fds[1]);
  CHECK(mmapx_test::read_file(dir / "f") == data);
}

TEST_CASE("reserve_file_range allocates a range, grows the file and keeps holes elsewhere", "[scan][reserve]") {
  temp_dir dir;
  mmapx::unique_fd fd(::open((dir / "f").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  REQUIRE(fd);
  REQUIRE(::ftruncate(fd.get(), 16 * MiB) == 0);
  mmapx::reserve_file_range(fd.get(), 4 * MiB, 1 * MiB);
  struct ::stat st {};
  REQUIRE(::fstat(fd.get(), &st) == 0);
  CHECK(st.st_size == static_cast<off_t>(16 * MiB));
  CHECK(st.st_blocks * 512 >= static_cast<blkcnt_t>(1 * MiB));
  CHECK(st.st_blocks * 512 < static_cast<blkcnt_t>(4 * MiB));  // the rest stays a hole
  mmapx::reserve_file_range(fd.get(), 20 * MiB, 4096);  // past the end: the file grows
  REQUIRE(::fstat(fd.get(), &st) == 0);
  CHECK(st.st_size == static_cast<off_t>(20 * MiB + 4096));
  mmapx::reserve_file_range(fd.get(), 0, 0);  // nothing to do
}

TEST_CASE("reserve_file_range errors name the descriptor and the cause", "[scan][reserve]") {
  temp_dir dir;
  write_file(dir / "f", "x");
  std::error_code ec;
  mmapx::reserve_file_range(-1, 0, 4096, ec);
  CHECK(ec == std::errc::bad_file_descriptor);
  const auto read_only = open_read(dir / "f");
  mmapx::reserve_file_range(read_only.get(), 0, 4096, ec);
  CHECK(ec == std::errc::bad_file_descriptor);  // posix_fallocate needs a descriptor open for writing
  mmapx::unique_fd fd(::open((dir / "f").c_str(), O_RDWR | O_CLOEXEC));
  mmapx::reserve_file_range(fd.get(), UINT64_MAX - 10, 100, ec);
  CHECK(ec == mmapx::errc::size_overflow);
  mmapx::reserve_file_range(fd.get(), mmapx::largest_file_end, 1, ec);
  CHECK(ec == mmapx::errc::size_overflow);
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const mmapx::unique_fd read_end(fds[0]), write_end(fds[1]);
  mmapx::reserve_file_range(write_end.get(), 0, 4096, ec);
  CHECK(ec == std::errc::invalid_seek);
  const auto directory = open_read(dir.path());
  mmapx::reserve_file_range(directory.get(), 0, 4096, ec);
  CHECK(ec);
  CHECK(thrown_message([&] { mmapx::reserve_file_range(-1, 0, 4096); }).find("reserve space") != std::string::npos);
}
