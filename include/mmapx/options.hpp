// mmapx/options.hpp - what a caller can ask of a mapping.
//
// Plain aggregates meant for designated initializers:
//   mmapx::map_options{.populate = true, .huge = mmapx::huge_pages::transparent}
#pragma once

#include <cstddef>
#include <cstdint>

namespace mmapx {

/// How the mapped bytes may be used. Part of the region's type, so a
/// read-only mapping stays read-only at compile time.
enum class access {
  read,           ///< PROT_READ, shared
  read_write,     ///< PROT_READ|PROT_WRITE, shared: writes reach the file
  copy_on_write,  ///< PROT_READ|PROT_WRITE, private: writes stay in this process
};

/// Huge-page policy.
enum class huge_pages {
  none,         ///< base pages
  transparent,  ///< madvise(MADV_HUGEPAGE): the kernel uses THP where it can
  explicit_2m,  ///< MAP_HUGETLB with 2 MiB pages (anonymous or hugetlbfs only)
  explicit_1g,  ///< MAP_HUGETLB with 1 GiB pages (anonymous or hugetlbfs only)
};

/// What to do when explicit huge pages cannot be had.
enum class huge_fallback {
  fail,        ///< report errc::huge_pages_unavailable
  base_pages,  ///< map with base pages; region::page_size() tells which was used
};

/// Where the mapping goes.
enum class placement {
  anywhere,         ///< the kernel chooses (hint, if given, is only a hint)
  fixed_noreplace,  ///< exactly at `hint`, failing if anything is mapped there
};

/// How to map: protection extras, population, locking, huge pages, placement.
struct map_options {
  bool exec = false;        ///< add PROT_EXEC
  bool populate = false;    ///< MAP_POPULATE: fault everything in at map time
  bool lock = false;        ///< mlock the mapping (failure to lock fails the map)
  bool no_reserve = false;  ///< MAP_NORESERVE: no swap reservation
  /// Huge-page policy; region::page_size() tells what was used.
  huge_pages huge = huge_pages::none;
  /// What to do when explicit huge pages are unavailable.
  huge_fallback on_no_huge_pages = huge_fallback::fail;
  void* hint = nullptr;     ///< address hint, or the exact address for fixed_noreplace
  /// Whether `hint` is a hint or the exact address.
  placement place = placement::anywhere;
};

/// Named durability levels for region::flush.
enum class flush_level {
  async,    ///< MS_ASYNC: schedule write-back, return at once
  sync,     ///< MS_SYNC: write back and wait
  durable,  ///< MS_SYNC then fdatasync(2) of the backing file: survives power loss
};

/// Portable names for madvise(2) advice.
enum class advice {
  /// MADV_NORMAL: the kernel's default read-ahead.
  normal,
  /// MADV_SEQUENTIAL: read ahead aggressively; pages behind may be dropped early.
  sequential,
  /// MADV_RANDOM: no read-ahead (scattered access to a large file).
  random,
  /// MADV_WILLNEED: start reading the range in now, without waiting for it.
  will_need,
  /// MADV_DONTNEED: unmap the pages now. Private memory loses its contents
  /// (anonymous memory reads zeros again, copy-on-write reads the file again);
  /// shared pages come back unchanged.
  dont_need,
  huge_pages,     ///< MADV_HUGEPAGE
  no_huge_pages,  ///< MADV_NOHUGEPAGE
  dont_fork,      ///< MADV_DONTFORK: the child gets no copy
  do_fork,        ///< MADV_DOFORK: undo dont_fork
  dont_dump,      ///< MADV_DONTDUMP: leave out of core dumps
  do_dump,        ///< MADV_DODUMP
  free,           ///< MADV_FREE (private anonymous only)
  populate_read,  ///< MADV_POPULATE_READ (Linux 5.14)
  populate_write, ///< MADV_POPULATE_WRITE (Linux 5.14)
};

/// Page protections for region::protect.
enum class protection {
  none,
  read,
  read_write,
  read_exec,
};

/// Options for region::resize.
struct resize_options {
  bool may_move = true;  ///< MREMAP_MAYMOVE; without it, growth fails if the space after is taken
};

}  // namespace mmapx
