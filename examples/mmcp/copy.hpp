// examples/mmcp/copy.hpp - mmcp's copy engine: which bytes hold data, how
// they get from one file to the other, and how to check they arrived.
//
// Only data extents are copied (SEEK_DATA/SEEK_HOLE), so a sparse source
// gives an equally sparse destination. Each extent is copied in windows of a
// fixed size, aligned to that size in the file, so address-space use stays
// bounded whatever the file size and windows line up with huge pages. The
// caller reserves the destination's space first (reserve_extents), so a full
// disk is an error before the first byte is written, never a SIGBUS.
//
// Windows are independent, so a pool of threads copies several at once
// (copy_extents); the source is read ahead (mmapx::read_ahead) a few
// windows before it is needed, so a file that is not cached is read from the
// disk while earlier windows are copied. Only the public mmapx API is used;
// errors are mmcp's own record (failure), naming the file.
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include <mmapx/file.hpp>
#include <mmapx/scan.hpp>
#include <mmapx/sigbus.hpp>

namespace mmcp {

/// An open file and the name to use for it in messages.
struct file_ref {
  int fd;
  const char* name;
};

/// What failed, on which file: "cannot <operation> '<subject>': <code>".
struct failure {
  std::error_code code;
  const char* operation = "";     ///< e.g. "map", "write"
  const char* subject = nullptr;  ///< the file's name (not owned: a file_ref's)

