// Unit tests: mapping files by path and by descriptor.
#include <sys/stat.h>

#include <cstring>
#include <string_view>

#include <mmapx/file.hpp>

#include "catch.hpp"
#include "test_support.hpp"

using namespace mmapx;
using mmapx_test::pattern;
using mmapx_test::read_file;
using mmapx_test::temp_dir;
using mmapx_test::write_file;

static std::string_view as_text(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

TEST_CASE("a whole file maps read-only and shows its bytes", "[file]") {
  temp_dir dir;
  const auto contents = pattern(10000);
  write_file(dir / "f", contents);
  auto r = map_file(dir / "f");
  static_assert(std::is_same_v<decltype(r), ro_region>);
  static_assert(std::is_same_v<decltype(r.data()), const std::byte*>);
  CHECK(r.size() == contents.size());
  CHECK(as_text(r.bytes()) == contents);
  CHECK(r.offset() == 0);
  CHECK(r.native_handle() >= 0);
}

TEST_CASE("an unaligned offset shows exactly the requested bytes", "[file]") {
  temp_dir dir;
  const auto contents = pattern(3 * 4096 + 17);
  write_file(dir / "f", contents);
  for (std::uint64_t offset : {1ULL, 4095ULL, 4096ULL, 4097ULL, 8191ULL}) {
    auto r = map_file(dir / "f", {.offset = offset, .length = 100});
    CHECK(r.size() == 100);
    CHECK(r.offset() == offset);
    CHECK(as_text(r.bytes()) == contents.substr(offset, 100));
  }
  auto tail = map_file(dir / "f", {.offset = 5000});
  CHECK(as_text(tail.bytes()) == contents.substr(5000));
}

TEST_CASE("an empty file maps to an empty region", "[file]") {
  temp_dir dir;
  write_file(dir / "empty", "");
  auto r = map_file(dir / "empty");
  CHECK(r.empty());
  CHECK(r.size() == 0);
  CHECK(r.bytes().empty());
  CHECK_FALSE(r.is_mapped());
  auto w = map_file<access::read_write>(dir / "empty");
  CHECK(w.empty());
  w.flush();  // nothing to do, and no error
  CHECK(w.resize(10) == true);
  std::memcpy(w.data(), "0123456789", 10);
  w.flush(flush_level::durable);
  CHECK(read_file(dir / "empty") == "0123456789");
}

TEST_CASE("read_write mappings reach the file; copy_on_write ones do not", "[file]") {
  temp_dir dir;
  write_file(dir / "f", pattern(8192));
  {
    auto w = map_file<access::read_write>(dir / "f", {.offset = 100, .length = 10});
    std::memcpy(w.data(), "ABCDEFGHIJ", 10);
    w.flush(flush_level::sync);
  }
  CHECK(read_file(dir / "f").substr(100, 10) == "ABCDEFGHIJ");
  {
    auto c = map_file<access::copy_on_write>(dir / "f");
    static_assert(std::is_same_v<decltype(c.data()), std::byte*>);
    std::memcpy(c.data() + 100, "zzzzzzzzzz", 10);
    CHECK(as_text(c.bytes()).substr(100, 10) == "zzzzzzzzzz");
  }
  CHECK(read_file(dir / "f").substr(100, 10) == "ABCDEFGHIJ");
}

TEST_CASE("create, create_new and truncate make and size files", "[file]") {
  temp_dir dir;
  auto p = dir / "new";
  {
    auto w = map_file<access::read_write>(p, {.open = open_mode::create, .size = 5000});
    CHECK(w.size() == 5000);
    CHECK(std::filesystem::file_size(p) == 5000);
    w.data()[4999] = std::byte{'x'};
    w.flush(flush_level::durable);
  }
  CHECK(read_file(p)[4999] == 'x');

  std::error_code ec;
  auto again = map_file<access::read_write>(p, {.open = open_mode::create_new, .size = 10}, ec);
  CHECK(ec == std::errc::file_exists);
  CHECK_FALSE(again.is_mapped());
  CHECK(std::filesystem::file_size(p) == 5000);  // untouched

  auto t = map_file<access::read_write>(p, {.open = open_mode::truncate, .size = 100});
  CHECK(t.size() == 100);
  CHECK(std::filesystem::file_size(p) == 100);
  CHECK(std::all_of(t.begin(), t.end(), [](std::byte b) { return b == std::byte{0}; }));
}

TEST_CASE("permissions of a created file are honoured", "[file]") {
  temp_dir dir;
  const mode_t old = ::umask(0);
  auto w = map_file<access::read_write>(dir / "p", {.open = open_mode::create_new, .size = 1, .permissions = 0600});
  ::umask(old);
  struct stat st {};
  REQUIRE(::stat((dir / "p").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("a writable mapping past the end reserves the space first", "[file]") {
  temp_dir dir;
  write_file(dir / "f", "abc");
  auto w = map_file<access::read_write>(dir / "f", {.offset = 2, .length = 10000});
  CHECK(std::filesystem::file_size(dir / "f") == 10002);
  struct stat st {};
  REQUIRE(::stat((dir / "f").c_str(), &st) == 0);
  CHECK(static_cast<std::uint64_t>(st.st_blocks) * 512 >= 10002 - 4096);  // blocks really allocated
  CHECK(static_cast<char>(w.data()[0]) == 'c');
  w.data()[9999] = std::byte{'!'};
  w.flush();
  CHECK(read_file(dir / "f")[10001] == '!');
}

TEST_CASE("reserve_space::whole_range fills holes, extension keeps them", "[file]") {
  temp_dir dir;
  auto p = dir / "sparse";
  write_file(p, "");
  REQUIRE(::truncate(p.c_str(), 1 << 20) == 0);
  struct stat st {};
  {
    auto w = map_file<access::read_write>(p, {.length = 1 << 20});
    REQUIRE(::stat(p.c_str(), &st) == 0);
    CHECK(st.st_blocks < 64);  // still sparse
  }
  {
    auto w = map_file<access::read_write>(p, {.length = 1 << 20, .reserve = reserve_space::whole_range});
    REQUIRE(::stat(p.c_str(), &st) == 0);
    CHECK(static_cast<std::uint64_t>(st.st_blocks) * 512 >= (1u << 20));
  }
}

TEST_CASE("a sparse file over 4 GiB maps at an offset above 4 GiB", "[file]") {
  temp_dir dir;
  auto p = dir / "big";
  write_file(p, "");
  const std::uint64_t size = 5ULL << 30;
  REQUIRE(::truncate(p.c_str(), static_cast<off_t>(size)) == 0);
  const std::uint64_t at = (4ULL << 30) + 12345;  // above 4 GiB, not page-aligned
  {
    auto w = map_file<access::read_write>(p, {.offset = at, .length = 64});
    std::memcpy(w.data(), "past four gigabytes", 19);
    w.flush();
  }
  auto r = map_file(p, {.offset = at, .length = 19});
  CHECK(as_text(r.bytes()) == "past four gigabytes");
  auto whole = map_file(p, {.offset = at - 5});
  CHECK(whole.size() == size - at + 5);
  CHECK(std::filesystem::file_size(p) == size);
}

TEST_CASE("map_fd maps an open descriptor and keeps its own copy", "[file]") {
  temp_dir dir;
  write_file(dir / "f", "hello, descriptor");
  const int fd = ::open((dir / "f").c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  auto r = map_fd(fd, {.offset = 7});
  ::close(fd);  // the region has its own
  CHECK(as_text(r.bytes()) == "descriptor");
  CHECK(r.native_handle() != fd);
}

TEST_CASE("a durable flush of a sub-range reaches the file", "[file]") {
  temp_dir dir;
  auto w = map_file<access::read_write>(dir / "f", {.open = open_mode::create, .size = 3 * 4096});
  std::memcpy(w.data() + 5000, "durable", 7);
  w.flush(5000, 7, flush_level::durable);
  w.flush(0, w.size(), flush_level::async);
  CHECK(read_file(dir / "f").substr(5000, 7) == "durable");
}
