// Tests of mmcp's copy engine: extents, every strategy, window edges,
// verification and the SIGBUS guard. The program itself is tested by test_mmcp.py.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <thread>

#include "catch.hpp"
#include "copy.hpp"
#include "unit/test_support.hpp"

using mmapx_test::pattern;
using mmapx_test::read_file;
using mmapx_test::temp_dir;
using mmapx_test::thrown_message;
using mmapx_test::write_file;

namespace Catch {
template <>
struct StringMaker<mmcp::extent> {
  static std::string convert(const mmcp::extent& e) {
    return "{" + std::to_string(e.offset) + ", +" + std::to_string(e.length) + "}";
  }
};
}  // namespace Catch

namespace {

/// An open descriptor that closes itself.
struct open_file {
  open_file(const std::filesystem::path& p, int flags) : fd(::open(p.c_str(), flags | O_CLOEXEC, 0644)), name(p.string()) {
    if (!fd) throw std::system_error(errno, std::system_category(), "open " + name);
  }
  mmcp::file_ref ref() const { return {fd.get(), name.c_str()}; }
  mmapx::unique_fd fd;
  std::string name;
};

void pwrite_all(int fd, const std::string& bytes, std::uint64_t at) {
  REQUIRE(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(at)) == static_cast<ssize_t>(bytes.size()));
}

std::vector<mmcp::extent> extents_of(const open_file& f) {
  struct ::stat st {};
  REQUIRE(::fstat(f.fd.get(), &st) == 0);
  std::vector<mmcp::extent> out;
  mmcp::failure failure;
  REQUIRE(mmcp::data_extents(f.ref(), static_cast<std::uint64_t>(st.st_size), out, failure));
  return out;
}

constexpr std::uint64_t MiB = 1 << 20;

}  // namespace

TEST_CASE("data_extents finds the data of a sparse file and skips its holes") {
  temp_dir dir;
  open_file f(dir / "sparse", O_RDWR | O_CREAT);
  REQUIRE(::ftruncate(f.fd.get(), 16 * MiB) == 0);
  pwrite_all(f.fd.get(), pattern(4096), 1 * MiB);
  pwrite_all(f.fd.get(), pattern(8192, 7), 8 * MiB);

  const auto extents = extents_of(f);
  REQUIRE(!extents.empty());
  std::uint64_t total = 0;
  for (const auto& e : extents) total += e.length;
  CHECK(total < 16 * MiB);  // the file system found holes
  auto covered = [&](std::uint64_t at) {
    for (const auto& e : extents) {
      if (at >= e.offset && at < e.offset + e.length) return true;
    }
    return false;
  };
  CHECK(covered(1 * MiB));
  CHECK(covered(1 * MiB + 4095));
  CHECK(covered(8 * MiB + 8191));
  CHECK(!covered(12 * MiB));
}

TEST_CASE("data_extents of an empty file and of an all-hole file are empty") {
  temp_dir dir;
  open_file f(dir / "empty", O_RDWR | O_CREAT);
  CHECK(extents_of(f).empty());
  REQUIRE(::ftruncate(f.fd.get(), 4 * MiB) == 0);
  CHECK(extents_of(f).empty());
}

TEST_CASE("extent_union merges overlapping and touching extents") {
  using mmcp::extent;
  CHECK(mmcp::extent_union({{0, 10}, {20, 5}}, {{5, 10}, {25, 5}, {40, 1}}) ==
        std::vector<extent>{{0, 15}, {20, 10}, {40, 1}});
  CHECK(mmcp::extent_union({}, {}).empty());
}

TEST_CASE("every strategy copies data byte for byte and holes hole for hole") {
  const auto how = GENERATE(mmcp::strategy::write, mmcp::strategy::mmap, mmcp::strategy::mmap_populate,
                            mmcp::strategy::huge, mmcp::strategy::copy_file_range);
  // Small windows, so extents start and end mid-window and span several windows.
  const std::size_t window = GENERATE(std::size_t{64 * 1024}, mmcp::default_window);
  temp_dir dir;
  open_file src(dir / "src", O_RDWR | O_CREAT);
  REQUIRE(::ftruncate(src.fd.get(), 9 * MiB + 123) == 0);
  const std::string head = pattern(300 * 1024, 1), middle = pattern(1 * MiB, 2), tail = pattern(5000, 3);
  pwrite_all(src.fd.get(), head, 0);
  pwrite_all(src.fd.get(), middle, 4 * MiB + 4096);
  pwrite_all(src.fd.get(), tail, 9 * MiB + 123 - 5000);

  open_file dst(dir / "dst", O_RDWR | O_CREAT);
  mmcp::failure f;
  const auto extents = extents_of(src);
  REQUIRE(mmcp::reserve_extents(dst.ref(), 9 * MiB + 123, extents, f));
  std::uint64_t reported = 0;
  REQUIRE(mmcp::copy_extents(src.ref(), dst.ref(), extents, how, window, [&](std::uint64_t done) { reported = done; }, f));
  CHECK(!f);

  CHECK(read_file(dir / "dst") == read_file(dir / "src"));
  CHECK(extents_of(dst) == extents);
  std::uint64_t data = 0;
  for (const auto& e : extents) data += e.length;
  CHECK(reported == data);
  CHECK_FALSE(mmcp::first_difference(src.ref(), dst.ref(), window, f));
  CHECK(!f);
}

