// Unit tests: anonymous memory and memfd.
#include <cstring>

#include <mmapx/anonymous.hpp>
#include <mmapx/file.hpp>
#include <mmapx/memfd.hpp>

#include "catch.hpp"
#include "test_support.hpp"

using namespace mmapx;

using mmapx_test::in_child;

TEST_CASE("anonymous memory starts zeroed", "[anonymous]") {
  auto r = map_anonymous(1 << 20);
  CHECK(r.size() == (1u << 20));
  CHECK(std::all_of(r.begin(), r.end(), [](std::byte b) { return b == std::byte{0}; }));
  CHECK(r.native_handle() == -1);
}

TEST_CASE("shared anonymous memory is seen by a forked child; private is not", "[anonymous]") {
  auto shared = map_anonymous(4096, {.shared = true});
  auto priv = map_anonymous(4096);
  in_child([&] {
    std::memcpy(shared.data(), "child", 5);
    std::memcpy(priv.data(), "child", 5);
    return 0;
  });
  CHECK(std::memcmp(shared.data(), "child", 5) == 0);
  CHECK(priv.data()[0] == std::byte{0});
}

TEST_CASE("an empty anonymous region is allowed and can grow", "[anonymous]") {
  auto r = map_anonymous(0);
  CHECK(r.empty());
  r.resize(8192);
  CHECK(r.size() == 8192);
  r.data()[8191] = std::byte{3};
}

TEST_CASE("memfd: named, sized, shareable through its descriptor", "[memfd]") {
  auto m = map_memfd("mmapx-test", 3 * 4096);
  REQUIRE(m.native_handle() >= 0);
  std::memcpy(m.data() + 5000, "via fd", 6);
  // A second mapping of the same memfd (as another process would get it).
  auto again = map_fd(m.native_handle(), {.offset = 5000, .length = 6});
  CHECK(std::memcmp(again.data(), "via fd", 6) == 0);
  char link[64];
  const auto proc = "/proc/self/fd/" + std::to_string(m.native_handle());
  const auto n = ::readlink(proc.c_str(), link, sizeof link - 1);
  REQUIRE(n > 0);
  CHECK(std::string(link, static_cast<std::size_t>(n)).find("memfd:mmapx-test") != std::string::npos);
}

TEST_CASE("memfd seals are applied and enforced", "[memfd]") {
  auto m = map_memfd("sealed", 8192, {.seals = seal::shrink | seal::grow});
  const int seals = ::fcntl(m.native_handle(), F_GET_SEALS);
  CHECK((seals & F_SEAL_SHRINK) != 0);
  CHECK((seals & F_SEAL_GROW) != 0);
  CHECK(::ftruncate(m.native_handle(), 4096) == -1);
  CHECK(errno == EPERM);
  std::error_code ec;
  add_seals(m.native_handle(), seal::write, ec);  // a writable shared mapping exists
  CHECK(ec == std::errc::device_or_resource_busy);
  add_seals(m.native_handle(), seal::future_write, ec);
  CHECK_FALSE(ec);
  m.data()[0] = std::byte{1};  // existing mappings may still write
  auto w = map_fd<access::read_write>(m.native_handle(), {}, ec);
  CHECK(ec == std::errc::operation_not_permitted);  // new writable ones may not
  CHECK_FALSE(w.is_mapped());
}

TEST_CASE("memfd with an unusable name is a clear error", "[memfd]") {
  const std::string long_name(300, 'n');  // memfd names are limited to 249 bytes
  std::error_code ec;
  auto m = map_memfd(long_name.c_str(), 4096, {}, ec);
  CHECK(ec == std::errc::invalid_argument);
  CHECK_FALSE(m.is_mapped());
}
