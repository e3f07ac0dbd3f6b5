// mmapx/ring.hpp - a mirrored ring buffer, and a single-producer
// single-consumer byte queue on it that works between threads and between
// processes.
//
//   auto q = mmapx::spsc_queue::create(1 << 20);
//   q.write(message, std::chrono::seconds(1));        // producer
//   q.read(buffer, std::chrono::seconds(1));          // consumer, here or in
//   auto other = mmapx::spsc_queue::attach(fd);       // ... the process given q.native_handle()
//
// mirrored_buffer maps one memfd (or any shareable descriptor) twice, back to
// back: byte i and byte i + capacity are the same memory, so any read or
// write of up to capacity bytes starting anywhere in the first half is
// contiguous. It is built the race-free way: reserve twice the size, then
// place both halves into the reservation (reservation.hpp); an address hint
// for the second half could be taken by another thread's mmap. The capacity
// is a multiple of the page size (the huge page size for hugetlb memory).
//
// spsc_queue keeps its indices in a header page of the same descriptor, so a
// second process attaches with the descriptor alone. One thread (in one
// process) writes, one reads; waiting uses the shared futexes of sync.hpp.
#pragma once

#include <sys/vfs.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <new>
#include <span>

#include "memfd.hpp"
#include "reservation.hpp"
#include "sync.hpp"

namespace mmapx {

/// Options of mirrored_buffer::create and spsc_queue::create.
struct ring_options {
  /// explicit_2m / explicit_1g: hugetlb memory, capacity a multiple of that size.
  huge_pages huge = huge_pages::none;
  /// What to do when no huge pages are available.
  huge_fallback on_no_huge_pages = huge_fallback::fail;
};

namespace detail {

/// The page size of a descriptor's memory: a hugetlbfs file's huge page
/// size (its st_blksize), otherwise the base page size.
inline std::size_t fd_page_size(int fd, failure& f) noexcept {
  detail::fs_status fs {};
  if (detail::lfs_fstatfs(fd, fs) != 0) {
    f.fail_errno("statfs");
    return 0;
  }
  if (fs.f_type != hugetlbfs_magic) return page_size();
  detail::file_status st {};
  if (!stat_fd(fd, st, f)) return 0;
  return static_cast<std::size_t>(st.st_blksize);
}

/// map_options that map a descriptor with pages of `page` bytes.
inline map_options options_for_page(std::size_t page) noexcept {
  if (page == huge_2m) return {.huge = huge_pages::explicit_2m};
  if (page == huge_1g) return {.huge = huge_pages::explicit_1g};
  return {};
}

/// The memfd a ring lives in: map_memfd applies the huge-page rule itself
/// (errc::huge_pages_unavailable, or base pages with huge_fallback::base_pages).
inline memfd_options ring_memfd_options(const ring_options& opts) noexcept {
  return {.map = {.huge = opts.huge, .on_no_huge_pages = opts.on_no_huge_pages}};
}

}  // namespace detail

/// One buffer mapped twice back to back (see the top of this header). Move-only.
class mirrored_buffer {
public:
  /// Nothing mapped: capacity() is 0, data() null.
  mirrored_buffer() noexcept = default;

