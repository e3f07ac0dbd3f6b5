// Reliability: the SIGBUS-safe copy helpers (mmapx/sigbus.hpp). A file is
// truncated under a mapping by another process; copies through the helpers
// report EFAULT and the program goes on. Faults outside a guarded copy still
// reach the handler the program had before.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <mmapx/file.hpp>
#include <mmapx/memfd.hpp>
#include <mmapx/sigbus.hpp>

#include "catch.hpp"
#include "reliability_support.hpp"
#include "test_support.hpp"

using namespace mmapx;
using mmapx_test::child;
using mmapx_test::pattern;
using mmapx_test::pipe_pair;
using mmapx_test::temp_dir;
using mmapx_test::write_file;

namespace {

const std::size_t page = mmapx::page_size();

/// Truncates `path` from another process, as a second program would.
void truncate_elsewhere(const std::filesystem::path& path, off_t size) {
  child truncator([&] { return ::truncate(path.c_str(), size) == 0 ? 0 : 1; });
  REQUIRE(truncator.wait().exited(0));
}

std::span<std::byte> as_bytes(std::vector<char>& v) { return std::as_writable_bytes(std::span(v)); }

/// Runs one hidden test case of this binary in a fresh process (exec, not
/// just fork: the SIGBUS handler must not be installed yet) and returns how
/// it ended.
mmapx_test::child_end run_fresh(const char* test_name) {
  child runner([&] {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, STDOUT_FILENO);
    ::setenv("MMAPX_FRESH_CHILD", "1", 1);
    ::execl("/proc/self/exe", "reliability", test_name, static_cast<char*>(nullptr));
    return 98;
  });
  return runner.wait();
}

/// Hidden scenarios only do something in the process run_fresh started.
bool in_fresh_child() { return std::getenv("MMAPX_FRESH_CHILD") != nullptr; }

/// A 4-page file mapped read-only and then cut to one page by another process.
struct truncated_file {
  temp_dir dir;
  std::filesystem::path path = dir / "f";
  std::string contents = pattern(4 * page);
  ro_region r;
  truncated_file() {
    write_file(path, contents);
    r = map_file(path);
    truncate_elsewhere(path, static_cast<off_t>(page));
  }
};

}  // namespace

TEST_CASE("a copy from a file truncated by another process reports EFAULT and the program goes on", "[reliability][sigbus]") {
  truncated_file t;
  std::vector<char> out(4 * page);

  std::error_code ec;
  copy_from(t.r, 0, as_bytes(out), ec);
  CHECK(ec == std::errc::bad_address);

  // The throwing form names the operation, the descriptor and a missing offset.
  try {
    copy_from(t.r, 2 * page + 10, std::span(as_bytes(out).data(), 100));
    FAIL("no exception");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::bad_address);
    const std::string what = e.what();
    CHECK(what.find("copy from mapping") != std::string::npos);
    CHECK(what.find("fd ") != std::string::npos);
    CHECK(what.find("at 0x" + [] {
      char hex[32];
      std::snprintf(hex, sizeof hex, "%zx", 2 * page + 10);
      return std::string(hex);
    }()) != std::string::npos);
  }

  // The page that is still there copies correctly afterwards.
  copy_from(t.r, 0, std::span(as_bytes(out).data(), page), ec);
  REQUIRE_FALSE(ec);
  CHECK(std::string(out.data(), page) == t.contents.substr(0, page));
}

TEST_CASE("the reported offset is inside the missing part", "[reliability][sigbus]") {
  truncated_file t;
  std::vector<char> out(3 * page);
  mmapx::detail::failure f;
  CHECK_FALSE(mmapx::detail::copy_from_impl(t.r, page, as_bytes(out), f));
  CHECK(f.code == std::errc::bad_address);
  REQUIRE(f.has_address);
  CHECK(f.address >= page);
  CHECK(f.address < 4 * page);
}

