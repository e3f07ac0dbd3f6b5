// Unit tests: every bad input of the core gets a clear error (code and
// message), never a crash and never a partial result.
#include <algorithm>
#include <climits>
#include <cstring>

#include <mmapx/anonymous.hpp>
#include <mmapx/file.hpp>
#include <mmapx/memfd.hpp>
#include <mmapx/typed.hpp>

#include "catch.hpp"
#include "test_support.hpp"

using namespace mmapx;
using mmapx_test::contains;
using mmapx_test::temp_dir;
using mmapx_test::thrown_by;
using mmapx_test::write_file;

TEST_CASE("nonexistent path: ENOENT naming the path and operation", "[errors]") {
  temp_dir dir;
  const auto p = dir / "missing";
  std::error_code ec;
  auto r = map_file(p, {}, ec);
  CHECK(ec == std::errc::no_such_file_or_directory);
  CHECK_FALSE(r.is_mapped());
  auto e = thrown_by([&] { (void)map_file(p); });
  CHECK(e.code() == std::errc::no_such_file_or_directory);
  CHECK(contains(e.what(), "open '" + p.string() + "'"));
  CHECK(contains(e.what(), "No such file or directory"));
}

TEST_CASE("a directory is refused", "[errors]") {
  temp_dir dir;
  std::error_code ec;
  (void)map_file(dir.path(), {}, ec);
  CHECK(ec == errc::not_regular_file);
  CHECK(ec == std::errc::is_a_directory);
  (void)map_file<access::read_write>(dir.path(), {}, ec);
  CHECK(ec == std::errc::is_a_directory);  // open(O_RDWR) itself refuses
  auto e = thrown_by([&] { (void)map_file(dir.path()); });
  CHECK(contains(e.what(), dir.path().string()));
}

TEST_CASE("permission denied is reported as EACCES", "[errors]") {
  temp_dir dir;
  const auto p = dir / "secret";
  write_file(p, "top secret");
  REQUIRE(::chmod(p.c_str(), 0600) == 0);
  if (::geteuid() != 0) {
    REQUIRE(::chmod(p.c_str(), 0) == 0);
    std::error_code ec;
    (void)map_file(p, {}, ec);
    CHECK(ec == std::errc::permission_denied);
    return;
  }
  // Root bypasses file modes: check from a child that became nobody.
  REQUIRE(::chmod(dir.path().c_str(), 0755) == 0);
  CHECK(mmapx_test::in_child([&] {
          if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 3;
          std::error_code ec;
          auto r = map_file(p, {}, ec);
          return ec == std::errc::permission_denied && !r.is_mapped() ? 0 : 1;
        }) == 0);
}

TEST_CASE("offsets and lengths beyond a read-only file", "[errors]") {
  temp_dir dir;
  const auto p = dir / "f";
  write_file(p, std::string(100, 'x'));
  std::error_code ec;
  (void)map_file(p, {.offset = 101}, ec);
  CHECK(ec == errc::offset_beyond_end);
  (void)map_file(p, {.offset = 200, .length = 1}, ec);
  CHECK(ec == errc::offset_beyond_end);
  (void)map_file(p, {.offset = 50, .length = 51}, ec);
  CHECK(ec == errc::length_beyond_end);
  (void)map_file<access::copy_on_write>(p, {.length = 4096}, ec);
  CHECK(ec == errc::length_beyond_end);
  auto at_end = map_file(p, {.offset = 100}, ec);  // the empty tail is fine
  CHECK_FALSE(ec);
  CHECK(at_end.empty());
  auto e = thrown_by([&] { (void)map_file(p, {.offset = 50, .length = 51}); });
  CHECK(contains(e.what(), "at 0x32"));
  CHECK(contains(e.what(), p.string()));
  CHECK(std::filesystem::file_size(p) == 100);  // nothing was changed
}

TEST_CASE("offset + length overflowing 64 bits", "[errors]") {
  temp_dir dir;
  const auto p = dir / "f";
  write_file(p, "abc");
  std::error_code ec;
  (void)map_file(p, {.offset = UINT64_MAX - 10, .length = 100}, ec);
  CHECK(ec == errc::size_overflow);
  (void)map_file<access::read_write>(p, {.offset = UINT64_MAX - 10, .length = 100}, ec);
  CHECK(ec == errc::size_overflow);
  (void)map_file<access::read_write>(p, {.offset = 1ULL << 63, .length = 1}, ec);
  CHECK(ec == errc::size_overflow);
  CHECK(std::filesystem::file_size(p) == 3);
}