TEST_CASE("first_difference finds the first differing byte") {
  temp_dir dir;
  const std::string bytes = pattern(3 * MiB, 5);
  write_file(dir / "a", bytes);
  std::string changed = bytes;
  changed[2 * MiB + 17] ^= 1;
  write_file(dir / "b", changed);
  write_file(dir / "short", bytes.substr(0, 1 * MiB));
  open_file a(dir / "a", O_RDONLY), b(dir / "b", O_RDONLY), shorter(dir / "short", O_RDONLY);
  mmcp::failure f;

  CHECK(mmcp::first_difference(a.ref(), b.ref(), 64 * 1024, f) == std::optional<std::uint64_t>(2 * MiB + 17));
  CHECK(mmcp::first_difference(a.ref(), shorter.ref(), 64 * 1024, f) == std::optional<std::uint64_t>(1 * MiB));
  CHECK_FALSE(mmcp::first_difference(a.ref(), a.ref(), 64 * 1024, f));
  CHECK(!f);
}

TEST_CASE("first_difference sees data in one file where the other has a hole") {
  temp_dir dir;
  open_file a(dir / "a", O_RDWR | O_CREAT), b(dir / "b", O_RDWR | O_CREAT);
  REQUIRE(::ftruncate(a.fd.get(), 8 * MiB) == 0);
  REQUIRE(::ftruncate(b.fd.get(), 8 * MiB) == 0);
  pwrite_all(b.fd.get(), std::string(10, '\0') + "x", 6 * MiB);
  mmcp::failure f;
  CHECK(mmcp::first_difference(a.ref(), b.ref(), mmcp::default_window, f) == std::optional<std::uint64_t>(6 * MiB + 10));
  CHECK(mmcp::first_difference(b.ref(), a.ref(), mmcp::default_window, f) == std::optional<std::uint64_t>(6 * MiB + 10));
  CHECK(!f);
}

TEST_CASE("a SIGBUS in mmcp's guarded copy and compare becomes an error, and the process goes on") {
  temp_dir dir;
  write_file(dir / "shrinks", pattern(2 * 4096));
  open_file file(dir / "shrinks", O_RDWR);
  mmcp::failure f;
  auto mapped = mmcp::map_window<mmapx::access::read>(file.ref(), 0, 2 * 4096, {}, f);
  REQUIRE(!f);
  REQUIRE(::ftruncate(file.fd.get(), 0) == 0);  // someone else shrinks the file under the mapping

  char copy[64];
  std::error_code ec;
  mmapx::guarded_copy(copy, mapped.data() + 4096, sizeof copy, 4096, ec);
  CHECK(ec == std::errc::bad_address);
  // The offset given is where the window starts in the file: the error names the missing byte's.
  CHECK(thrown_message([&] { mmapx::guarded_copy(copy, mapped.data() + 4096, sizeof copy, 4096); }).find("at 0x1000") != std::string::npos);
  const std::string fine(64, 'x');
  CHECK(mmapx::guarded_mismatch(mapped.data(), fine.data(), fine.size(), 0, ec) == fine.size());
  CHECK(ec == std::errc::bad_address);
  mmapx::guarded_copy(copy, fine.data(), fine.size(), 0, ec);
  CHECK(!ec);
  CHECK(std::string(copy, fine.size()) == fine);

  // A window that already lies past the shrunken end is not mapped at all: an error naming the source.
  open_file dst(dir / "dst", O_RDWR | O_CREAT);
  REQUIRE(::ftruncate(dst.fd.get(), 2 * 4096) == 0);
  REQUIRE(::ftruncate(file.fd.get(), 4096) == 0);
  CHECK_FALSE(mmcp::copy_window(file.ref(), dst.ref(), 0, 2 * 4096, mmcp::strategy::mmap, f));
  CHECK(f.code == mmapx::errc::length_beyond_end);
  CHECK(std::string(f.operation) == "map");
  CHECK(std::string(f.subject) == file.name);
}

