// POSIX shared memory: ownership of the name, exclusive creation,
// permissions, bad names, two processes sharing a typed struct, and Python
// reading the same bytes (shm_layout_check.py).
#include <catch.hpp>
#include "test_support.hpp"

#include <mmapx/shm.hpp>
#include <mmapx/typed.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

namespace {

using mmapx_test::in_child;

// A name no other test run uses at the same time.
std::string unique_name(const char* what) {
  static int counter = 0;
  return "/mmapx-test-" + std::to_string(::getpid()) + "-" + what + "-" + std::to_string(++counter);
}

bool name_exists(const std::string& name) {
  return std::filesystem::exists("/dev/shm" + name);
}

// Written by C++, read by Python's struct module: "<I H 2x q d 16s I".
struct layout {
  std::uint32_t magic;
  std::uint16_t small;
  std::int64_t big;
  double real;
  char text[16];
  std::uint32_t reply;
};
static_assert(offsetof(layout, big) == 8 && offsetof(layout, text) == 24 && offsetof(layout, reply) == 40);

std::string python_checker() {
  // meson compiles with paths relative to the build directory, where tests run.
  const std::filesystem::path here = std::filesystem::path(__FILE__).parent_path();
  return (here / "shm_layout_check.py").string();
}

}  // namespace

TEST_CASE("create makes a sized object that its owner unlinks", "[shm]") {
  const auto name = unique_name("owner");
  {
    auto shm = mmapx::shared_memory::create(name.c_str(), 10000);
    CHECK(shm.owns_name());
    CHECK(shm.name() == name);
    CHECK(shm.size() == 10000);
    CHECK(name_exists(name));
    auto r = shm.map();
    REQUIRE(r.size() == 10000);
    r.data()[9999] = std::byte{0x5a};
    // A second view through the name sees the byte.
    auto again = mmapx::shared_memory::open(name.c_str());
    CHECK_FALSE(again.owns_name());
    CHECK(again.map<mmapx::access::read>().data()[9999] == std::byte{0x5a});
  }
  CHECK_FALSE(name_exists(name));
}

TEST_CASE("keep_name leaves the object for others; unlink removes it", "[shm]") {
  const auto name = unique_name("keep");
  {
    auto shm = mmapx::shared_memory::create(name.c_str(), 4096);
    shm.keep_name();
    CHECK_FALSE(shm.owns_name());
  }
  REQUIRE(name_exists(name));
  auto shm = mmapx::shared_memory::open(name.c_str());
  CHECK(shm.size() == 4096);
  auto r = shm.map();
  shm.unlink();
  CHECK_FALSE(name_exists(name));
  r.data()[0] = std::byte{1};  // the mapping outlives the name
  CHECK(r.data()[0] == std::byte{1});
  std::error_code ec;
  mmapx::shared_memory::unlink(name.c_str(), ec);
  CHECK(ec == std::errc::no_such_file_or_directory);
}

TEST_CASE("exclusive create of an existing name fails, open_or_create joins it", "[shm]") {
  const auto name = unique_name("excl");
  auto first = mmapx::shared_memory::create(name.c_str(), 100);
  std::error_code ec;
  auto second = mmapx::shared_memory::create(name.c_str(), 100, {}, ec);
  CHECK(ec == std::errc::file_exists);
  CHECK_FALSE(second.is_open());
  try {
    (void)mmapx::shared_memory::create(name.c_str(), 100);
    FAIL("no exception");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::file_exists);
    CHECK_THAT(e.what(), Catch::Contains(name) && Catch::Contains("shm_open (create)"));
  }
  // Joining grows a smaller object but does not take over the name.
  auto joined = mmapx::shared_memory::open_or_create(name.c_str(), 8192);
  CHECK_FALSE(joined.owns_name());
  CHECK(first.size() == 8192);
  // ... and never shrinks it.
  auto small = mmapx::shared_memory::open_or_create(name.c_str(), 10);
  CHECK(first.size() == 8192);

  const auto fresh = unique_name("fresh");
  auto created = mmapx::shared_memory::open_or_create(fresh.c_str(), 123);
  CHECK(created.owns_name());
  CHECK(created.size() == 123);
}

