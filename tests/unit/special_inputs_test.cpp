// Table-driven: every call of the core that takes a path, a descriptor, an
// offset, a length or a count, tried with the strange ones (FIFO, socket,
// directory, /proc file, character devices, closed and O_APPEND descriptors,
// SIZE_MAX, offsets past the end, sums that overflow). Each row states the
// documented outcome (docs/bad-input.md, "Special files and extreme numbers").
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <climits>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <mmapx/anonymous.hpp>
#include <mmapx/device.hpp>
#include <mmapx/file.hpp>
#include <mmapx/memfd.hpp>
#include <mmapx/shm.hpp>
#include <mmapx/sigbus.hpp>
#include <mmapx/typed.hpp>

#include "catch.hpp"
#include "test_support.hpp"

using namespace mmapx;
using mmapx_test::temp_dir;
using mmapx_test::write_file;

namespace {

/// What a row expects: success, an mmapx::errc, or an errno condition.
struct outcome {
  bool ok = false;
  std::error_code code;       // an mmapx::errc, compared exactly
  std::error_condition cond;  // an errno, compared as a condition
  static outcome success() { return {true, {}, {}}; }
  outcome(errc e) : code(make_error_code(e)) {}                  // NOLINT: table shorthand
  outcome(std::errc e) : cond(std::make_error_condition(e)) {}   // NOLINT: table shorthand
  outcome(bool o, std::error_code c, std::error_condition d) : ok(o), code(c), cond(d) {}

  bool matches(const std::error_code& ec) const {
    if (ok) return !ec;
    return code ? ec == code : ec == cond;
  }
};

/// One call with one strange input: `run` returns the error_code form's
/// result; `mapped` (if set) must be false after a failure.
struct row {
  std::string what;
  std::function<std::error_code()> run;
  outcome expected;
};

void check_rows(const std::vector<row>& rows) {
  ::alarm(60);  // a call that blocks kills the test with SIGALRM instead of hanging it
  for (const auto& r : rows) {
    DYNAMIC_SECTION(r.what) {
      const std::error_code ec = r.run();
      INFO("got " << ec.category().name() << ":" << ec.value() << " (" << ec.message() << ")");
      CHECK(r.expected.matches(ec));
    }
  }
  ::alarm(0);
}

/// The error of `fn(ec)` where fn maps something; also checks that a failed
/// call hands back no mapping.
template <class Fn>
std::error_code mapping_error(Fn&& fn) {
  std::error_code ec;
  auto r = fn(ec);
  if (ec && r.is_mapped()) return std::make_error_code(std::errc::state_not_recoverable);  // never expected
  return ec;
}

/// The strange files of the table, made once per test case.
struct strange_files {
  temp_dir dir;
  std::filesystem::path fifo = dir / "fifo";
  std::filesystem::path socket_path = dir / "socket";
  std::filesystem::path regular = dir / "regular";
  int socket_fd = -1;