TEST_CASE("a truncation while another process keeps reading is an error, not a crash", "[reliability][sigbus]") {
  temp_dir dir;
  const auto path = dir / "f";
  const std::size_t size = 256 * page;
  write_file(path, pattern(size));
  auto r = map_file(path);
  pipe_pair go;
  child truncator([&] {
    char c;
    if (::read(go.read_end(), &c, 1) != 1) return 2;
    return ::truncate(path.c_str(), static_cast<off_t>(size / 2)) == 0 ? 0 : 1;
  });
  go.close_read();
  std::vector<char> out(size);
  std::error_code ec;
  copy_from(r, 0, as_bytes(out), ec);
  REQUIRE_FALSE(ec);  // whole before the truncation
  REQUIRE(::write(go.write_end(), "g", 1) == 1);

  // Read continuously while the other process truncates; once it is done,
  // the next copy must fail.
  bool truncator_done = false;
  std::size_t copies = 0;
  for (;;) {
    copy_from(r, 0, as_bytes(out), ec);
    ++copies;
    if (ec) break;
    REQUIRE_FALSE(truncator_done);
    truncator_done = std::filesystem::file_size(path) == size / 2;
  }
  CHECK(truncator.wait().exited(0));
  CHECK(ec == std::errc::bad_address);
  INFO("copies before the error: " << copies);
  // The program goes on: the first half is still readable and correct.
  copy_from(r, 0, std::span(as_bytes(out).data(), size / 2), ec);
  REQUIRE_FALSE(ec);
  CHECK(std::string(out.data(), size / 2) == pattern(size / 2));
}

TEST_CASE("a copy into a truncated writable mapping reports EFAULT and does not grow the file", "[reliability][sigbus]") {
  temp_dir dir;
  const auto path = dir / "f";
  write_file(path, pattern(4 * page));
  auto w = map_file<access::read_write>(path);
  truncate_elsewhere(path, static_cast<off_t>(page));
  const std::string text(2 * page, 'x');
  std::error_code ec;
  copy_to(w, page, std::as_bytes(std::span(text)), ec);
  CHECK(ec == std::errc::bad_address);
  CHECK(std::filesystem::file_size(path) == page);
  copy_to(w, 0, std::as_bytes(std::span(text.data(), 10)), ec);
  REQUIRE_FALSE(ec);
  w.flush();
  CHECK(mmapx_test::read_file(path).substr(0, 10) == "xxxxxxxxxx");
}

TEST_CASE("a shrunken memfd reports EFAULT through the same helpers", "[reliability][sigbus]") {
  auto m = map_memfd("reliability", 8 * page);
  std::memset(m.data(), 'm', m.size());
  REQUIRE(::ftruncate(m.native_handle(), static_cast<off_t>(2 * page)) == 0);
  std::vector<char> out(8 * page);
  std::error_code ec;
  copy_from(m, 0, as_bytes(out), ec);
  CHECK(ec == std::errc::bad_address);
  copy_from(m, 0, std::span(as_bytes(out).data(), 2 * page), ec);
  REQUIRE_FALSE(ec);
  CHECK(out[2 * page - 1] == 'm');
  copy_to(m, 3 * page, std::as_bytes(std::span(out.data(), 1)), ec);
  CHECK(ec == std::errc::bad_address);
}

TEST_CASE("guarded_copy protects plain pointers into a mapping", "[reliability][sigbus]") {
  truncated_file t;
  std::vector<char> out(page);
  std::error_code ec;
  guarded_copy(out.data(), t.r.data() + 3 * page, page, ec);
  CHECK(ec == std::errc::bad_address);
  guarded_copy(out.data(), t.r.data(), page, ec);
  REQUIRE_FALSE(ec);
  CHECK(std::memcmp(out.data(), t.contents.data(), page) == 0);
  CHECK_THROWS_AS(guarded_copy(out.data(), t.r.data() + 2 * page, 1), std::system_error);
}

TEST_CASE("guarded_mismatch compares through a mapping and reports a vanished page", "[reliability][sigbus]") {
  truncated_file t;
  std::string copy = t.contents.substr(0, page);
  std::error_code ec;
  CHECK(guarded_mismatch(t.r.data(), copy.data(), page, ec) == page);  // equal: n
  REQUIRE_FALSE(ec);
  copy[123] ^= 1;
  CHECK(guarded_mismatch(t.r.data(), copy.data(), page, ec) == 123);
  REQUIRE_FALSE(ec);
  CHECK(guarded_mismatch(copy.data(), copy.data(), 0, ec) == 0);
  // Either side may be the one that is gone.
  const std::string other = t.contents.substr(2 * page, page);
  (void)guarded_mismatch(t.r.data() + 2 * page, other.data(), page, ec);
  CHECK(ec == std::errc::bad_address);
  (void)guarded_mismatch(other.data(), t.r.data() + 2 * page, page, ec);
  CHECK(ec == std::errc::bad_address);
  try {
    (void)guarded_mismatch(t.r.data() + 3 * page, other.data(), 10);
    FAIL("no exception");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::bad_address);
    CHECK(std::string(e.what()).find("guarded compare") != std::string::npos);
  }
}