TEST_CASE("bad names are clear errors", "[shm]") {
  const std::string too_long = "/" + std::string(300, 'x');
  for (const char* bad : {"", "no-slash", "/", "/a/b", "/.", "/.."}) {
    INFO("name: '" << bad << "'");
    std::error_code ec;
    auto shm = mmapx::shared_memory::create(bad, 10, {}, ec);
    CHECK(ec == std::errc::invalid_argument);
    CHECK_FALSE(shm.is_open());
    try {
      (void)mmapx::shared_memory::open(bad);
      FAIL("no exception");
    } catch (const std::system_error& e) {
      CHECK(e.code() == std::errc::invalid_argument);
      CHECK_THAT(e.what(), Catch::Contains("a name is '/' and 1 to 255 further characters"));
      CHECK_THAT(e.what(), Catch::Contains(std::string("'") + bad + "'"));
    }
  }
  std::error_code ec;
  (void)mmapx::shared_memory::open_or_create(too_long.c_str(), 10, {}, ec);
  CHECK(ec == std::errc::filename_too_long);
  (void)mmapx::shared_memory::open(nullptr, {}, ec);
  CHECK(ec == std::errc::invalid_argument);
  (void)mmapx::shared_memory::open(unique_name("missing").c_str(), {}, ec);
  CHECK(ec == std::errc::no_such_file_or_directory);
}