TEST_CASE("file ends past the largest off_t are size_overflow everywhere", "[errors]") {
  temp_dir dir;
  const auto p = dir / "f";
  write_file(p, "abc");
  const std::uint64_t past = largest_file_end + 1;
  std::error_code ec;
  (void)map_file<access::read_write>(p, {.size = past}, ec);
  CHECK(ec == errc::size_overflow);
  (void)map_file<access::read_write>(p, {.offset = largest_file_end, .length = 1}, ec);
  CHECK(ec == errc::size_overflow);
  auto w = map_file<access::read_write>(p, {.offset = 1});
  // The largest size_t passes the largest off_t on 64-bit targets and the
  // address space on 32-bit ones: size_overflow either way, found before
  // the file grows.
  w.resize(static_cast<std::size_t>(std::min<std::uint64_t>(largest_file_end, SIZE_MAX)), {}, ec);
  CHECK(ec == errc::size_overflow);
  CHECK(w.size() == 2);
  if constexpr (sizeof(std::size_t) == 8) {  // a 32-bit size_t cannot pass the largest off_t
    (void)map_memfd("too-big", static_cast<std::size_t>(past), {}, ec);
    CHECK(ec == errc::size_overflow);
  }
  CHECK(std::filesystem::file_size(p) == 3);
}

TEST_CASE("creating needs a writable mapping", "[errors]") {
  temp_dir dir;
  std::error_code ec;
  (void)map_file(dir / "x", {.open = open_mode::create}, ec);
  CHECK(ec == std::errc::invalid_argument);
  CHECK_FALSE(std::filesystem::exists(dir / "x"));
}

TEST_CASE("typed views larger than the region or misaligned", "[errors]") {
  auto r = map_anonymous(4096);
  std::error_code ec;
  auto too_big = view_array<std::uint64_t>(r, 0, 513, ec);
  CHECK(ec == errc::view_too_large);
  CHECK(too_big.empty());
  (void)view<std::uint64_t>(r, 4090, ec);
  CHECK(ec == errc::view_too_large);
  (void)view_array<std::uint64_t>(r, 8, SIZE_MAX / 4, ec);
  CHECK(ec == errc::size_overflow);
  (void)view<std::uint32_t>(r, 2, ec);
  CHECK(ec == errc::view_misaligned);
  auto e = thrown_by([&] { (void)view<std::uint64_t>(r, 3); });
  CHECK(e.code() == errc::view_misaligned);
  CHECK(contains(e.what(), "typed view at 0x3"));
  auto arr = view_array<std::uint32_t>(r);
  auto at = thrown_by([&] { (void)arr.at(1024); });
  CHECK(at.code() == errc::range_outside_region);
}