TEST_CASE("bad ranges are errors before anything is copied", "[reliability][sigbus]") {
  temp_dir dir;
  write_file(dir / "f", "0123456789");
  auto r = map_file(dir / "f");
  std::vector<char> out(11, '.');
  std::error_code ec;
  copy_from(r, 0, as_bytes(out), ec);
  CHECK(ec == errc::range_outside_region);
  CHECK(out[0] == '.');
  copy_from(r, 11, std::span(as_bytes(out).data(), 0), ec);
  CHECK(ec == errc::range_outside_region);
  copy_from(r, SIZE_MAX, std::span(as_bytes(out).data(), 2), ec);
  CHECK(ec == errc::range_outside_region);
  copy_from(r, 10, std::span(as_bytes(out).data(), 0), ec);
  CHECK_FALSE(ec);
  copy_from(r, 3, std::span(as_bytes(out).data(), 4), ec);
  CHECK_FALSE(ec);
  CHECK(std::string(out.data(), 4) == "3456");

  ro_region empty;
  copy_from(empty, 0, std::span(as_bytes(out).data(), 0), ec);
  CHECK_FALSE(ec);
  copy_from(empty, 0, std::span(as_bytes(out).data(), 1), ec);
  CHECK(ec == errc::range_outside_region);

  auto w = map_memfd("range", 16);
  copy_to(w, 8, std::as_bytes(std::span(out.data(), 9)), ec);
  CHECK(ec == errc::range_outside_region);
  CHECK_THROWS_AS(copy_to(w, 17, std::as_bytes(std::span(out.data(), 0))), std::system_error);
}

TEST_CASE("threads copying at once each get their own result", "[reliability][sigbus]") {
  truncated_file t;
  auto good = map_memfd("good", 4 * page);
  std::memset(good.data(), 'g', good.size());
  constexpr int threads = 4;
  constexpr int rounds = 200;
  std::atomic<int> wrong{0};
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&, i] {
      std::vector<char> out(4 * page);
      for (int n = 0; n < rounds; ++n) {
        std::error_code ec;
        if (i % 2 == 0) {
          copy_from(t.r, 0, as_bytes(out), ec);
          if (ec != std::errc::bad_address) ++wrong;
        } else {
          copy_from(good, 0, as_bytes(out), ec);
          if (ec || out[4 * page - 1] != 'g') ++wrong;
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  CHECK(wrong == 0);
}

// --- the handler the program had before ----------------------------------

TEST_CASE("a fault outside a guarded copy reaches the program's own handler", "[reliability][sigbus]") {
  CHECK(run_fresh("fresh: own handler").exited(42));
}

TEST_CASE("fresh: own handler", "[.][fresh]") {
  if (!in_fresh_child()) return;
  struct ::sigaction own {};
  own.sa_sigaction = [](int, ::siginfo_t*, void*) { ::_exit(42); };
  own.sa_flags = SA_SIGINFO;
  ::sigaction(SIGBUS, &own, nullptr);
  truncated_file t;
  std::vector<char> out(page);
  std::error_code ec;
  copy_from(t.r, 2 * page, as_bytes(out), ec);  // guarded: an error, not the handler
  if (ec != std::errc::bad_address) ::_exit(1);
  volatile std::byte b = t.r.data()[2 * page];  // unguarded: the program's handler
  (void)b;
  ::_exit(2);
}

TEST_CASE("without a handler of its own, an unguarded fault still kills with SIGBUS", "[reliability][sigbus]") {
  CHECK(run_fresh("fresh: default action").signal == SIGBUS);
}

TEST_CASE("fresh: default action", "[.][fresh]") {
  if (!in_fresh_child()) return;
  // The default action, even where a sanitizer runtime has a handler of its own.
  struct ::sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGBUS, &dfl, nullptr);
  truncated_file t;
  std::vector<char> out(page);
  std::error_code ec;
  copy_from(t.r, 2 * page, as_bytes(out), ec);
  if (ec != std::errc::bad_address) ::_exit(1);
  volatile std::byte b = t.r.data()[2 * page];
  (void)b;
  ::_exit(2);
}

TEST_CASE("a SIGBUS sent with kill keeps its old meaning: default kills and ignored is ignored", "[reliability][sigbus]") {
  CHECK(run_fresh("fresh: sent default").signal == SIGBUS);
  CHECK(run_fresh("fresh: sent ignored").exited(43));
}

TEST_CASE("fresh: sent default", "[.][fresh]") {
  if (!in_fresh_child()) return;
  struct ::sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGBUS, &dfl, nullptr);
  install_sigbus_handler();
  ::raise(SIGBUS);
  ::_exit(3);
}

TEST_CASE("fresh: sent ignored", "[.][fresh]") {
  if (!in_fresh_child()) return;
  struct ::sigaction ign {};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGBUS, &ign, nullptr);
  install_sigbus_handler();
  ::raise(SIGBUS);
  ::_exit(43);
}
