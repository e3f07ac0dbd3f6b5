// Unit tests: offsets past 4 GiB in a program compiled WITHOUT
// -D_FILE_OFFSET_BITS=64, as a hand-written Makefile builds a header-only
// library (tests/unit/meson.build passes -U_FILE_OFFSET_BITS for this file:
// meson itself defines it). On 32-bit targets (armhf) off_t is then 32 bits,
// and mmapx must still use 64-bit offsets (include/mmapx/detail/lfs.hpp).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string_view>

#include <mmapx/file.hpp>

#include "catch.hpp"
#include "test_support.hpp"

#ifdef _FILE_OFFSET_BITS
#error "large_file_test.cpp must be compiled without _FILE_OFFSET_BITS (see tests/unit/meson.build)"
#endif
// What makes this test mean something on 32-bit targets: the user's off_t is short.
static_assert(sizeof(void*) == 8 || sizeof(off_t) == 4, "32-bit glibc without _FILE_OFFSET_BITS has a 32-bit off_t");

using namespace mmapx;
using mmapx_test::temp_dir;

namespace {

constexpr std::uint64_t far_offset = (std::uint64_t{5} << 30) + 12345;  // 5 GiB + 12345
constexpr std::string_view far_bytes = "bytes past 4 GiB ok";              // 19 bytes

/// Writes `text` at `offset` of a new sparse file (the test's own 64-bit
/// calls, independent of mmapx's).
void write_at(const std::filesystem::path& p, std::uint64_t offset, std::string_view text) {
  const int fd = ::open64(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  const auto n = ::pwrite64(fd, text.data(), text.size(), static_cast<off64_t>(offset));
  ::close(fd);
  REQUIRE(n == static_cast<ssize_t>(text.size()));
}

std::string read_at(const std::filesystem::path& p, std::uint64_t offset, std::size_t size) {
  std::string out(size, '\0');
  const int fd = ::open64(p.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  const auto n = ::pread64(fd, out.data(), size, static_cast<off64_t>(offset));
  ::close(fd);
  REQUIRE(n == static_cast<ssize_t>(size));
  return out;
}

std::string_view as_text(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

/// True if this platform's own mmap64 (not mmapx's) shows the bytes of
/// `p` at far_offset, as write_at left them. False under qemu-user before
/// 8.1 for 32-bit guests: its target_mmap takes the offset as a 32-bit
/// abi_ulong, so mmap2(pgoff 0x140003) maps 1 GiB + 12288 instead (seen
/// with qemu-arm-static 7.2, Debian 12). pread64 is not affected.
bool platform_maps_past_4gib(const std::filesystem::path& p) {
  const int fd = ::open64(p.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  const auto page_start = far_offset & ~std::uint64_t{4095};
  void* base = ::mmap64(nullptr, 8192, PROT_READ, MAP_SHARED, fd, static_cast<off64_t>(page_start));
  ::close(fd);
  REQUIRE(base != MAP_FAILED);
  const bool right = std::memcmp(static_cast<char*>(base) + (far_offset - page_start), far_bytes.data(),
                                 far_bytes.size()) == 0;
  ::munmap(base, 8192);
  return right;
}

#ifdef MMAPX_CATCH2_V3
#define SKIP_UNLESS_PLATFORM_MAPS_PAST_4GIB(p) \
  if (!platform_maps_past_4gib(p)) SKIP("this platform's mmap64 maps the wrong bytes past 4 GiB (qemu-user < 8.1)")
#else
#define SKIP_UNLESS_PLATFORM_MAPS_PAST_4GIB(p)                                                                \
  if (!platform_maps_past_4gib(p)) {                                                                          \
    WARN("skipped: this platform's own mmap64 maps the wrong bytes past 4 GiB (qemu-user < 8.1 truncates a " \
         "32-bit guest's mmap2 offset to 32 bits)");                                                          \
    return;                                                                                                   \
  }
#endif

}  // namespace

TEST_CASE("a program without _FILE_OFFSET_BITS maps at 5 GiB + 12345 and reads the right bytes", "[large_file]") {
  temp_dir dir;
  const auto p = dir / "sparse";
  write_at(p, far_offset, far_bytes);

  // The file is over 2 GiB: a 32-bit fstat would fail here with EOVERFLOW.
  auto r = map_file(p, {.offset = far_offset, .length = far_bytes.size()});
  CHECK(r.offset() == far_offset);
  CHECK(r.size() == far_bytes.size());
  SKIP_UNLESS_PLATFORM_MAPS_PAST_4GIB(p);
  CHECK(as_text(r.bytes()) == far_bytes);

  // To the end of the file: the same 19 bytes.
  auto tail = map_file(p, {.offset = far_offset});
  CHECK(as_text(tail.bytes()) == far_bytes);

  // Through a descriptor the program opened itself (a 32-bit open(2) needs
  // O_LARGEFILE for a file over 2 GiB, or it fails with EOVERFLOW).
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_LARGEFILE);
  REQUIRE(fd >= 0);
  auto by_fd = map_fd(fd, {.offset = far_offset - 5, .length = 5 + far_bytes.size()});
  ::close(fd);
  CHECK(as_text(by_fd.bytes()) == std::string(5, '\0') + std::string(far_bytes));
}

TEST_CASE("a program without _FILE_OFFSET_BITS writes at 5 GiB + 12345 and grows the file there", "[large_file]") {
  temp_dir dir;
  const auto p = dir / "grown";
  write_at(dir / "probe", far_offset, far_bytes);
  SKIP_UNLESS_PLATFORM_MAPS_PAST_4GIB(dir / "probe");
  {
    auto w = map_file<access::read_write>(p, {.offset = far_offset, .length = far_bytes.size(),
                                               .open = open_mode::create});
    std::memcpy(w.data(), far_bytes.data(), far_bytes.size());
    w.flush();
  }
  CHECK(std::filesystem::file_size(p) == far_offset + far_bytes.size());
  CHECK(read_at(p, far_offset, far_bytes.size()) == far_bytes);

  // Growing by resize: the new end is past 4 GiB as well.
  auto w = map_file<access::read_write>(p, {.offset = far_offset, .length = 1});
  w.resize(4096 + far_bytes.size());
  CHECK(std::filesystem::file_size(p) == far_offset + 4096 + far_bytes.size());
  CHECK(as_text(w.bytes().first(far_bytes.size())) == far_bytes);
}

TEST_CASE("a whole-file mapping of a file larger than the address space is size_overflow", "[large_file]") {
  temp_dir dir;
  const auto p = dir / "sparse";
  write_at(p, far_offset, far_bytes);
  std::error_code ec;
  auto whole = map_file(p, {}, ec);
  if constexpr (sizeof(std::size_t) < 8) {
    // 5 GiB cannot be one mapping in a 4 GiB address space: a clear size
    // error, never a silently truncated length.
    CHECK(ec == errc::size_overflow);
    CHECK_FALSE(whole.is_mapped());
    // A window of it maps (the partial mapping the error message points to).
    SKIP_UNLESS_PLATFORM_MAPS_PAST_4GIB(p);
    const std::uint64_t window_start = far_offset - 4000;
    auto window = map_file(p, {.offset = window_start, .length = 4000 + far_bytes.size()}, ec);
    REQUIRE_FALSE(ec);
    CHECK(as_text(window.bytes().subspan(4000)) == far_bytes);
  } else {
    REQUIRE_FALSE(ec);
    CHECK(whole.size() == far_offset + far_bytes.size());
    CHECK(as_text(whole.bytes().subspan(far_offset)) == far_bytes);
  }
}