  explicit operator bool() const noexcept { return static_cast<bool>(code); }
  /// Records `code` for `operation` on `file`; returns false, for `return f.fail(...)`.
  bool fail(const file_ref& file, std::error_code ec, const char* op) noexcept {
    code = ec;
    operation = op;
    subject = file.name;
    return false;
  }
  /// As fail, with the current errno.
  bool fail_errno(const file_ref& file, const char* op) noexcept {
    return fail(file, std::error_code(errno, std::system_category()), op);
  }
};

/// A run of bytes that may hold data; everything between extents is a hole.
struct extent {
  std::uint64_t offset;
  std::uint64_t length;
  friend bool operator==(const extent&, const extent&) = default;
};

/// How the bytes of one window move from source to destination.
enum class strategy {
  write,            ///< map the source window, write(2) it to the destination
  mmap,             ///< map both windows, memcpy between them
  mmap_populate,    ///< as mmap, with the destination window faulted in for writing first
  huge,             ///< as mmap, windows asking for transparent huge pages
  copy_file_range,  ///< no mapping at all: the kernel copies (comparison point only)
};

/// A strategy with its command-line name and one line of help.
struct strategy_name {
  strategy value;
  std::string_view name;
  std::string_view summary;
};

inline constexpr std::array<strategy_name, 5> strategies{{
    {strategy::write, "write", "map the source, write(2) to the destination (default)"},
    {strategy::mmap, "mmap", "map both, memcpy between the mappings (MADV_RANDOM destination)"},
    {strategy::mmap_populate, "mmap-populate", "as mmap, destination pre-faulted (MADV_POPULATE_WRITE)"},
    {strategy::huge, "huge", "as mmap, with MADV_HUGEPAGE (destination: whole 2 MiB of data)"},
    {strategy::copy_file_range, "copy_file_range", "no mmap: copy_file_range(2), for comparison"},
}};

/// The strategy called `name` on the command line, or nothing.
inline std::optional<strategy> parse_strategy(std::string_view name) noexcept {
  for (const auto& s : strategies) {
    if (s.name == name) return s.value;
  }
  return std::nullopt;
}

inline constexpr strategy default_strategy = strategy::write;
inline constexpr std::size_t default_window = std::size_t{64} << 20;

/// Bytes per write(2) in the write strategy. The page cache sizes a new folio
/// by the write, and large folios were measured slow to allocate on a VM whose
/// hypervisor takes back free memory (free page reporting: 2-4 s per GiB for
/// writes of 128 KiB and more, 0.4 s for 64 KiB, like cp); 16384 system calls
/// per GiB cost next to nothing.
inline constexpr std::size_t write_chunk = std::size_t{64} << 10;

/// The data extents among the first `size` bytes of `file`. A file system
/// that cannot tell data from holes reports the whole file as one extent.
inline bool data_extents(const file_ref& file, std::uint64_t size, std::vector<extent>& out, failure& f) {
  out.clear();
  off_t pos = 0;
  const auto end = static_cast<off_t>(size);
  while (pos < end) {
    const off_t data = ::lseek(file.fd, pos, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // only a hole is left
      if (errno == EINVAL || errno == EOPNOTSUPP) {
        out.assign({extent{0, size}});
        return true;
      }
      return f.fail_errno(file, "find data in");
    }
    if (data >= end) break;
    off_t hole = ::lseek(file.fd, data, SEEK_HOLE);
    if (hole < 0) return f.fail_errno(file, "find holes in");
    hole = std::min(hole, end);
    out.push_back({static_cast<std::uint64_t>(data), static_cast<std::uint64_t>(hole - data)});
    pos = hole;
  }
  return true;
}

/// Sizes `file` to `size` bytes and allocates disk space for every extent,
/// leaving holes as holes.
inline bool reserve_extents(const file_ref& file, std::uint64_t size, const std::vector<extent>& extents,
                            failure& f) noexcept {
  if (::ftruncate(file.fd, static_cast<off_t>(size)) != 0) return f.fail_errno(file, "resize");
  for (const auto& e : extents) {
    std::error_code ec;
    mmapx::reserve_file_range(file.fd, e.offset, e.length, ec);
    if (ec) return f.fail(file, ec, "reserve space for");
  }
  return true;
}

/// Maps [offset, offset + length) of `file` (the region keeps its own
/// duplicate of the descriptor; the file_ref's stays the caller's).
template <mmapx::access A>
mmapx::region<A> map_window(const file_ref& file, std::uint64_t offset, std::size_t length,
                            const mmapx::map_options& opts, failure& f) noexcept {
  std::error_code ec;
  auto r = mmapx::map_fd<A>(file.fd, {.offset = offset, .length = length, .map = opts}, ec);
  if (ec) f.fail(file, ec, "map");
  return r;
}

/// A SIGBUS while reading or writing a mapping: the file shrank or could not be read.
inline bool fail_sigbus(failure& f, const file_ref& src) noexcept {
  return f.fail(src, std::make_error_code(std::errc::io_error), "read");
}

/// pwrite(2)s all of [from, from + length) to `dst` at `at`, in write_chunk pieces.
inline bool write_all(const file_ref& dst, const std::byte* from, std::size_t length, std::uint64_t at,
                      const file_ref& src, failure& f) noexcept {
  while (length > 0) {
    const ssize_t n = ::pwrite(dst.fd, from, std::min(length, write_chunk), static_cast<off_t>(at));
    if (n < 0) {
      if (errno == EINTR) continue;
      // The kernel could not read our source mapping: the same cause as a SIGBUS.
      if (errno == EFAULT) return fail_sigbus(f, src);
      return f.fail_errno(dst, "write");
    }
    from += n;
    length -= static_cast<std::size_t>(n);
    at += static_cast<std::uint64_t>(n);
  }
  return true;
}

/// The comparison point: the kernel copies, nothing is mapped.
inline bool copy_range_in_kernel(const file_ref& src, const file_ref& dst, std::uint64_t offset,
                                 std::size_t length, failure& f) noexcept {
  loff_t in = static_cast<loff_t>(offset), out = static_cast<loff_t>(offset);
  while (length > 0) {
    const ssize_t n = ::copy_file_range(src.fd, &in, dst.fd, &out, length, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return f.fail_errno(dst, "copy_file_range to");
    if (n == 0) return fail_sigbus(f, src);  // the source ended early
    length -= static_cast<std::size_t>(n);
  }
  return true;
}

/// Copies one window (same offset in both files) with the given strategy.
inline bool copy_window(const file_ref& src, const file_ref& dst, std::uint64_t offset, std::size_t length,
                        strategy how, failure& f) noexcept {
  using mmapx::access;
  using mmapx::advice;
  if (how == strategy::copy_file_range) return copy_range_in_kernel(src, dst, offset, length, f);

  // The source is not populated up front but read sequentially: a page that
  // is not cached is then read by the kernel's sequential read-ahead, which
  // keeps the disk busy while the pages before it are copied (populating
  // first read the whole window before the first byte was written, measured
  // slower than cp on a cold 64 MiB file). huge keeps populating: its pages
  // must be advised huge before they are faulted in, which map_options does.
  const bool huge = how == strategy::huge;
  const mmapx::map_options source_options{
      .populate = huge, .huge = huge ? mmapx::huge_pages::transparent : mmapx::huge_pages::none};
  auto in = map_window<access::read>(src, offset, length, source_options, f);
  if (f) return false;
  std::error_code hint;  // advice is a hint: if the kernel refuses it, the copy still works
  if (!huge) in.advise(advice::sequential, hint);
  if (how == strategy::write) return write_all(dst, in.data(), in.size(), offset, src, f);

  // Huge pages on the destination only where a whole huge page is data: a
  // huge page-cache folio over a hole would fill the hole when written back.
  constexpr std::uint64_t huge_page = std::uint64_t{2} << 20;
  const bool whole_huge_pages = offset % huge_page == 0 && length % huge_page == 0;
  const mmapx::map_options destination_options{
      .huge = how == strategy::huge && whole_huge_pages ? mmapx::huge_pages::transparent : mmapx::huge_pages::none};
  auto out = map_window<access::read_write>(dst, offset, length, destination_options, f);
  if (f) return false;
  std::error_code ec;  // advice is a hint: if the kernel refuses it, the copy still works
  if (how != strategy::huge) {
    // No readahead on the destination: it would allocate large page-cache
    // folios, measured twice as slow here (see write_chunk); base pages win.
    out.advise(advice::random, ec);
  }
  if (how == strategy::mmap_populate) out.advise(advice::populate_write, ec);
  mmapx::guarded_copy(out.data(), in.data(), length, offset, ec);  // a SIGBUS becomes ec
  if (ec) return fail_sigbus(f, src);
  return true;
}

/// One window of the copy: [offset, offset + length), inside one extent.
struct window_span {
  std::uint64_t offset;
  std::size_t length;
};

/// The windows covering `extents`: each ends on a multiple of `window`, so
/// every mapping starts aligned to it.
inline std::vector<window_span> windows_of(const std::vector<extent>& extents, std::size_t window) {
  std::vector<window_span> out;
  for (const auto& e : extents) {
    const std::uint64_t end = e.offset + e.length;
    for (std::uint64_t offset = e.offset; offset < end;) {
      const std::uint64_t window_end = std::min(end, (offset / window + 1) * window);
      out.push_back({offset, static_cast<std::size_t>(window_end - offset)});
      offset = window_end;
    }
  }
  return out;
}

/// How many threads copy at once. 0 means automatic: one per core (one in
/// all on 2 cores or fewer), no more than there are windows, and no more than memory allows (each thread maps
/// up to two windows, and the windows read ahead fill the page cache).
struct parallelism {
  unsigned threads = 0;
  /// Copies with less data than this use the calling thread only: starting
  /// threads costs more than it saves on a small file.
  std::uint64_t min_parallel_bytes = std::uint64_t{128} << 20;
  /// Windows of the source read ahead of the ones being copied, per thread.
  unsigned read_ahead = 1;
};

/// Threads for a copy of `data_bytes` in `windows` windows of `window` bytes.
inline unsigned thread_count(const parallelism& p, std::size_t windows, std::uint64_t data_bytes,
                             std::size_t window) noexcept {
  if (p.threads != 0) return static_cast<unsigned>(std::clamp<std::size_t>(windows, 1, p.threads));
  if (data_bytes < p.min_parallel_bytes || windows < 2) return 1;
  // Memory: at most an eighth of RAM (and half the address-space limit) in
  // windows mapped or read ahead at once.
  const auto pages = static_cast<std::uint64_t>(std::max(::sysconf(_SC_PHYS_PAGES), 1L));
  std::uint64_t budget = pages * mmapx::page_size() / 8;
  struct ::rlimit as {};
  if (::getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
    budget = std::min<std::uint64_t>(budget, as.rlim_cur / 2);
  }
  const std::uint64_t per_thread = std::uint64_t{window} * (2 + p.read_ahead);
  const std::uint64_t by_memory = std::max<std::uint64_t>(budget / per_thread, 1);
  // On 2 cores a second thread measured no faster, warm or cold (ext4 runs
  // buffered writes to one file one at a time, and there is no idle core for
  // the source's faults): threads start from 3 cores.
  const std::uint64_t cores = std::max(std::thread::hardware_concurrency(), 1u);
  if (cores <= 2) return 1;
  return static_cast<unsigned>(std::min({cores, by_memory, std::uint64_t{windows}}));
}

/// The shared state of one parallel copy: which window is next, what is done,
/// the first error.
class copy_job {
public:
  copy_job(const file_ref& src, const file_ref& dst, std::vector<window_span> windows, strategy how,
           std::size_t ahead, const std::function<void(std::uint64_t)>& progress)
      : src_(src), dst_(dst), windows_(std::move(windows)), how_(how), ahead_(ahead), progress_(progress) {}

  /// Copies windows until none is left or a copy failed (run by every thread).
  void work() noexcept {
    for (;;) {
      const std::size_t i = next_.fetch_add(1);
      if (i >= windows_.size() || stop_.load(std::memory_order_relaxed)) return;
      read_ahead(i);
      failure f;
      const auto& w = windows_[i];
      if (!copy_window(src_, dst_, w.offset, w.length, how_, f)) return record(f);
      // Counted under the lock, so progress never goes backwards.
      const std::lock_guard<std::mutex> lock(mutex_);
      done_ += w.length;
      if (progress_) progress_(done_);
    }
  }

  /// The first error any thread met, or an empty record.
  [[nodiscard]] const failure& error() const noexcept { return error_; }

private:
  /// Asks the kernel to start reading the windows up to `ahead_` past `i`
  /// (each exactly once): the disk works while this window copies. A hint:
  /// the copy reads itself whatever was not read ahead.
  void read_ahead(std::size_t i) noexcept {
    const std::size_t want = std::min(i + ahead_ + 1, windows_.size());
    std::size_t have = advised_.load();
    while (have < want && !advised_.compare_exchange_weak(have, want)) {
    }
    for (std::size_t k = have; k < want; ++k) mmapx::read_ahead(src_.fd, windows_[k].offset, windows_[k].length);
  }

  void record(const failure& f) noexcept {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (!error_) error_ = f;
    stop_ = true;
  }

  file_ref src_, dst_;
  std::vector<window_span> windows_;
  strategy how_;
  std::size_t ahead_;
  const std::function<void(std::uint64_t)>& progress_;
  std::atomic<std::size_t> next_{0}, advised_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;  // the bytes done, the progress callback, the error record
  std::uint64_t done_ = 0;
  failure error_;
};

/// Copies every extent of `src` into `dst` (already sized and reserved),
/// window by window, on up to `p.threads` threads (the caller's among them).
/// `progress` is told the bytes done after each window, one call at a time.
/// On failure, the first error met is in `f` and the other threads stop
/// after their current window.
inline bool copy_extents(const file_ref& src, const file_ref& dst, const std::vector<extent>& extents,
                         strategy how, std::size_t window, const std::function<void(std::uint64_t)>& progress,
                         failure& f, const parallelism& p = {}) {
  std::uint64_t data_bytes = 0;
  for (const auto& e : extents) data_bytes += e.length;
  auto windows = windows_of(extents, window);
  const unsigned threads = thread_count(p, windows.size(), data_bytes, window);
  copy_job job(src, dst, std::move(windows), how, std::size_t{threads} * p.read_ahead, progress);
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) {
    try {
      pool.emplace_back([&job] { job.work(); });
    } catch (const std::system_error&) {
      break;  // no more threads to be had: those we have do the work
    }
  }
  job.work();
  for (auto& t : pool) t.join();
  if (job.error()) {
    f = job.error();
    return false;
  }
  return true;
}

/// Extents covering the data of either list (sorted, merged).
inline std::vector<extent> extent_union(std::vector<extent> a, const std::vector<extent>& b) {
  a.insert(a.end(), b.begin(), b.end());
  std::sort(a.begin(), a.end(), [](const extent& x, const extent& y) { return x.offset < y.offset; });
  std::vector<extent> merged;
  for (const auto& e : a) {
    if (!merged.empty() && e.offset <= merged.back().offset + merged.back().length) {
      auto& last = merged.back();
      last.length = std::max(last.offset + last.length, e.offset + e.length) - last.offset;
    } else if (e.length > 0) {
      merged.push_back(e);
    }
  }
  return merged;
}

/// Re-reads both files through fresh mappings and compares them. Returns the
/// offset of the first differing byte, or nothing when they are equal. Only
/// ranges where either file holds data are read: holes in both are equal.
inline std::optional<std::uint64_t> first_difference(const file_ref& a, const file_ref& b, std::size_t window,
                                                     failure& f) {
  using mmapx::access;
  struct ::stat sa {}, sb {};
  if (::fstat(a.fd, &sa) != 0) return f.fail_errno(a, "stat"), std::nullopt;
  if (::fstat(b.fd, &sb) != 0) return f.fail_errno(b, "stat"), std::nullopt;
  const auto size_a = static_cast<std::uint64_t>(sa.st_size);
  const auto size_b = static_cast<std::uint64_t>(sb.st_size);
  const std::uint64_t common = std::min(size_a, size_b);

  std::vector<extent> ea, eb;
  if (!data_extents(a, common, ea, f) || !data_extents(b, common, eb, f)) return std::nullopt;
  for (const auto& w : windows_of(extent_union(std::move(ea), eb), window)) {
    auto ma = map_window<access::read>(a, w.offset, w.length, {.populate = true}, f);
    if (f) return std::nullopt;
    auto mb = map_window<access::read>(b, w.offset, w.length, {.populate = true}, f);
    if (f) return std::nullopt;
    std::error_code ec;  // a SIGBUS becomes this error instead of killing us
    const std::size_t at = mmapx::guarded_mismatch(ma.data(), mb.data(), w.length, w.offset, ec);
    if (ec) return fail_sigbus(f, a), std::nullopt;
    if (at < w.length) return w.offset + at;
  }
  if (size_a != size_b) return common;
  return std::nullopt;
}

}  // namespace mmcp