TEST_CASE("a writable mapping of a descriptor opened read-only", "[errors]") {
  temp_dir dir;
  write_file(dir / "f", std::string(4096, 'a'));
  const int fd = ::open((dir / "f").c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  std::error_code ec;
  auto r = map_fd<access::read_write>(fd, {}, ec);
  CHECK(ec == std::errc::permission_denied);
  CHECK_FALSE(r.is_mapped());
  auto e = thrown_by([&] { (void)map_fd<access::read_write>(fd); });
  // The descriptor, and the file behind it.
  CHECK(contains(e.what(), "mmap '" + (dir / "f").string() + "' (fd " + std::to_string(fd) + ")"));
  ::close(fd);
}

TEST_CASE("MAP_FIXED_NOREPLACE over an existing mapping", "[errors]") {
  auto existing = map_anonymous(8192);
  std::error_code ec;
  auto r = map_anonymous(4096, {.map = {.hint = existing.data(), .place = placement::fixed_noreplace}}, ec);
  CHECK(ec == std::errc::file_exists);
  CHECK_FALSE(r.is_mapped());
  CHECK(existing.data()[0] == std::byte{0});  // still ours, still mapped
  // A free address is honoured exactly.
  void* free_spot = existing.data() + 4096;
  existing.resize(4096, {.may_move = false});
  auto placed = map_anonymous(4096, {.map = {.hint = free_spot, .place = placement::fixed_noreplace}});
  CHECK(placed.data() == free_spot);
}

TEST_CASE("explicit huge pages: a clear error, or the page size used", "[errors]") {
  std::error_code ec;
  auto r = map_anonymous(4 << 20, {.map = {.huge = huge_pages::explicit_2m}}, ec);
  if (ec) {
    CHECK(ec == errc::huge_pages_unavailable);
    CHECK_FALSE(r.is_mapped());
  } else {
    CHECK(r.page_size() == (2u << 20));
  }
  auto fallback = map_anonymous(4 << 20, {.map = {.huge = huge_pages::explicit_1g,
                                                  .on_no_huge_pages = huge_fallback::base_pages}});
  CHECK(fallback.size() == (4u << 20));
  CHECK((fallback.page_size() == page_size() || fallback.page_size() == (1u << 30)));
  temp_dir dir;
  write_file(dir / "f", std::string(4096, 'a'));
  (void)map_file(dir / "f", {.map = {.huge = huge_pages::explicit_2m}}, ec);
  CHECK(ec == errc::huge_pages_unavailable);
}

TEST_CASE("flush, advise and protect outside the region", "[errors]") {
  temp_dir dir;
  auto w = map_file<access::read_write>(dir / "f", {.open = open_mode::create, .size = 10000});
  std::error_code ec;
  w.flush(9000, 1001, flush_level::sync, ec);
  CHECK(ec == errc::range_outside_region);
  w.flush(SIZE_MAX, 2, flush_level::sync, ec);
  CHECK(ec == errc::range_outside_region);
  w.advise(advice::will_need, 10001, 0, ec);
  CHECK(ec == errc::range_outside_region);
  w.protect(protection::read, 1, SIZE_MAX, ec);
  CHECK(ec == errc::range_outside_region);
  auto e = thrown_by([&] { w.advise(advice::random, 20000, 1); });
  CHECK(contains(e.what(), "advise"));
  CHECK(contains(e.what(), dir.path().string()) == false);  // regions do not keep paths
  w.flush(9000, 1000, flush_level::sync, ec);  // the edge itself is fine
  CHECK_FALSE(ec);
}

TEST_CASE("a read-only region refuses write protection", "[errors]") {
  temp_dir dir;
  write_file(dir / "f", "abc");
  auto r = map_file(dir / "f");
  std::error_code ec;
  r.protect(protection::read_write, ec);
  CHECK(ec == std::errc::permission_denied);
  r.protect(protection::none, ec);
  CHECK_FALSE(ec);
  r.protect(protection::read, ec);
  CHECK_FALSE(ec);
  CHECK(static_cast<char>(r.data()[0]) == 'a');
}

TEST_CASE("a moved-from region is empty and safe to use", "[errors]") {
  auto a = map_anonymous(4096);
  a.data()[0] = std::byte{7};
  auto b = std::move(a);
  CHECK(b.data()[0] == std::byte{7});
  // NOLINTBEGIN(bugprone-use-after-move): this is the documented behaviour under test
  CHECK(a.data() == nullptr);
  CHECK(a.size() == 0);
  CHECK(a.bytes().empty());
  CHECK_FALSE(a.is_mapped());
  CHECK(a.native_handle() == -1);
  std::error_code ec;
  a.advise(advice::normal, ec);  // whole (empty) region: nothing to do
  CHECK_FALSE(ec);
  a.lock(ec);
  CHECK_FALSE(ec);
  a.advise(advice::normal, 0, 1, ec);
  CHECK(ec == errc::range_outside_region);
  a.resize(4096, {}, ec);
  CHECK(ec == errc::not_mapped);
  (void)view_array<std::uint32_t>(a, 0, 1, ec);
  CHECK(ec == errc::view_too_large);
  a.unmap();
  a = std::move(b);  // and it can be given a mapping again
  CHECK(a.data()[0] == std::byte{7});
  // NOLINTEND(bugprone-use-after-move)
}