TEST_CASE("copies on several threads give the same bytes, holes and progress as one") {
  const unsigned threads = GENERATE(1u, 2u, 3u, 8u);
  const auto how = GENERATE(mmcp::strategy::write, mmcp::strategy::mmap);
  temp_dir dir;
  open_file src(dir / "src", O_RDWR | O_CREAT);
  REQUIRE(::ftruncate(src.fd.get(), 10 * MiB + 77) == 0);
  pwrite_all(src.fd.get(), pattern(3 * MiB + 5, 1), 0);
  pwrite_all(src.fd.get(), pattern(2 * MiB, 2), 6 * MiB);
  pwrite_all(src.fd.get(), pattern(77, 3), 10 * MiB);
  open_file dst(dir / "dst", O_RDWR | O_CREAT);
  mmcp::failure f;
  const auto extents = extents_of(src);
  REQUIRE(mmcp::reserve_extents(dst.ref(), 10 * MiB + 77, extents, f));
  std::vector<std::uint64_t> reported;  // the callback is called one at a time: no lock needed here
  REQUIRE(mmcp::copy_extents(src.ref(), dst.ref(), extents, how, 256 * 1024,
                             [&](std::uint64_t done) { reported.push_back(done); }, f,
                             {.threads = threads, .min_parallel_bytes = 0}));
  CHECK(read_file(dir / "dst") == read_file(dir / "src"));
  CHECK(extents_of(dst) == extents);
  std::uint64_t data = 0;
  for (const auto& e : extents) data += e.length;
  REQUIRE(!reported.empty());
  CHECK(std::is_sorted(reported.begin(), reported.end()));
  CHECK(reported.back() == data);
  CHECK(reported.size() == mmcp::windows_of(extents, 256 * 1024).size());
}

TEST_CASE("a failing window on one thread fails the copy with that error and stops the others") {
  temp_dir dir;
  write_file(dir / "src", pattern(8 * MiB));
  open_file src(dir / "src", O_RDWR), dst(dir / "dst", O_RDWR | O_CREAT);
  mmcp::failure f;
  const std::vector<mmcp::extent> extents{{0, 8 * MiB}};
  REQUIRE(mmcp::reserve_extents(dst.ref(), 8 * MiB, extents, f));
  REQUIRE(::ftruncate(src.fd.get(), 3 * MiB) == 0);  // windows past 3 MiB cannot be mapped or read
  CHECK_FALSE(mmcp::copy_extents(src.ref(), dst.ref(), extents, mmcp::strategy::write, 1 * MiB, {}, f,
                                 {.threads = 4, .min_parallel_bytes = 0}));
  REQUIRE(f);
  CHECK(std::string(f.subject) == src.name);
}

TEST_CASE("the automatic thread count keeps small copies on one thread and never exceeds the windows") {
  const mmcp::parallelism automatic{};
  CHECK(mmcp::thread_count(automatic, 1, 4096, mmcp::default_window) == 1);
  CHECK(mmcp::thread_count(automatic, 16, automatic.min_parallel_bytes - 1, 1 << 20) == 1);
  const unsigned big = mmcp::thread_count(automatic, 64, std::uint64_t{4} << 30, mmcp::default_window);
  CHECK(big >= 1);
  CHECK(big <= std::max(std::thread::hardware_concurrency(), 1u));
  if (std::thread::hardware_concurrency() <= 2) CHECK(big == 1);  // measured: no gain on 2 cores
  CHECK(mmcp::thread_count(automatic, 2, std::uint64_t{4} << 30, mmcp::default_window) <= 2);
  CHECK(mmcp::thread_count({.threads = 8}, 3, 4096, mmcp::default_window) == 3);
  CHECK(mmcp::thread_count({.threads = 2}, 100, 4096, mmcp::default_window) == 2);
}

TEST_CASE("windows_of cuts extents at multiples of the window") {
  using W = std::vector<std::pair<std::uint64_t, std::size_t>>;
  W got;
  for (const auto& w : mmcp::windows_of({{100, 300}, {1000, 24}}, 256)) got.emplace_back(w.offset, w.length);
  CHECK(got == W{{100, 156}, {256, 144}, {1000, 24}});
  CHECK(mmcp::windows_of({}, 256).empty());
}

TEST_CASE("the write strategy reports a source that shrank as a read error, not a crash") {
  temp_dir dir;
  write_file(dir / "src", pattern(1 * MiB));
  open_file src(dir / "src", O_RDWR), dst(dir / "dst", O_RDWR | O_CREAT);
  mmcp::failure f;
  auto mapped = mmcp::map_window<mmapx::access::read>(src.ref(), 0, 1 * MiB, {}, f);
  REQUIRE(!f);
  REQUIRE(::ftruncate(src.fd.get(), 4096) == 0);
  CHECK_FALSE(mmcp::write_all(dst.ref(), mapped.data(), mapped.size(), 0, src.ref(), f));
  CHECK(f.code == std::errc::io_error);
  CHECK(std::string(f.subject) == src.name);
}

TEST_CASE("strategy names round-trip and unknown names are refused") {
  for (const auto& s : mmcp::strategies) CHECK(mmcp::parse_strategy(s.name) == s.value);
  CHECK_FALSE(mmcp::parse_strategy("memcpy"));
  CHECK(mmcp::strategies.front().value == mmcp::default_strategy);
}
