// bench/ring_bench.cpp - the mirrored SPSC queue (mmapx::spsc_queue) against
// a ring that copies in two pieces at the wrap, between two processes.
//
//   ring_bench [total MiB per run, default 256] [repetitions, default 5]
//
// A producer process writes fixed-size messages, a consumer process (forked,
// attaching by descriptor as an unrelated process would) reads them and
// checks a checksum; the time is from the first write to the consumer's exit.
// Both rings wait the same way (a short spin, then a shared futex through
// mmapx/sync.hpp), so the difference is the copy at the wrap and, in the
// zero-copy row, the copy into the consumer's buffer. The three rings take
// turns within each repetition. Prints a Markdown table: MB/s and messages/s
// of the median repetition, the best, the spread ((slowest - fastest) /
// median time) and the median-time ratio copying / this ring (> 1: faster).
#include <mmapx/anonymous.hpp>
#include <mmapx/ring.hpp>
#include <mmapx/sync.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
constexpr auto forever = std::chrono::nanoseconds::max();
constexpr std::size_t capacity = 64 * 1024;

/// The comparison: a ring in shared memory whose reads and writes split in
/// two memcpy calls where they cross the end.
struct copying_ring {
  struct header {
    alignas(64) std::atomic<std::uint64_t> head{0};
    std::atomic<std::uint32_t> data_seq{0};
    std::atomic<std::uint32_t> reader_sleeping{0};
    alignas(64) std::atomic<std::uint64_t> tail{0};
    std::atomic<std::uint32_t> space_seq{0};
    std::atomic<std::uint32_t> writer_sleeping{0};
  };
  mmapx::rw_region memory = mmapx::map_anonymous(4096 + capacity, {.shared = true});
  header* h = new (memory.data()) header;
  std::byte* data = memory.data() + 4096;

  template <class Ready>
  static void wait(Ready ready, std::atomic<std::uint32_t>& seq, std::atomic<std::uint32_t>& sleeping) {
    for (int spin = 0; spin < 256; ++spin) {
      if (ready()) return;
    }
    for (;;) {
      sleeping.store(1);
      const auto seen = seq.load();
      if (ready()) break;
      mmapx::wait_for(seq, seen, forever);
    }
    sleeping.store(0, std::memory_order_relaxed);
  }
  static void wake(std::atomic<std::uint32_t>& seq, std::atomic<std::uint32_t>& sleeping) {
    if (sleeping.load() == 0) return;
    seq.fetch_add(1);
    mmapx::notify_all(seq);
  }

  void write(const std::byte* p, std::size_t n) {
    const auto head = h->head.load(std::memory_order_relaxed);
    wait([&] { return capacity - (head - h->tail.load(std::memory_order_acquire)) >= n; }, h->space_seq,
         h->writer_sleeping);
    const std::size_t at = head % capacity;
    const std::size_t first = std::min(n, capacity - at);
    std::memcpy(data + at, p, first);
    std::memcpy(data, p + first, n - first);
    h->head.store(head + n);
    wake(h->data_seq, h->reader_sleeping);
  }
  void read(std::byte* p, std::size_t n) {
    const auto tail = h->tail.load(std::memory_order_relaxed);
    wait([&] { return h->head.load(std::memory_order_acquire) - tail >= n; }, h->data_seq, h->reader_sleeping);
    const std::size_t at = tail % capacity;
    const std::size_t first = std::min(n, capacity - at);
    std::memcpy(p, data + at, first);
    std::memcpy(p + first, data, n - first);
    h->tail.store(tail + n);
    wake(h->space_seq, h->writer_sleeping);
  }
};

enum class kind { mirrored, mirrored_zero_copy, copying };

std::uint64_t checksum(const std::byte* p, std::size_t n) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < n; i += 64) sum += static_cast<std::uint64_t>(p[i]);
  return sum;
}

/// Runs one producer/consumer pair; seconds, or a negative value on failure.
double run(kind k, std::size_t message, std::size_t count) {
  std::vector<std::byte> out(message), in(message);
  for (std::size_t i = 0; i < message; ++i) out[i] = static_cast<std::byte>(i * 7 + 1);
  const std::uint64_t expected = checksum(out.data(), message) * count;
  mmapx::spsc_queue queue;
  copying_ring copying;
  if (k != kind::copying) queue = mmapx::spsc_queue::create(capacity);
  const int fd = queue.native_handle();
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::uint64_t sum = 0;
    if (k == kind::copying) {
      for (std::size_t i = 0; i < count; ++i) {
        copying.read(in.data(), message);
        sum += checksum(in.data(), message);
      }
    } else {
      auto q = mmapx::spsc_queue::attach(fd);
      for (std::size_t i = 0; i < count; ++i) {
        if (k == kind::mirrored) {
          q.read(in, forever);
          sum += checksum(in.data(), message);
        } else {  // read in place: the message is contiguous even across the wrap
          q.wait_readable(message, forever);
          sum += checksum(q.read_space().data(), message);
          q.commit_read(message);
        }
      }
    }
    std::_Exit(sum == expected ? 0 : 1);
  }
  const auto start = clock_type::now();
  for (std::size_t i = 0; i < count; ++i) {
    if (k == kind::copying) copying.write(out.data(), message);
    else queue.write(out, forever);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  const std::chrono::duration<double> took = clock_type::now() - start;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? took.count() : -1.0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t total_mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 256;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 5;
  const std::size_t sizes[] = {64, 1000, 4096, 16000};
  const char* names[] = {"mirrored (read copies out)", "mirrored (read in place)", "copying at the wrap"};
  std::printf("Between two processes, %zu KiB ring, %zu MiB per run, %d repetitions\n\n", capacity / 1024, total_mib,
              reps);
  std::printf("| message | ring | MB/s (median) | MB/s (best) | messages/s (median) | spread | copying / this |\n"
              "|---|---|---:|---:|---:|---:|---:|\n");
  for (const std::size_t message : sizes) {
    const std::size_t count = total_mib * 1024 * 1024 / message;
    std::vector<double> times[3];
    for (int r = 0; r < reps; ++r) {
      for (int k = 0; k < 3; ++k) {
        const double s = run(static_cast<kind>(k), message, count);
        if (s < 0) {
          std::fprintf(stderr, "ring_bench: the consumer saw wrong data (%s, %zu B)\n", names[k], message);
          return 1;
        }
        times[k].push_back(s);
      }
    }
    double median[3];
    for (int k = 0; k < 3; ++k) {
      std::sort(times[k].begin(), times[k].end());
      median[k] = times[k][times[k].size() / 2];
    }
    for (int k = 0; k < 3; ++k) {
      const double bytes = static_cast<double>(message * count);
      const double spread = (times[k].back() - times[k].front()) / median[k] * 100.0;
      std::printf("| %zu B | %s | %.0f | %.0f | %.3g | %.0f %% | %.2f |\n", message, names[k], bytes / median[k] / 1e6,
                  bytes / times[k].front() / 1e6, static_cast<double>(count) / median[k], spread,
                  median[2] / median[k]);
    }
  }
  return 0;
}