  /// A new memfd of `capacity` bytes, mirrored. The capacity must be a
  /// non-zero multiple of the page size (the huge page size with
  /// opts.huge), else EINVAL.
  static mirrored_buffer create(std::size_t capacity, const ring_options& opts = {}) {
    return detail::throwing([&](detail::failure& f) { return create_impl(capacity, opts, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  static mirrored_buffer create(std::size_t capacity, const ring_options& opts, std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return create_impl(capacity, opts, f); });
  }

  /// Mirrors [offset, offset + capacity) of `fd` (a memfd, POSIX or hugetlbfs
  /// shared memory, a file; duplicated, the caller keeps `fd`). Offset and
  /// capacity must be multiples of the descriptor's page size, else EINVAL.
  static mirrored_buffer map(int fd, std::uint64_t offset, std::size_t capacity) {
    return detail::throwing([&](detail::failure& f) { return map_impl(fd, offset, capacity, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  static mirrored_buffer map(int fd, std::uint64_t offset, std::size_t capacity, std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return map_impl(fd, offset, capacity, f); });
  }

  /// The first byte; data()[i] and data()[i + capacity()] are the same byte.
  [[nodiscard]] std::byte* data() const noexcept { return space_.data(); }
  /// Bytes in the buffer (the mapping is twice as long).
  [[nodiscard]] std::size_t capacity() const noexcept { return low_.size(); }
  /// The descriptor of the memory (owned by this object), or -1.
  [[nodiscard]] int native_handle() const noexcept { return low_.native_handle(); }

private:
  static mirrored_buffer create_impl(std::size_t capacity, const ring_options& opts, detail::failure& f) noexcept {
    const auto huge = detail::huge_page_bytes(opts.huge);
    const std::size_t page = huge != 0 ? static_cast<std::size_t>(huge) : page_size();
    if (capacity == 0 || capacity % page != 0) return bad_capacity(capacity, f);
    auto first = detail::map_memfd_impl<access::read_write>("mmapx-ring", capacity, detail::ring_memfd_options(opts), f);
    if (f) return {};
    return mirror(std::move(first), f);
  }

  static mirrored_buffer map_impl(int fd, std::uint64_t offset, std::size_t capacity, detail::failure& f) noexcept {
    f.fd = fd;
    const std::size_t page = detail::fd_page_size(fd, f);
    if (f) return {};
    if (capacity == 0 || capacity % page != 0 || offset % page != 0) return bad_capacity(capacity, f);
    auto copy = detail::dup_fd(fd, f);
    if (f) return {};
    auto first = detail::map_fd_range<access::read_write>(std::move(copy), offset, capacity,
                                                          detail::options_for_page(page), f);
    if (f) return {};
    return mirror(std::move(first), f);
  }

  static mirrored_buffer bad_capacity(std::size_t capacity, detail::failure& f) noexcept {
    f.at(capacity).fail(std::make_error_code(std::errc::invalid_argument),
                        "mirror (capacity and offset must be non-zero multiples of the page size)");
    return {};
  }

  /// Maps `first`'s bytes a second time and places both into a reservation
  /// of twice the size, the second right after the first.
  static mirrored_buffer mirror(rw_region first, detail::failure& f) noexcept {
    const std::size_t capacity = first.size();
    const std::size_t page = first.page_size();
    if (capacity % page != 0) return bad_capacity(capacity, f);
    auto copy = detail::dup_fd(first.native_handle(), f);
    if (f) return {};
    auto second = detail::map_fd_range<access::read_write>(std::move(copy), first.offset(), capacity,
                                                           detail::options_for_page(page), f);
    if (f) return {};
    mirrored_buffer out;
    if (capacity > SIZE_MAX / 2) {
      f.at(capacity).fail(errc::size_overflow, "mirror");
      return {};
    }
    out.space_ = reservation::create(2 * capacity, page, f.code);
    if (f.code) {
      f.fail(f.code, "mirror (reserve)");
      return {};
    }
    out.low_ = out.space_.place(0, std::move(first), f.code);
    if (!f.code) out.high_ = out.space_.place(capacity, std::move(second), f.code);
    if (f.code) {
      f.fail(f.code, "mirror (place)");
      return {};
    }
    return out;
  }

  reservation space_;
  rw_region low_;
  rw_region high_;
};

namespace detail {

/// The queue's indices, in the first page of its descriptor. head and tail
/// count bytes written and read since creation (they never wrap in practice:
/// 2^64 bytes); each side sleeps on its own futex word.
struct ring_header {
  static constexpr std::uint64_t magic_value = 0x676e6972'7870616dULL;  // "mapxring"
  std::atomic<std::uint64_t> magic{0};
  std::uint64_t capacity = 0;
  std::uint64_t header_bytes = 0;
  alignas(64) std::atomic<std::uint64_t> head{0};  // written by the producer only
  std::atomic<std::uint32_t> data_seq{0};           // bumped when data arrives for a sleeping reader
  std::atomic<std::uint32_t> reader_sleeping{0};
  alignas(64) std::atomic<std::uint64_t> tail{0};  // written by the consumer only
  std::atomic<std::uint32_t> space_seq{0};          // bumped when room appears for a sleeping writer
  std::atomic<std::uint32_t> writer_sleeping{0};
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "the header is shared between processes");

/// Waits until ready() holds: spins a little, then sleeps on `seq` having
/// said so in `sleeping` (the other side wakes it after its next commit).
template <class Ready>
bool wait_ready(Ready ready, std::atomic<std::uint32_t>& seq, std::atomic<std::uint32_t>& sleeping,
                std::chrono::steady_clock::time_point deadline, failure& f) noexcept {
  for (int spin = 0; spin < 256; ++spin) {
    if (ready()) return true;
  }
  bool ok = true;
  for (;;) {
    sleeping.store(1, std::memory_order_seq_cst);
    const std::uint32_t seen = seq.load(std::memory_order_seq_cst);
    if (ready()) break;
    if (!(ok = wait_until(seq, seen, deadline, f))) break;
  }
  sleeping.store(0, std::memory_order_relaxed);
  return ok;
}

/// After a commit: wakes the other side if it said it sleeps.
inline void wake_sleeper(std::atomic<std::uint32_t>& seq, std::atomic<std::uint32_t>& sleeping) noexcept {
  if (sleeping.load(std::memory_order_seq_cst) == 0) return;
  seq.fetch_add(1, std::memory_order_seq_cst);
  failure ignored;  // FUTEX_WAKE fails only for a bad address, which the header is not
  futex_wake(seq, INT32_MAX, ignored);
}

}  // namespace detail

/// A single-producer single-consumer byte queue on a mirrored_buffer (see
/// the top of this header). Move-only. The producer uses write_space,
/// commit_write, write and wait_writable; the consumer read_space,
/// commit_read, read and wait_readable. Timeouts are relative; on expiry
/// errc::timed_out, and nanoseconds::max() waits for ever.
class spsc_queue {
public:
  /// No queue: capacity() is 0.
  spsc_queue() noexcept = default;
  /// Takes over `other`'s mappings; `other` is left without a queue.
  spsc_queue(spsc_queue&& other) noexcept
      : header_(std::move(other.header_)), ring_(std::move(other.ring_)), h_(std::exchange(other.h_, nullptr)) {}
  /// Drops this queue's mappings, then takes over `other`'s.
  spsc_queue& operator=(spsc_queue&& other) noexcept {
    if (this != &other) {
      header_ = std::move(other.header_);
      ring_ = std::move(other.ring_);
      h_ = std::exchange(other.h_, nullptr);
    }
    return *this;
  }

  /// A new queue of `capacity` bytes on a new memfd (see mirrored_buffer::create).
  static spsc_queue create(std::size_t capacity, const ring_options& opts = {}) {
    return detail::throwing([&](detail::failure& f) { return create_impl(capacity, opts, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  static spsc_queue create(std::size_t capacity, const ring_options& opts, std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return create_impl(capacity, opts, f); });
  }
  /// A new, empty queue on `fd` (e.g. POSIX shared memory), which is sized
  /// to one header page plus `capacity`; whatever it held is overwritten.
  static spsc_queue create_on(int fd, std::size_t capacity) {
    return detail::throwing([&](detail::failure& f) { return create_on_impl(fd, capacity, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  static spsc_queue create_on(int fd, std::size_t capacity, std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return create_on_impl(fd, capacity, f); });
  }
  /// The queue another process created on `fd` (duplicated). A descriptor
  /// that holds no queue is EINVAL.
  static spsc_queue attach(int fd) {
    return detail::throwing([&](detail::failure& f) { return attach_impl(fd, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  static spsc_queue attach(int fd, std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return attach_impl(fd, f); });
  }

  /// The descriptor to hand to the other process (owned by this object).
  [[nodiscard]] int native_handle() const noexcept { return header_.native_handle(); }
  /// Bytes the queue holds when full.
  [[nodiscard]] std::size_t capacity() const noexcept { return ring_.capacity(); }

  /// Producer: the free bytes, contiguous (wrap-around included), to fill
  /// before commit_write.
  [[nodiscard]] std::span<std::byte> write_space() const noexcept {
    if (h_ == nullptr) return {};
    const auto head = h_->head.load(std::memory_order_relaxed);
    // Clamped: a peer process that corrupts the header must not make this
    // span reach outside the mapping.
    const auto used = std::min<std::uint64_t>(head - h_->tail.load(std::memory_order_acquire), capacity());
    return {ring_.data() + head % capacity(), capacity() - static_cast<std::size_t>(used)};
  }
  /// Producer: publishes the first `n` bytes of write_space(); more than it
  /// holds is errc::range_outside_region and publishes nothing.
  void commit_write(std::size_t n) {
    detail::throwing([&](detail::failure& f) { commit_write_impl(n, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void commit_write(std::size_t n, std::error_code& ec) noexcept {
    detail::reporting(ec, [&](detail::failure& f) { commit_write_impl(n, f); });
  }
  /// Consumer: the bytes waiting, contiguous (wrap-around included).
  [[nodiscard]] std::span<const std::byte> read_space() const noexcept {
    if (h_ == nullptr) return {};
    const auto tail = h_->tail.load(std::memory_order_relaxed);
    const auto used = std::min<std::uint64_t>(h_->head.load(std::memory_order_acquire) - tail, capacity());
    return {ring_.data() + tail % capacity(), static_cast<std::size_t>(used)};
  }
  /// Consumer: releases the first `n` bytes of read_space(); more than it
  /// holds is errc::range_outside_region and releases nothing.
  void commit_read(std::size_t n) {
    detail::throwing([&](detail::failure& f) { commit_read_impl(n, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void commit_read(std::size_t n, std::error_code& ec) noexcept {
    detail::reporting(ec, [&](detail::failure& f) { commit_read_impl(n, f); });
  }

  /// Producer: waits until `n` bytes are free.
  void wait_writable(std::size_t n, std::chrono::nanoseconds timeout) {
    detail::throwing([&](detail::failure& f) { wait_writable_impl(n, detail::deadline_after(timeout), f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void wait_writable(std::size_t n, std::chrono::nanoseconds timeout, std::error_code& ec) noexcept {
    detail::reporting(ec, [&](detail::failure& f) { wait_writable_impl(n, detail::deadline_after(timeout), f); });
  }
  /// Consumer: waits until `n` bytes are waiting.
  void wait_readable(std::size_t n, std::chrono::nanoseconds timeout) {
    detail::throwing([&](detail::failure& f) { wait_readable_impl(n, detail::deadline_after(timeout), f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void wait_readable(std::size_t n, std::chrono::nanoseconds timeout, std::error_code& ec) noexcept {
    detail::reporting(ec, [&](detail::failure& f) { wait_readable_impl(n, detail::deadline_after(timeout), f); });
  }

  /// Producer: waits for room, then copies all of `bytes` in (one memcpy,
  /// whatever the position). More than capacity(): std::errc::message_size.
  void write(std::span<const std::byte> bytes, std::chrono::nanoseconds timeout) {
    detail::throwing([&](detail::failure& f) { write_impl(bytes, timeout, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void write(std::span<const std::byte> bytes, std::chrono::nanoseconds timeout, std::error_code& ec) noexcept {
    detail::reporting(ec, [&](detail::failure& f) { write_impl(bytes, timeout, f); });
  }
  /// Consumer: waits until out.size() bytes are there, then copies them out.
  void read(std::span<std::byte> out, std::chrono::nanoseconds timeout) {
    detail::throwing([&](detail::failure& f) { read_impl(out, timeout, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void read(std::span<std::byte> out, std::chrono::nanoseconds timeout, std::error_code& ec) noexcept {
    detail::reporting(ec, [&](detail::failure& f) { read_impl(out, timeout, f); });
  }

private:
  static spsc_queue create_impl(std::size_t capacity, const ring_options& opts, detail::failure& f) noexcept {
    const auto huge = detail::huge_page_bytes(opts.huge);
    const std::size_t page = huge != 0 ? static_cast<std::size_t>(huge) : page_size();
    if (capacity == 0 || capacity % page != 0 || capacity > SIZE_MAX - page) {
      f.at(capacity).fail(std::make_error_code(std::errc::invalid_argument),
                          "create queue (capacity must be a non-zero multiple of the page size)");
      return {};
    }
    const auto whole = detail::map_memfd_impl<access::read>("mmapx-spsc", page + capacity, detail::ring_memfd_options(opts), f);
    if (f) return {};
    return create_on_impl(whole.native_handle(), capacity, f);
  }

  static spsc_queue create_on_impl(int fd, std::size_t capacity, detail::failure& f) noexcept {
    f.fd = fd;
    const std::size_t page = detail::fd_page_size(fd, f);
    if (f) return {};
    if (capacity == 0 || capacity % page != 0 || capacity > largest_file_end - page) {
      f.at(capacity).fail(std::make_error_code(std::errc::invalid_argument),
                          "create queue (capacity must be a non-zero multiple of the page size)");
      return {};
    }
    if (detail::lfs_ftruncate(fd, static_cast<detail::file_offset>(page + capacity)) != 0) {
      f.at(page + capacity).fail_errno("create queue (size)");
      return {};
    }
    spsc_queue q = map_parts(fd, page, capacity, f);
    if (f) return {};
    q.h_ = new (q.header_.data()) detail::ring_header;
    q.h_->capacity = capacity;
    q.h_->header_bytes = page;
    q.h_->magic.store(detail::ring_header::magic_value, std::memory_order_release);
    return q;
  }

  static spsc_queue attach_impl(int fd, detail::failure& f) noexcept {
    f.fd = fd;
    detail::file_status st {};
    const std::size_t page = detail::fd_page_size(fd, f);
    if (f || !detail::stat_fd(fd, st, f)) return {};
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size < page) return not_a_queue(f);
    auto copy = detail::dup_fd(fd, f);
    if (f) return {};
    auto header = detail::map_fd_range<access::read>(std::move(copy), 0, page, detail::options_for_page(page), f);
    if (f) return {};
    const auto* h = reinterpret_cast<const detail::ring_header*>(header.data());
    if (h->magic.load(std::memory_order_acquire) != detail::ring_header::magic_value || h->header_bytes != page ||
        h->capacity == 0 || h->capacity > size - page) {
      return not_a_queue(f);
    }
    spsc_queue q = map_parts(fd, page, static_cast<std::size_t>(h->capacity), f);
    if (f) return {};
    q.h_ = reinterpret_cast<detail::ring_header*>(q.header_.data());
    return q;
  }

  static spsc_queue not_a_queue(detail::failure& f) noexcept {
    f.fail(std::make_error_code(std::errc::invalid_argument), "attach queue (the descriptor holds no queue)");
    return {};
  }

  /// The header page and the mirrored data after it.
  static spsc_queue map_parts(int fd, std::size_t page, std::size_t capacity, detail::failure& f) noexcept {
    spsc_queue q;
    auto copy = detail::dup_fd(fd, f);
    if (f) return {};
    q.header_ = detail::map_fd_range<access::read_write>(std::move(copy), 0, page, detail::options_for_page(page), f);
    if (f) return {};
    q.ring_ = mirrored_buffer::map(fd, page, capacity, f.code);
    if (f.code) f.fail(f.code, "map queue");
    return q;
  }

  bool commit_write_impl(std::size_t n, detail::failure& f) noexcept {
    if (n > write_space().size()) return f.at(n).fail(errc::range_outside_region, "commit write");
    if (n != 0) publish_head(n);
    return true;
  }

  bool commit_read_impl(std::size_t n, detail::failure& f) noexcept {
    if (n > read_space().size()) return f.at(n).fail(errc::range_outside_region, "commit read");
    if (n != 0) publish_tail(n);
    return true;
  }

  /// Producer: n more bytes are written; wakes a sleeping reader.
  void publish_head(std::size_t n) noexcept {
    h_->head.store(h_->head.load(std::memory_order_relaxed) + n, std::memory_order_seq_cst);
    detail::wake_sleeper(h_->data_seq, h_->reader_sleeping);
  }

  /// Consumer: n more bytes are read; wakes a sleeping writer.
  void publish_tail(std::size_t n) noexcept {
    h_->tail.store(h_->tail.load(std::memory_order_relaxed) + n, std::memory_order_seq_cst);
    detail::wake_sleeper(h_->space_seq, h_->writer_sleeping);
  }

  bool check_size(std::size_t n, const char* op, detail::failure& f) const noexcept {
    if (h_ == nullptr) return f.fail(errc::not_mapped, op);
    if (n > capacity()) return f.at(n).fail(std::make_error_code(std::errc::message_size), op);
    return true;
  }

  bool wait_writable_impl(std::size_t n, std::chrono::steady_clock::time_point deadline, detail::failure& f) noexcept {
    if (!check_size(n, "wait for room", f)) return false;
    return detail::wait_ready([&] { return write_space().size() >= n; }, h_->space_seq, h_->writer_sleeping,
                              deadline, f);
  }

  bool wait_readable_impl(std::size_t n, std::chrono::steady_clock::time_point deadline, detail::failure& f) noexcept {
    if (!check_size(n, "wait for data", f)) return false;
    return detail::wait_ready([&] { return read_space().size() >= n; }, h_->data_seq, h_->reader_sleeping,
                              deadline, f);
  }

  bool write_impl(std::span<const std::byte> bytes, std::chrono::nanoseconds timeout, detail::failure& f) noexcept {
    // After the wait the room is there: only this producer takes it away.
    if (!wait_writable_impl(bytes.size(), detail::deadline_after(timeout), f) || bytes.empty()) return !f;
    const auto head = h_->head.load(std::memory_order_relaxed);
    std::memcpy(ring_.data() + head % capacity(), bytes.data(), bytes.size());
    publish_head(bytes.size());
    return true;
  }

  bool read_impl(std::span<std::byte> out, std::chrono::nanoseconds timeout, detail::failure& f) noexcept {
    if (!wait_readable_impl(out.size(), detail::deadline_after(timeout), f) || out.empty()) return !f;
    const auto tail = h_->tail.load(std::memory_order_relaxed);
    std::memcpy(out.data(), ring_.data() + tail % capacity(), out.size());
    publish_tail(out.size());
    return true;
  }

  rw_region header_;
  mirrored_buffer ring_;
  detail::ring_header* h_ = nullptr;
};

}  // namespace mmapx
