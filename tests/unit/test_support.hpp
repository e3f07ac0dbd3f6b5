// tests/unit/test_support.hpp - a private temporary directory per test,
// helpers to read and write whole files without going through mmapx, a
// way to run a check in a forked child, the error or message a call throws,
// and whether pages are in memory.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string_view>
#include <string>
#include <system_error>
#include <vector>

#include "catch.hpp"
#include "child_process.hpp"

/// Ends the current test case as skipped, with `reason` printed: tests of
/// what a platform may lack (qemu-user emulates no residency, no in-place
/// mremap...) check the platform's own system calls first, without mmapx,
/// and skip when those fail (a failure of mmapx itself still fails).
/// Catch2 3 has SKIP; under Catch2 2.13 a WARN shows the reason in the log.
#ifdef MMAPX_CATCH2_V3
#define MMAPX_SKIP_UNLESS(platform_can, reason) \
  if (!(platform_can)) SKIP(reason)
#else
#define MMAPX_SKIP_UNLESS(platform_can, reason) \
  if (!(platform_can)) {                        \
    WARN("skipped: " << reason);                \
    return;                                     \
  }
#endif

namespace mmapx_test {

/// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class temp_dir {
public:
  temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "mmapx-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::system_error(errno, std::system_category(), "mkdtemp");
    path_ = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

inline void write_file(const std::filesystem::path& p, const std::string& contents) {
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::system_error(errno, std::system_category(), "open " + p.string());
  std::size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n <= 0) {
      ::close(fd);
      throw std::system_error(errno, std::system_category(), "write");
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

inline std::string read_file(const std::filesystem::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::system_category(), "open " + p.string());
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      ::close(fd);
      throw std::system_error(errno, std::system_category(), "read");
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

/// A string of n bytes whose value depends on position (catches off-by-N).
inline std::string pattern(std::size_t n, unsigned seed = 0) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed) % 251);
  return s;
}

/// Runs `fn` expecting a std::system_error; returns it (the test fails if
/// nothing is thrown).
template <class Fn>
std::system_error thrown_by(Fn&& fn) {
  try {
    fn();
  } catch (const std::system_error& e) {
    return e;
  }
  FAIL("no exception thrown");
  return std::system_error(std::error_code{});
}

/// True if `part` occurs in `text` (for error messages).
inline bool contains(std::string_view text, std::string_view part) { return text.find(part) != text.npos; }

/// Whether every page holding bytes [p, p + len) is in memory, as mincore(2)
/// says (false when it refuses). For a file: in the page cache, which the
/// kernel tells only the file's owner, root or a writer; the tests are those.
inline bool resident(const void* p, std::size_t len) {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto first = reinterpret_cast<std::uintptr_t>(p) & ~(page - 1);
  const std::size_t span = reinterpret_cast<std::uintptr_t>(p) + len - first;
  std::vector<unsigned char> pages((span + page - 1) / page);
  if (::mincore(reinterpret_cast<void*>(first), span, pages.data()) != 0) return false;
  for (const auto v : pages) {
    if ((v & 1) == 0) return false;
  }
  return true;
}

/// The message of what `fn` throws ("" when it does not throw): Catch2 2
/// and 3 name their substring matchers differently.
template <class Fn>
std::string thrown_message(Fn&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace mmapx_test