TEST_CASE("permissions are applied exactly and enforced", "[shm]") {
  const auto name = unique_name("perm");
  const mode_t old_mask = ::umask(077);
  auto shm = mmapx::shared_memory::create(name.c_str(), 64, {.permissions = 0640});
  ::umask(old_mask);
  struct stat st {};
  REQUIRE(::fstat(shm.native_handle(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);

  const auto locked = unique_name("noperm");
  auto none = mmapx::shared_memory::create(locked.c_str(), 64, {.permissions = 0});
  // Root ignores permission bits, so the child drops to an unprivileged user.
  const int status = in_child([&] {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) return 3;
    std::error_code ec;
    (void)mmapx::shared_memory::open(locked.c_str(), {}, ec);
    return ec == std::errc::permission_denied ? 0 : 4;
  });
  CHECK(status == 0);
}

TEST_CASE("a read-only open maps only for reading", "[shm]") {
  const auto name = unique_name("ro");
  auto owner = mmapx::shared_memory::create(name.c_str(), 4096);
  owner.map().data()[1] = std::byte{7};
  auto reader = mmapx::shared_memory::open(name.c_str(), {.read_only = true});
  CHECK(reader.map<mmapx::access::read>().data()[1] == std::byte{7});
  std::error_code ec;
  auto rw = reader.map<mmapx::access::read_write>(0, 0, {}, ec);
  CHECK(ec == std::errc::permission_denied);
  CHECK_FALSE(rw.is_mapped());
  ec.clear();
  reader.resize(8192, ec);
  CHECK(ec);
}

TEST_CASE("map takes a sub-range at any offset and checks the end", "[shm]") {
  const auto name = unique_name("range");
  auto shm = mmapx::shared_memory::create(name.c_str(), 3 * 4096);
  auto whole = shm.map();
  for (std::size_t i = 0; i < whole.size(); ++i) whole.data()[i] = static_cast<std::byte>(i % 251);
  auto part = shm.map<mmapx::access::read>(5000, 100);
  REQUIRE(part.size() == 100);
  CHECK(part.data()[0] == static_cast<std::byte>(5000 % 251));
  auto tail = shm.map<mmapx::access::read>(4096 * 2 + 10);
  CHECK(tail.size() == 4096 - 10);
  std::error_code ec;
  (void)shm.map<mmapx::access::read>(4 * 4096, 0, {}, ec);
  CHECK(ec == mmapx::errc::offset_beyond_end);
  shm.resize(4096);
  CHECK(shm.size() == 4096);
}

TEST_CASE("two processes share a typed struct", "[shm]") {
  struct counters {
    std::uint32_t ready;
    std::uint64_t values[4];
  };
  const auto name = unique_name("fork");
  auto shm = mmapx::shared_memory::create(name.c_str(), sizeof(counters));
  auto r = shm.map();
  auto shared = mmapx::view<counters>(r);
  shared->ready = 0;
  // waitpid orders the child's writes before the parent's reads.
  const int status = in_child([&] {
    // The child opens by name, as an unrelated process would.
    auto mine = mmapx::shared_memory::open(name.c_str()).map();
    auto c = mmapx::view<counters>(mine);
    for (std::uint64_t i = 0; i < 4; ++i) c->values[i] = (i + 1) * 1000;
    c->ready = 1;
    return 0;
  });
  REQUIRE(status == 0);
  REQUIRE(shared->ready == 1);
  CHECK(shared->values[0] == 1000);
  CHECK(shared->values[3] == 4000);
}

TEST_CASE("Python reads the struct C++ wrote, with mmap and struct", "[shm][python]") {
  const char* python = std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  const auto checker = python_checker();
  INFO("the checker path is relative to the build directory: run the test from there (meson test does)");
  REQUIRE(std::filesystem::exists(checker));
  const auto name = unique_name("python");
  auto shm = mmapx::shared_memory::create(name.c_str(), sizeof(layout));
  auto r = shm.map();
  auto l = mmapx::view<layout>(r);
  *l = layout{0x4D4D4150, 0xBEEF, -1234567890123, 2.5, "hello, python", 0};
  const int status = in_child([&] {
    ::execlp(python, python, checker.c_str(), name.c_str(), static_cast<char*>(nullptr));
    return 127;
  });
  CHECK(status == 0);
  CHECK(l->reply == 0x600DF00D);
}

TEST_CASE("map checks offset and length against the object's end as file mappings do", "[shm][outside]") {
  const auto name = unique_name("ends");
  auto shm = mmapx::shared_memory::create(name.c_str(), 4096);
  std::error_code ec;
  auto past = shm.map<mmapx::access::read>(8192, 16, {}, ec);
  CHECK(ec == mmapx::errc::offset_beyond_end);
  CHECK_FALSE(past.is_mapped());
  auto longer = shm.map<mmapx::access::read>(0, 8192, {}, ec);
  CHECK(ec == mmapx::errc::length_beyond_end);
  CHECK_FALSE(longer.is_mapped());
  (void)shm.map<mmapx::access::copy_on_write>(0, 8192, {}, ec);
  CHECK(ec == mmapx::errc::length_beyond_end);
  (void)shm.map<mmapx::access::read>(1, SIZE_MAX, {}, ec);
  CHECK(ec == mmapx::errc::size_overflow);
  // A writable mapping reaching past the end grows the object first, as a
  // writable file mapping does: no byte of it can SIGBUS.
  auto grown = shm.map(0, 8192);
  grown.data()[8191] = std::byte{1};
  CHECK(shm.size() == 8192);
}

TEST_CASE("a failed create leaves no object and no name behind", "[shm][outside]") {
  const auto name = unique_name("failed");
  std::error_code ec;
  auto shm = mmapx::shared_memory::create(name.c_str(), SIZE_MAX, {}, ec);
  CHECK(ec == mmapx::errc::size_overflow);
  CHECK_FALSE(shm.is_open());
  CHECK_FALSE(shm.owns_name());
  CHECK(shm.name().empty());
  CHECK_FALSE(name_exists(name));
  CHECK_THROWS_AS(mmapx::shared_memory::create(name.c_str(), SIZE_MAX), std::system_error);
  CHECK_FALSE(name_exists(name));
}

TEST_CASE("a FIFO where a shared memory object should be is refused, never waited on", "[shm][outside]") {
  const auto name = unique_name("fifo");
  REQUIRE(::mkfifo(("/dev/shm" + name).c_str(), 0600) == 0);
  const int rc = in_child([&] {
    ::alarm(5);
    std::error_code ec;
    auto shm = mmapx::shared_memory::open(name.c_str(), {.read_only = true}, ec);
    if (ec != mmapx::errc::not_regular_file || shm.is_open()) return 3;
    (void)mmapx::shared_memory::open(name.c_str(), {}, ec);
    if (ec != mmapx::errc::not_regular_file) return 4;
    return 0;
  });
  ::unlink(("/dev/shm" + name).c_str());
  CHECK(rc == 0);
}