  strange_files() {
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    socket_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(socket_fd >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::bind(socket_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    write_file(regular, std::string(4096, 'r'));
  }
  ~strange_files() { ::close(socket_fd); }
  strange_files(const strange_files&) = delete;
  strange_files& operator=(const strange_files&) = delete;
};

/// A descriptor opened for the table and closed after it.
struct scoped_fd {
  int fd;
  explicit scoped_fd(int f) : fd(f) { REQUIRE(fd >= 0); }
  ~scoped_fd() { ::close(fd); }
  scoped_fd(const scoped_fd&) = delete;
  scoped_fd& operator=(const scoped_fd&) = delete;
};

}  // namespace

TEST_CASE("special files: every call that takes a path", "[special]") {
  strange_files s;
  const std::filesystem::path dir = s.dir.path(), proc = "/proc/self/status", null = "/dev/null", zero = "/dev/zero";
  auto file = [](const std::filesystem::path& p, file_options o = {}) {
    return [p, o] { return mapping_error([&](std::error_code& ec) { return map_file(p, o, ec); }); };
  };
  auto file_rw = [](const std::filesystem::path& p, file_options o = {}) {
    return [p, o] { return mapping_error([&](std::error_code& ec) { return map_file<access::read_write>(p, o, ec); }); };
  };
  auto file_cow = [](const std::filesystem::path& p) {
    return [p] { return mapping_error([&](std::error_code& ec) { return map_file<access::copy_on_write>(p, {}, ec); }); };
  };
  auto device = [](const std::filesystem::path& p, std::uint64_t offset = 0, std::size_t length = 4096) {
    return [p, offset, length] {
      return mapping_error([&](std::error_code& ec) { return map_device<access::read>(p, offset, length, {}, ec); });
    };
  };
  auto device_rw = [](const std::filesystem::path& p) {
    return [p] { return mapping_error([&](std::error_code& ec) { return map_device<access::read_write>(p, 0, 4096, {}, ec); }); };
  };
  check_rows({
      {"map_file: FIFO", file(s.fifo), errc::not_regular_file},
      {"map_file read_write: FIFO", file_rw(s.fifo), errc::not_regular_file},
      {"map_file copy_on_write: FIFO", file_cow(s.fifo), errc::not_regular_file},
      {"map_file: socket", file(s.socket_path), std::errc::no_such_device_or_address},
      {"map_file read_write: socket", file_rw(s.socket_path), std::errc::no_such_device_or_address},
      {"map_file: directory", file(dir), errc::not_regular_file},
      {"map_file read_write: directory", file_rw(dir), std::errc::is_a_directory},
      {"map_file: /proc file (size 0: an empty region)", file(proc), outcome::success()},
      {"map_file: /proc file with a length", file(proc, {.length = 100}), errc::length_beyond_end},
      // Root may open it for writing; it then maps empty, as any empty file does.
      {"map_file read_write: /proc file", file_rw(proc),
       ::geteuid() == 0 ? outcome::success() : outcome(std::errc::permission_denied)},
      {"map_file: /dev/null", file(null), errc::not_regular_file},
      {"map_file read_write: /dev/zero", file_rw(zero), errc::not_regular_file},
      {"map_device: FIFO", device(s.fifo), std::errc::no_such_device},
      {"map_device read_write: FIFO", device_rw(s.fifo), std::errc::no_such_device},
      {"map_device: socket", device(s.socket_path), std::errc::no_such_device_or_address},
      {"map_device: directory", device(dir), std::errc::no_such_device},
      {"map_device read_write: directory", device_rw(dir), std::errc::is_a_directory},
      {"map_device: /proc file (procfs has no mmap)", device(proc), std::errc::no_such_device},
      {"map_device: /dev/null (no mmap)", device(null), std::errc::no_such_device},
      {"map_device: /dev/zero (maps zeros)", device(zero), outcome::success()},
      {"map_device: a regular file", device(s.regular), outcome::success()},
      {"map_device: length 0", device(zero, 0, 0), std::errc::invalid_argument},
      // UINT64_MAX: offsets are 64-bit on every target (SIZE_MAX is a fine offset on 32-bit ones).
      {"map_device: offset UINT64_MAX", device(zero, UINT64_MAX), errc::size_overflow},
      {"map_device: offset past the largest off_t", device(zero, std::uint64_t{1} << 63), errc::size_overflow},
      {"map_device: length SIZE_MAX", device(zero, 0, SIZE_MAX), errc::size_overflow},
      {"map_file: path with a NUL byte", file(s.regular.string() + std::string("\0x", 2)), std::errc::invalid_argument},
      {"map_device: path with a NUL byte", device(s.regular.string() + std::string("\0x", 2)), std::errc::invalid_argument},
      {"map_file: path of 5000 bytes", file(dir / std::string(5000, 'n')), std::errc::filename_too_long},
  });
}

TEST_CASE("special descriptors: every call that takes an fd", "[special]") {
  strange_files s;
  scoped_fd fifo(::open(s.fifo.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  scoped_fd directory(::open(s.dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  scoped_fd proc(::open("/proc/self/status", O_RDONLY | O_CLOEXEC));
  scoped_fd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  scoped_fd append(::open(s.regular.c_str(), O_RDWR | O_APPEND | O_CLOEXEC));
  int closed = ::open(s.regular.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(closed >= 0);
  ::close(closed);
  auto fd_read = [](int fd) {
    return [fd] { return mapping_error([&](std::error_code& ec) { return map_fd(fd, {}, ec); }); };
  };
  auto fd_rw = [](int fd) {
    return [fd] { return mapping_error([&](std::error_code& ec) { return map_fd<access::read_write>(fd, {}, ec); }); };
  };
  auto seal = [](int fd) {
    return [fd] {
      std::error_code ec;
      add_seals(fd, mmapx::seal::grow, ec);
      return ec;
    };
  };
  check_rows({
      {"map_fd: closed descriptor", fd_read(closed), std::errc::bad_file_descriptor},
      {"map_fd: -1", fd_read(-1), std::errc::bad_file_descriptor},
      {"map_fd: INT_MAX", fd_read(INT_MAX), std::errc::bad_file_descriptor},
      {"map_fd: FIFO", fd_read(fifo.fd), errc::not_regular_file},
      {"map_fd: socket", fd_read(s.socket_fd), errc::not_regular_file},
      {"map_fd: directory", fd_read(directory.fd), errc::not_regular_file},
      {"map_fd: /proc file (size 0: an empty region)", fd_read(proc.fd), outcome::success()},
      {"map_fd read_write: /proc file opened read-only (empty: nothing to map)", fd_rw(proc.fd), outcome::success()},
      {"map_fd: /dev/null", fd_read(null.fd), errc::not_regular_file},
      {"map_fd: O_APPEND descriptor, read-only mapping", fd_read(append.fd), outcome::success()},
      // O_APPEND governs write(2), not mappings (the kernel's rule).
      {"map_fd read_write: O_APPEND descriptor", fd_rw(append.fd), outcome::success()},
      {"add_seals: closed descriptor", seal(closed), std::errc::bad_file_descriptor},
      {"add_seals: a file that is no memfd", seal(append.fd), std::errc::invalid_argument},
      {"add_seals: FIFO", seal(fifo.fd), std::errc::invalid_argument},
  });
}

TEST_CASE("extreme numbers: every offset, length, size and count", "[special]") {
  strange_files s;
  const auto file = s.regular;  // 4096 bytes
  auto map_at = [file](std::uint64_t offset, std::size_t length) {
    return [=] { return mapping_error([&](std::error_code& ec) { return map_file(file, {.offset = offset, .length = length}, ec); }); };
  };
  auto map_rw_at = [file](std::uint64_t offset, std::size_t length, std::uint64_t size = 0) {
    return [=] {
      return mapping_error([&](std::error_code& ec) {
        return map_file<access::read_write>(file, {.offset = offset, .length = length, .size = size}, ec);
      });
    };
  };
  auto anonymous = [](std::size_t size) {
    return [size] { return mapping_error([&](std::error_code& ec) { return map_anonymous(size, {}, ec); }); };
  };
  auto memfd = [](std::size_t size) {
    return [size] { return mapping_error([&](std::error_code& ec) { return map_memfd("extreme", size, {}, ec); }); };
  };
  auto region = map_anonymous(4096);
  auto on_region = [&region](auto op) {
    return [&region, op] {
      std::error_code ec;
      op(region, ec);
      return ec;
    };
  };
  const std::uint64_t past_off_t = std::uint64_t{1} << 63;
  check_rows({
      {"map_file: offset SIZE_MAX", map_at(SIZE_MAX, 0), errc::offset_beyond_end},
      {"map_file: offset past the end", map_at(4097, 1), errc::offset_beyond_end},
      {"map_file: offset at the end, length 1", map_at(4096, 1), errc::length_beyond_end},
      {"map_file: offset at the end, no length (empty)", map_at(4096, 0), outcome::success()},
      {"map_file: length SIZE_MAX", map_at(0, SIZE_MAX), errc::size_overflow},
      {"map_file: offset + length wraps", map_at(1, SIZE_MAX), errc::size_overflow},
      {"map_file: end past the largest off_t", map_at(past_off_t - 1, 2), errc::size_overflow},
      {"map_file read_write: offset SIZE_MAX", map_rw_at(SIZE_MAX, 0), errc::offset_beyond_end},
      {"map_file read_write: offset + length wraps", map_rw_at(1, SIZE_MAX), errc::size_overflow},
      {"map_file read_write: size SIZE_MAX", map_rw_at(0, 0, SIZE_MAX), errc::size_overflow},
      {"map_anonymous: SIZE_MAX", anonymous(SIZE_MAX), errc::size_overflow},
      {"map_memfd: SIZE_MAX", memfd(SIZE_MAX), errc::size_overflow},
      {"view: offset SIZE_MAX",
       on_region([](rw_region& r, std::error_code& ec) { (void)view<std::uint32_t>(r, SIZE_MAX, ec); }), errc::view_too_large},
      {"view_array: offset SIZE_MAX, as many as fit",
       on_region([](rw_region& r, std::error_code& ec) { (void)view_array<std::uint32_t>(r, SIZE_MAX, ec); }), errc::view_too_large},
      {"view_array: count SIZE_MAX",
       on_region([](rw_region& r, std::error_code& ec) { (void)view_array<std::uint32_t>(r, 0, SIZE_MAX, ec); }), errc::size_overflow},
      {"view_array: offset + bytes wraps",
       on_region([](rw_region& r, std::error_code& ec) { (void)view_array<char>(r, 8, SIZE_MAX - 4, ec); }), errc::view_too_large},
      {"flush: offset SIZE_MAX",
       on_region([](rw_region& r, std::error_code& ec) { r.flush(SIZE_MAX, 1, flush_level::async, ec); }), errc::range_outside_region},
      {"advise: offset + length wraps",
       on_region([](rw_region& r, std::error_code& ec) { r.advise(advice::normal, 1, SIZE_MAX, ec); }), errc::range_outside_region},
      {"protect: length SIZE_MAX",
       on_region([](rw_region& r, std::error_code& ec) { r.protect(protection::read_write, 0, SIZE_MAX, ec); }), errc::range_outside_region},
      {"copy_from: offset SIZE_MAX", on_region([](rw_region& r, std::error_code& ec) {
         std::byte b[1];
         copy_from(r, SIZE_MAX, std::span<std::byte>(b), ec);
       }), errc::range_outside_region},
      {"resize: SIZE_MAX", on_region([](rw_region& r, std::error_code& ec) { (void)r.resize(SIZE_MAX, {}, ec); }), errc::size_overflow},
  });
  if constexpr (sizeof(std::size_t) == 8) {  // a 32-bit target may well have 2 GiB free
    check_rows({{"map_anonymous: SIZE_MAX / 2 (more than the address space)", anonymous(SIZE_MAX / 2),
                 std::errc::not_enough_memory}});
  }
  CHECK(region.size() == 4096);  // every failed call left the region as it was
}
