// mmapx/detail/lfs.hpp - the system calls that take or return a file offset
// or size, always in their 64-bit form, whatever the user's build flags.
//
// Why: mmapx is header-only, so its calls are compiled with the user's
// flags. On 32-bit targets (armhf, i386) glibc's off_t is 32 bits unless the
// user defines _FILE_OFFSET_BITS=64; a hand-written Makefile rarely does,
// and then fstat fails with EOVERFLOW on a file over 2 GiB and an offset
// past 4 GiB cannot be expressed (mio #85, memmap2 0.7.1: the same bug).
// Every offset-taking call in include/ goes through this header, so the
// question "is this call 64-bit?" has one answer in one place. On 64-bit
// targets the *64 calls are the plain ones under another name.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

#if defined(__GLIBC__) && !defined(__USE_LARGEFILE64)
// g++ and clang++ define _GNU_SOURCE for C++ unless told otherwise.
#error "mmapx needs glibc's 64-bit file calls (fstat64, mmap64...): define _GNU_SOURCE or _LARGEFILE64_SOURCE"
#endif

namespace mmapx::detail {

/// A file offset or size as the kernel takes it: 64 bits signed everywhere.
using file_offset = std::int64_t;

// glibc names the 64-bit calls name64 (and keeps them when off_t is already
// 64 bits); other C libraries (musl, bionic) have a 64-bit off_t on every
// target, so there the plain calls are the 64-bit ones.
#if defined(__GLIBC__)
#define MMAPX_LFS(name) name##64
#else
#define MMAPX_LFS(name) name
static_assert(sizeof(off_t) == 8, "mmapx needs a 64-bit off_t on this C library: compile with -D_FILE_OFFSET_BITS=64");
#endif

/// struct stat with a 64-bit st_size.
using file_status = struct ::MMAPX_LFS(stat);
/// struct statfs with 64-bit block counts.
using fs_status = struct ::MMAPX_LFS(statfs);

/// open(2) with O_LARGEFILE: without it a 32-bit process gets EOVERFLOW
/// opening a file over 2 GiB.
inline int lfs_open(const char* path, int flags, mode_t mode) noexcept { return ::MMAPX_LFS(open)(path, flags, mode); }
inline int lfs_fstat(int fd, file_status& st) noexcept { return ::MMAPX_LFS(fstat)(fd, &st); }
inline int lfs_fstatfs(int fd, fs_status& st) noexcept { return ::MMAPX_LFS(fstatfs)(fd, &st); }
inline int lfs_ftruncate(int fd, file_offset size) noexcept { return ::MMAPX_LFS(ftruncate)(fd, size); }
/// Returns an errno value (0 on success), as posix_fallocate(3) does.
inline int lfs_fallocate(int fd, file_offset offset, file_offset length) noexcept {
  return ::MMAPX_LFS(posix_fallocate)(fd, offset, length);
}
/// Returns an errno value (0 on success), as posix_fadvise(2) does.
inline int lfs_fadvise(int fd, file_offset offset, file_offset length, int advice) noexcept {
  return ::MMAPX_LFS(posix_fadvise)(fd, offset, length, advice);
}
/// mmap(2) at a 64-bit offset (mmap2 on 32-bit kernels: the offset must be
/// page-aligned, which every caller in mmapx guarantees).
inline void* lfs_mmap(void* addr, std::size_t length, int prot, int flags, int fd, file_offset offset) noexcept {
  return ::MMAPX_LFS(mmap)(addr, length, prot, flags, fd, offset);
}
inline ssize_t lfs_pread(int fd, void* buf, std::size_t size, file_offset at) noexcept {
  return ::MMAPX_LFS(pread)(fd, buf, size, at);
}
inline ssize_t lfs_pwrite(int fd, const void* buf, std::size_t size, file_offset at) noexcept {
  return ::MMAPX_LFS(pwrite)(fd, buf, size, at);
}

#undef MMAPX_LFS

}  // namespace mmapx::detail
