// Reliability: a full disk. Creating or growing a writable mapping that does
// not fit fails when the mapping is made (ENOSPC, EFBIG), never with a SIGBUS
// on a later write. Two ways to be full: a small tmpfs mounted by the test
// (needs root; skipped with a warning otherwise) and RLIMIT_FSIZE (anyone,
// set in a child process so the test runner keeps its own limit).
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include <mmapx/file.hpp>
#include <mmapx/memfd.hpp>
#include <mmapx/sigbus.hpp>

#include "catch.hpp"
#include "reliability_support.hpp"
#include "test_support.hpp"

using namespace mmapx;
using mmapx_test::child;
using mmapx_test::temp_dir;

namespace {

using mmapx::access;

const std::size_t page = mmapx::page_size();
constexpr std::size_t fs_size = 256 * 1024;

/// A tmpfs of fs_size bytes, mounted for one test. mounted() is false when
/// this process may not mount (not root, or no CAP_SYS_ADMIN in a container).
class small_filesystem {
public:
  small_filesystem() {
    const std::string options = "size=" + std::to_string(fs_size) + ",mode=0700";
    mounted_ = ::mount("tmpfs", dir_.path().c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) == 0;
    if (!mounted_) reason_ = std::strerror(errno);
  }
  ~small_filesystem() {
    if (mounted_) ::umount2(dir_.path().c_str(), MNT_DETACH);
  }
  small_filesystem(const small_filesystem&) = delete;
  small_filesystem& operator=(const small_filesystem&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& reason() const { return reason_; }
  std::filesystem::path operator/(const std::string& name) const { return dir_ / name; }

private:
  temp_dir dir_;
  bool mounted_ = false;
  std::string reason_;
};

#define SKIP_UNLESS_MOUNTED(fs)                                                          \
  if (!(fs).mounted()) {                                                                 \
    WARN("skipped: cannot mount a tmpfs (" << (fs).reason() << "); run as root to test"); \
    return;                                                                              \
  }

/// In a child: RLIMIT_FSIZE of `limit` bytes, SIGXFSZ ignored (so the write
/// that crosses it fails with EFBIG instead of killing), then `body`.
template <class Fn>
mmapx_test::child_end with_file_size_limit(rlim_t limit, Fn&& body) {
  child c([&] {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit l{limit, limit};
    if (::setrlimit(RLIMIT_FSIZE, &l) != 0) return 90;
    return body();
  });
  return c.wait();
}

/// Fills every byte of a writable region: where a SIGBUS would come from.
template <access A>
void touch_all(region<A>& r) {
  for (std::size_t i = 0; i < r.size(); i += page) r.data()[i] = std::byte{1};
}

}  // namespace

TEST_CASE("a new file mapping larger than the free space fails at map time with ENOSPC", "[reliability][disk]") {
  small_filesystem fs;
  SKIP_UNLESS_MOUNTED(fs);
  std::error_code ec;
  auto r = map_file<access::read_write>(fs / "big", {.open = open_mode::create, .size = 2 * fs_size}, ec);
  CHECK(ec == std::errc::no_space_on_device);
  CHECK_FALSE(r.is_mapped());
  try {
    (void)map_file<access::read_write>(fs / "big2", {.open = open_mode::create, .size = 2 * fs_size});
    FAIL("no exception");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::no_space_on_device);
    CHECK(std::string(e.what()).find("reserve space") != std::string::npos);
    CHECK(std::string(e.what()).find("big2") != std::string::npos);
  }
  // What fits, maps, and every page of it can be written.
  auto fits = map_file<access::read_write>(fs / "fits", {.open = open_mode::create, .size = fs_size / 2}, ec);
  REQUIRE_FALSE(ec);
  touch_all(fits);
  fits.flush();
}

TEST_CASE("growing a mapping past the free space fails in resize with ENOSPC", "[reliability][disk]") {
  small_filesystem fs;
  SKIP_UNLESS_MOUNTED(fs);
  auto r = map_file<access::read_write>(fs / "f", {.open = open_mode::create, .size = 4 * page});
  touch_all(r);
  std::error_code ec;
  r.resize(2 * fs_size, {}, ec);
  CHECK(ec == std::errc::no_space_on_device);
  CHECK(r.size() == 4 * page);  // unchanged and still usable
  touch_all(r);
  r.resize(8 * page, {}, ec);
  REQUIRE_FALSE(ec);
  touch_all(r);
  r.flush(flush_level::durable);
}

