// tests/vm/kmod_support.hpp - what the in-guest tests of the reference kernel
// module share: the module's name and file in the guest, raw mmap with errno,
// the per-page tags that prove which physical page a mapping shows, and
// (from child_process.hpp) a forked child whose verdict is its exit status.
#pragma once

#include <catch.hpp>

#include <mmapx/kmod.hpp>

#include "child_process.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>

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

}  // namespace kmod_test
