// bench/scan_file.cpp - reads a whole file one way and prints a checksum of
// its bytes, so bench/scan_bench can time each way of reading as a whole
// process and check that they all read the same bytes.
//
//   scan_file METHOD FILE
//
// Methods: mmapx (mmapx::scan_file: windows populated, read ahead),
// mmapx-nopopulate (the same with scan_options::populate off),
// mmapx-noahead (the same with scan_options::read_ahead 0: the kernel's
// MADV_SEQUENTIAL read-ahead alone), read
// (read(2) into a 1 MiB buffer), direct (read(2) with O_DIRECT, 1 MiB
// aligned buffer), lazy (mmap the whole file, touch it: page faults),
// sequential (as lazy, with MADV_SEQUENTIAL). Every method hands the same
// consumer (a sum of 64-bit words) the same bytes.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <span>
#include <string_view>

#include <mmapx/scan.hpp>

namespace {

constexpr std::size_t buffer_size = std::size_t{1} << 20;

/// The consumer: a sum of the bytes as little-endian 64-bit words (a short
/// tail as one zero-padded word). Position-independent within 8-byte
/// alignment, so any split of the file into 8-byte-aligned chunks sums alike.
struct checksum {
  std::uint64_t sum = 0;
  void add(const std::byte* p, std::size_t n) {
    std::uint64_t s = 0;
    const std::size_t words = n / 8;
    for (std::size_t i = 0; i < words; ++i) {
      std::uint64_t w;
      std::memcpy(&w, p + i * 8, 8);
      s += w;
    }
    if (n % 8 != 0) {
      std::uint64_t w = 0;
      std::memcpy(&w, p + words * 8, n % 8);
      s += w;
    }
    sum += s;
  }
};

[[noreturn]] void die(const char* what, const char* path) {
  std::fprintf(stderr, "scan_file: %s '%s': %s\n", what, path, std::strerror(errno));
  std::exit(1);
}

std::uint64_t by_read(const char* path, bool direct) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
  if (fd < 0) die("cannot open", path);
  void* buffer = std::aligned_alloc(4096, buffer_size);
  checksum c;
  for (;;) {
    const ssize_t n = ::read(fd, buffer, buffer_size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("cannot read", path);
    if (n == 0) break;
    c.add(static_cast<const std::byte*>(buffer), static_cast<std::size_t>(n));
  }
  std::free(buffer);
  ::close(fd);
  return c.sum;
}

std::uint64_t by_mapping(const char* path, int advice) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("cannot open", path);
  struct ::stat st {};
  if (::fstat(fd, &st) != 0) die("cannot stat", path);
  const auto size = static_cast<std::size_t>(st.st_size);
  checksum c;
  if (size > 0) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) die("cannot map", path);
    if (advice != MADV_NORMAL && ::madvise(p, size, advice) != 0) die("cannot advise", path);
    c.add(static_cast<const std::byte*>(p), size);
    ::munmap(p, size);
  }
  ::close(fd);
  return c.sum;
}

std::uint64_t by_scan(const char* path, const mmapx::scan_options& o) {
  checksum c;
  mmapx::scan_file(path, [&](std::span<const std::byte> bytes, std::uint64_t) { c.add(bytes.data(), bytes.size()); }, o);
  return c.sum;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: scan_file mmapx|mmapx-nopopulate|mmapx-noahead|read|direct|lazy|sequential FILE\n");
    return 2;
  }
  const std::string_view method = argv[1];
  const char* path = argv[2];
  std::uint64_t sum = 0;
  try {
    if (method == "mmapx") {
      sum = by_scan(path, {});
    } else if (method == "mmapx-nopopulate") {
      sum = by_scan(path, {.populate = false});
    } else if (method == "mmapx-noahead") {
      sum = by_scan(path, {.read_ahead = 0});
    } else if (method == "read" || method == "direct") {
      sum = by_read(path, method == "direct");
    } else if (method == "lazy") {
      sum = by_mapping(path, MADV_NORMAL);
    } else if (method == "sequential") {
      sum = by_mapping(path, MADV_SEQUENTIAL);
    } else {
      std::fprintf(stderr, "scan_file: unknown method '%s'\n", argv[1]);
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scan_file: %s\n", e.what());
    return 1;
  }
  std::printf("%016" PRIx64 "\n", sum);
  return 0;
}