TEST_CASE("a range whose holes do not fit fails with reserve_space::whole_range", "[reliability][disk]") {
  small_filesystem fs;
  SKIP_UNLESS_MOUNTED(fs);
  // A sparse file: its size fits the disk's accounting, its blocks do not.
  {
    const unique_fd fd(::open((fs / "sparse").c_str(), O_RDWR | O_CREAT, 0600));
    REQUIRE(::ftruncate(fd.get(), static_cast<off_t>(2 * fs_size)) == 0);
  }
  std::error_code ec;
  auto r = map_file<access::read_write>(fs / "sparse", {.reserve = reserve_space::whole_range}, ec);
  CHECK(ec == std::errc::no_space_on_device);
  // The default (extension) keeps holes: the map succeeds, and the
  // documented risk remains; the SIGBUS-safe copy turns it into an error.
  auto holes = map_file<access::read_write>(fs / "sparse", {}, ec);
  REQUIRE_FALSE(ec);
  const std::vector<char> data(holes.size(), 'h');
  copy_to(holes, 0, std::as_bytes(std::span(data)), ec);
  CHECK(ec == std::errc::bad_address);
}

TEST_CASE("reserve_space::none: the map succeeds and a write to a page the disk cannot hold raises SIGBUS", "[reliability][disk]") {
  small_filesystem fs;
  SKIP_UNLESS_MOUNTED(fs);
  std::error_code ec;
  auto r = map_file<access::read_write>(fs / "f",
                                        {.open = open_mode::create, .size = 2 * fs_size, .reserve = reserve_space::none}, ec);
  REQUIRE_FALSE(ec);  // the documented risk: nothing is reserved
  // Through the SIGBUS-safe copy: an error, the program goes on.
  const std::vector<char> data(r.size(), 'n');
  copy_to(r, 0, std::as_bytes(std::span(data)), ec);
  CHECK(ec == std::errc::bad_address);
  // Plain stores: the process dies of SIGBUS (in a child, so the test survives).
  child writer([&] {
    struct ::sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(SIGBUS, &dfl, nullptr);
    touch_all(r);
    return 0;
  });
  CHECK(writer.wait().signal == SIGBUS);
}

TEST_CASE("RLIMIT_FSIZE: a memfd that does not fit is EFBIG when made or grown", "[reliability][disk]") {
  const auto end = with_file_size_limit(64 * 1024, [] {
    std::error_code ec;
    auto m = map_memfd("limited", 1 << 20, {}, ec);
    if (ec != std::errc::file_too_large) return 1;
    auto ok = map_memfd("fits", 16 * 1024, {}, ec);
    if (ec) return 2;
    ok.resize(1 << 20, {}, ec);  // growth reserves: EFBIG now, not SIGBUS later
    if (ec != std::errc::file_too_large || ok.size() != 16 * 1024) return 3;
    return 0;
  });
  CHECK(end.exited(0));
}

TEST_CASE("RLIMIT_FSIZE: creating or growing a file mapping past the limit is EFBIG, never SIGBUS", "[reliability][disk]") {
  temp_dir dir;
  const auto path = dir / "f";
  const auto end = with_file_size_limit(64 * 1024, [&] {
    std::error_code ec;
    auto r = map_file<access::read_write>(path, {.open = open_mode::create, .size = 1 << 20}, ec);
    if (ec != std::errc::file_too_large || r.is_mapped()) return 1;
    auto none = map_file<access::read_write>(path, {.open = open_mode::create, .size = 1 << 20,
                                                    .reserve = reserve_space::none}, ec);
    if (ec != std::errc::file_too_large) return 2;  // ftruncate obeys the limit too
    auto fits = map_file<access::read_write>(path, {.open = open_mode::create, .size = 32 * 1024}, ec);
    if (ec) return 3;
    touch_all(fits);
    fits.resize(1 << 20, {}, ec);
    if (ec != std::errc::file_too_large || fits.size() != 32 * 1024) return 4;
    auto tail = map_file<access::read_write>(path, {.offset = 60 * 1024, .length = 8 * 1024}, ec);
    if (ec != std::errc::file_too_large) return 5;  // the range itself crosses the limit
    touch_all(fits);
    return 0;
  });
  INFO(end.describe());
  CHECK(end.exited(0));
  CHECK(std::filesystem::file_size(path) == 32 * 1024);
}
