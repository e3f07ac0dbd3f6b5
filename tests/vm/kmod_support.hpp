// tests/vm/kmod_support.hpp - what the in-guest tests of the reference kernel
// module share: the module's name and file in the guest, raw mmap with errno,
// the per-page tags that prove which physical page a mapping shows, a forked
// child whose verdict is its exit status (child_process.hpp), reloading the module with other
// parameters, and the kernel log written since a marker.
#pragma once

#include <catch.hpp>

#include <mmapx/kmod.hpp>

#include "child_process.hpp"

#include <fcntl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace kmod_test {

namespace kmod = mmapx::kmod;

inline constexpr const char* module_name = "mmapx_kmod";
inline constexpr const char* module_file = "/modules/mmapx_kmod.ko";
inline constexpr std::array all_caches{kmod::cache_mode::cached, kmod::cache_mode::uncached,
                                       kmod::cache_mode::write_combining};
inline constexpr std::array all_methods{kmod::map_method::eager, kmod::map_method::lazy};

/// mmap(2) straight to the kernel (no libc checks in between): the mapping,
/// or nullptr with the errno in `error`.
inline void* raw_mmap(std::uint64_t length, int prot, int flags, int fd, std::uint64_t offset,
                      int& error) {
  const long result = ::syscall(SYS_mmap, 0UL, length, prot, flags, fd, offset);
  if (result == -1) {
    error = errno;
    return nullptr;
  }
  error = 0;
  return reinterpret_cast<void*>(result);
}

/// The tag written at the start of page `page` of a buffer: which buffer and
/// page a mapping shows is then readable from the mapping itself.
constexpr std::uint64_t page_tag(kmod::cache_mode cache, std::uint32_t index,
                                 std::uint64_t page) {
  return 0x7A6B000000000000ULL | (std::uint64_t{static_cast<std::uint32_t>(cache)} << 40) |
         (std::uint64_t{index} << 32) | page;
}

/// Writes page_tag at the start of every page of every buffer.
inline void tag_all_pages(const kmod::device& dev) {
  const auto& g = dev.info();
  for (auto cache : all_caches) {
    for (std::uint32_t i = 0; i < g.buffer_count; ++i) {
      auto r = dev.map({.index = i, .cache = cache});
      for (std::uint64_t p = 0; p < g.buffer_size / g.page_size; ++p) {
        const std::uint64_t tag = page_tag(cache, i, p);
        std::memcpy(r.data() + p * g.page_size, &tag, sizeof tag);
      }
    }
  }
}

inline std::uint64_t read_u64(const void* at) {
  std::uint64_t v;
  std::memcpy(&v, at, sizeof v);
  return v;
}

using mmapx_test::in_child;

/// The module's parameters now, as insmod would take them.
inline std::string current_parameters() {
  std::string words;
  for (const char* name : {"minors", "buffers", "buffer_size"}) {
    std::ifstream in(std::string("/sys/module/") + module_name + "/parameters/" + name);
    std::string value;
    in >> value;
    words += std::string(words.empty() ? "" : " ") + name + "=" + value;
  }
  return words;
}

/// Unloads the module: 0, or the errno.
inline int unload_module() {
  return ::syscall(SYS_delete_module, module_name, O_NONBLOCK) == 0 ? 0 : errno;
}

/// Loads /modules/mmapx_kmod.ko with `parameters`: 0, or the errno.
inline int load_module(const std::string& parameters) {
  const int ko = ::open(module_file, O_RDONLY | O_CLOEXEC);
  if (ko < 0) return errno;
  const int error = ::syscall(SYS_finit_module, ko, parameters.c_str(), 0) == 0 ? 0 : errno;
  ::close(ko);
  return error;
}

/// Unloads the module at construction; loads it again with the parameters
/// it had at destruction, so a test that tries other parameters leaves the
/// module as it found it, whatever fails in between.
class module_reload {
public:
  module_reload() : saved_(current_parameters()) { REQUIRE(unload_module() == 0); }
  ~module_reload() {
    (void)unload_module();  // whatever the test loaded (ENOENT if nothing)
    if (load_module(saved_) != 0) std::fprintf(stderr, "kmod test: reloading %s failed\n", saved_.c_str());
  }
  module_reload(const module_reload&) = delete;
  module_reload& operator=(const module_reload&) = delete;

private:
  std::string saved_;
};

/// Writes a unique marker line into the kernel log and returns it.
inline std::string mark_kernel_log() {
  static int count = 0;
  const std::string marker = "kmod-test-mark-" + std::to_string(::getpid()) + "-" +
                             std::to_string(++count);
  const int fd = ::open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, marker.data(), marker.size()) == static_cast<ssize_t>(marker.size()));
  ::close(fd);
  return marker;
}

/// The kernel log lines written after `marker` (see mark_kernel_log).
inline std::vector<std::string> kernel_log_since(const std::string& marker) {
  std::string text(static_cast<std::size_t>(::klogctl(10 /* SIZE_BUFFER */, nullptr, 0)), '\0');
  const int n = ::klogctl(3 /* READ_ALL */, text.data(), static_cast<int>(text.size()));
  REQUIRE(n >= 0);
  text.resize(static_cast<std::size_t>(n));
  const auto at = text.rfind(marker);
  REQUIRE(at != std::string::npos);
  std::vector<std::string> lines;
  std::size_t start = text.find('\n', at);
  while (start != std::string::npos && start + 1 < text.size()) {
    const std::size_t end = text.find('\n', start + 1);
    lines.push_back(text.substr(start + 1, end == std::string::npos ? end : end - start - 1));
    start = end;
  }
  return lines;
}

/// The lines among `lines` that contain `word`.
inline std::vector<std::string> lines_with(const std::vector<std::string>& lines,
                                           const std::string& word) {
  std::vector<std::string> found;
  for (const auto& line : lines)
    if (line.find(word) != std::string::npos) found.push_back(line);
  return found;
}

}  // namespace kmod_test
