// In-guest concurrency test of the module: several processes, each with
// several threads, call every entry point of both minors at random for a few
// seconds (open, close, every ioctl, read, write, poll, mmap with touches,
// munmap), on shared and private descriptors. Each call must give one of the
// answers the UAPI header documents for it; run.py fails the boot on any
// BUG / WARNING / Call Trace in the kernel log. Afterwards the statistics
// must add up, no mapping may be left, and the producer must still deliver
// intact frames. Its own boot (Meson test kmod_stress) with 2 CPUs, so
// the calls really run in parallel.
//
// Run with MMAPX_STRESS_SECONDS=N in the guest environment for another
// duration (default 4).
#include "kmod_support.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace kmod_test;
using namespace std::chrono_literals;

namespace {

constexpr int processes = 3;
constexpr int threads_per_process = 3;

/// One thread's random walk over the module's entry points.
class walker {
public:
  walker(unsigned seed, int shared_fd) : rng_(seed), shared_fd_(shared_fd) {}
  walker(const walker&) = delete;
  walker& operator=(const walker&) = delete;

  ~walker() {
    for (const auto& m : maps_) ::munmap(m.first, m.second);
    for (int fd : fds_) ::close(fd);
  }

  /// Calls entry points until `deadline`; returns the number of answers the
  /// header does not allow (each printed).
  int run(std::chrono::steady_clock::time_point deadline) {
    while (std::chrono::steady_clock::now() < deadline) step();
    return unexpected_;
  }

  std::uint64_t calls() const { return calls_; }

private:
  std::mt19937 rng_;
  int shared_fd_;
  std::vector<int> fds_;
  std::vector<std::pair<void*, std::size_t>> maps_;
  int unexpected_ = 0;
  std::uint64_t calls_ = 0;

  unsigned pick(unsigned n) { return static_cast<unsigned>(rng_() % n); }

  /// A descriptor: the process's shared one or one of this thread's.
  int any_fd() {
    if (fds_.empty() || pick(3) == 0) return shared_fd_;
    return fds_[pick(static_cast<unsigned>(fds_.size()))];
  }

  /// Records a result: `ok` if it is an allowed answer, else prints it.
  void expect(bool ok, const char* what, long result) {
    ++calls_;
    if (ok) return;
    ++unexpected_;
    std::fprintf(stderr, "stress: %s returned %ld (errno %d: %s)\n", what, result, errno,
                 std::strerror(errno));
  }

  bool error_is(long result, std::initializer_list<int> allowed) const {
    if (result >= 0) return true;
    return std::find(allowed.begin(), allowed.end(), errno) != allowed.end();
  }

  std::uint64_t random_period() {
    static constexpr std::uint64_t periods[] = {0, 1000, 20000, 40000, 100000, 1000000,
                                                MMAPX_KMOD_PERIOD_MAX_NS + 1};
    return periods[pick(std::size(periods))];
  }

  void step() {
    switch (pick(16)) {
      case 0:
        if (fds_.size() < 4) {
          const int fd = ::open(kmod::device_path(pick(2)).c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
          expect(fd >= 0, "open", fd);
          if (fd >= 0) fds_.push_back(fd);
        }
        break;
      case 1:
        if (!fds_.empty()) {
          const unsigned i = pick(static_cast<unsigned>(fds_.size()));
          expect(::close(fds_[i]) == 0, "close", -1);
          fds_.erase(fds_.begin() + i);
        }
        break;
      case 2: {
        kmod::geometry g{};
        expect(::ioctl(any_fd(), MMAPX_KMOD_IOC_GEOMETRY, &g) == 0 &&
                   g.abi_version == MMAPX_KMOD_ABI_VERSION,
               "GEOMETRY", -1);
        break;
      }
      case 3: {
        // At most one frame is being filled: numbered, not yet produced.
        kmod::statistics s{};
        const long r = ::ioctl(any_fd(), MMAPX_KMOD_IOC_STATS, &s);
        expect(r == 0 && s.sequence - (s.produced + s.overruns) <= 1, "STATS", r);
        break;
      }
      case 4: {
        // Periods and cache modes, valid and not (cache 3 does not exist).
        ::mmapx_kmod_producer p{random_period(), pick(4), 0};
        const long r = ::ioctl(any_fd(), MMAPX_KMOD_IOC_START, &p);
        expect(error_is(r, {EINVAL}), "START", r);
        break;
      }
      case 5: {
        const long r = ::ioctl(any_fd(), MMAPX_KMOD_IOC_STOP);
        expect(r == 0, "STOP", r);
        break;
      }
      case 6: {
        std::uint64_t period = random_period();
        const long r = ::ioctl(any_fd(), MMAPX_KMOD_IOC_SET_PERIOD, &period);
        expect(error_is(r, {EINVAL}), "SET_PERIOD", r);
        break;
      }
      case 7: {
        std::uint32_t index = pick(5);
        const long r = ::ioctl(any_fd(), MMAPX_KMOD_IOC_RELEASE, &index);
        expect(error_is(r, {EINVAL}), "RELEASE", r);
        break;
      }
      case 8: {
        ::mmapx_kmod_bus_address ba{pick(4), pick(5), 0};
        const long r = ::ioctl(any_fd(), MMAPX_KMOD_IOC_BUS_ADDRESS, &ba);
        expect(error_is(r, {EINVAL}), "BUS_ADDRESS", r);
        break;
      }
      case 9: {
        // Our own mappings, or an address nobody mapped.
        ::mmapx_kmod_memtype mt{};
        mt.address = maps_.empty() ? 0x10000
                                   : reinterpret_cast<std::uintptr_t>(maps_[pick(static_cast<unsigned>(maps_.size()))].first);
        const long r = ::ioctl(any_fd(), MMAPX_KMOD_IOC_MEMTYPE, &mt);
        expect(error_is(r, {EINVAL, EFAULT}), "MEMTYPE", r);
        break;
      }
      case 10: {
        ::mmapx_kmod_event e{};
        const int fd = any_fd();
        const long r = ::read(fd, &e, sizeof e);
        expect(r == static_cast<long>(sizeof e) || error_is(r, {EAGAIN}), "read", r);
        // Hand it back at once, or keep it (a stop frees it) now and then.
        if (r == static_cast<long>(sizeof e) && pick(4) != 0) {
          const long w = ::write(fd, &e.index, sizeof e.index);
          expect(w == 4 || error_is(w, {EINVAL}), "write back", w);
        }
        break;
      }
      case 11: {
        const std::uint32_t index = pick(5);
        const long w = ::write(any_fd(), &index, sizeof index);
        expect(w == 4 || error_is(w, {EINVAL}), "write", w);
        break;
      }
      case 12: {
        pollfd p{any_fd(), POLLIN, 0};
        const long r = ::poll(&p, 1, static_cast<int>(pick(2)));
        expect(r >= 0 && (p.revents & ~(POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM)) == 0,
               "poll", r);
        break;
      }
      case 13:
      case 14:
        map_one();
        break;
      default:
        if (!maps_.empty()) {
          const unsigned i = pick(static_cast<unsigned>(maps_.size()));
          expect(::munmap(maps_[i].first, maps_[i].second) == 0, "munmap", -1);
          maps_.erase(maps_.begin() + i);
        }
        break;
    }
  }

  /// mmap of a random buffer, method, cache mode, offset and length (some
  /// out of range), or of the status page; every page of a success touched.
  void map_one() {
    if (maps_.size() >= 6) return;
    const std::uint64_t page = 4096, buffer_size = 65536;
    const bool status = pick(8) == 0;
    const std::uint64_t first = pick(17), pages = 1 + pick(17);
    const std::uint64_t offset =
        status ? MMAPX_KMOD_STATUS_OFFSET
               : kmod::buffer_offset(static_cast<kmod::cache_mode>(pick(3)),
                                     static_cast<kmod::map_method>(pick(2)), pick(5)) +
                     first * page;
    const std::uint64_t length = status ? page : pages * page;
    const int prot = status ? PROT_READ : PROT_READ | PROT_WRITE;
    int error = 0;
    void* p = raw_mmap(length, prot, MAP_SHARED, any_fd(), offset, error);
    errno = error;
    const bool fits = status || (offset % (1ULL << MMAPX_KMOD_WINDOW_SHIFT) + length <= buffer_size &&
                                 ((offset >> MMAPX_KMOD_INDEX_SHIFT) & 0xff) < 4);
    // In range it must map; out of range it must be EINVAL.
    expect(fits ? p != nullptr : (p == nullptr && error == EINVAL), "mmap", p ? 0 : -1);
    if (p == nullptr) return;
    if (!fits) {
      ::munmap(p, length);
      return;
    }
    auto* bytes = static_cast<volatile std::uint8_t*>(p);
    for (std::uint64_t at = 0; at < length; at += page) {
      if (status) (void)bytes[at];
      else bytes[at] = static_cast<std::uint8_t>(at);
    }
    maps_.emplace_back(p, length);
  }
};

/// Runs threads_per_process walkers on `shared_fd`; returns the unexpected count.
int storm(unsigned seed, std::chrono::steady_clock::time_point deadline, std::uint64_t& calls) {
  const int shared = ::open(kmod::device_path(0).c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (shared < 0) return 1;
  std::atomic<int> unexpected{0};
  std::atomic<std::uint64_t> total{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < threads_per_process; ++t) {
    threads.emplace_back([&, t] {
      walker w(seed * 31 + static_cast<unsigned>(t), shared);
      unexpected += w.run(deadline);
      total += w.calls();
    });
  }
  for (auto& t : threads) t.join();
  ::close(shared);
  calls = total;
  return unexpected;
}

/// Only START (every cache mode, periods around the floor) and STOP on one descriptor
/// of minor 0 from threads_per_process threads: the producer restarted
/// from several CPUs while its timer callback runs.
int restart_storm(unsigned seed, std::chrono::steady_clock::time_point deadline) {
  const int fd = ::open(kmod::device_path(0).c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return 1;
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < threads_per_process; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(seed * 17 + static_cast<unsigned>(t));
      while (std::chrono::steady_clock::now() < deadline) {
        if (rng() % 8 == 0) {
          if (::ioctl(fd, MMAPX_KMOD_IOC_STOP) != 0) ++failed;
          continue;
        }
        // Short periods too: the module refuses those below its floor
        // (EINVAL), and one that accepted them would fire at once.
        const std::uint64_t period = rng() % 4 == 0 ? 1000 : 50000 + rng() % 50000;
        ::mmapx_kmod_producer p{period, static_cast<std::uint32_t>(rng() % 3), 0};
        if (::ioctl(fd, MMAPX_KMOD_IOC_START, &p) != 0 && errno != EINVAL) ++failed;
      }
    });
  }
  // Threads that only compute: the scheduler then preempts the others at
  // random points inside the module, which widens every race window.
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      volatile std::uint64_t spin = 0;
      while (std::chrono::steady_clock::now() < deadline)
        for (int i = 0; i < 100000; ++i) spin = spin + 1;
    });
  }
  for (auto& t : threads) t.join();
  ::close(fd);
  return failed;
}

/// Runs `body(seed)` in processes - 1 children and here at once; the number
/// of processes whose body returned nonzero (or that died).
template <typename Body>
int in_processes(unsigned seed, Body body) {
  std::vector<pid_t> children;
  for (int p = 1; p < processes; ++p) {
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(std::min(body(seed + static_cast<unsigned>(p)), 100));
    if (pid < 0) return processes;
    children.push_back(pid);
  }
  int failed = body(seed) != 0 ? 1 : 0;
  for (const pid_t pid : children) {
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
      ++failed;
  }
  return failed;
}

std::chrono::seconds duration() {
  const char* text = std::getenv("MMAPX_STRESS_SECONDS");
  return std::chrono::seconds(text != nullptr ? std::atoi(text) : 4);
}

}  // namespace

TEST_CASE("kmod: every entry point from several threads and processes at once") {
  const auto seed = static_cast<unsigned>(std::random_device{}());
  INFO("seed " << seed);
  {
    // The geometry the walkers assume: two minors, four 64 KiB buffers.
    auto dev = kmod::device::open(kmod::device_path(0));
    REQUIRE(dev.info().buffer_count == 4);
    REQUIRE(dev.info().buffer_size == 65536);
  }
  // First the producer alone, restarted from every CPU (issue 12, item 12).
  const auto restarts_end = std::chrono::steady_clock::now() + 3s;
  CHECK(in_processes(seed, [&](unsigned s) { return restart_storm(s, restarts_end); }) == 0);

  const auto deadline = std::chrono::steady_clock::now() + duration();
  CHECK(in_processes(seed, [&](unsigned s) {
          std::uint64_t calls = 0;
          const int unexpected = storm(s, deadline, calls);
          std::fprintf(stderr, "stress: seed %u: %llu calls, %d unexpected\n", s,
                       static_cast<unsigned long long>(calls), unexpected);
          return unexpected;
        }) == 0);

  // Afterwards: nothing left mapped, the counters add up, frames intact.
  for (unsigned minor = 0; minor < 2; ++minor) {
    auto dev = kmod::device::open(kmod::device_path(minor));
    dev.stop();
    const auto s = dev.stats();
    CHECK(s.live_mappings == 0);
    CHECK(s.sequence == s.produced + s.overruns);
    auto buffers = std::vector<mmapx::ro_region>{};
    for (std::uint32_t i = 0; i < dev.info().buffer_count; ++i)
      buffers.push_back(dev.map<mmapx::access::read>({.index = i}));
    dev.start(1ms);
    for (int n = 0; n < 20; ++n) {
      const auto ready = dev.wait(5s);
      REQUIRE(ready.index < buffers.size());
      ::mmapx_kmod_frame frame;
      std::memcpy(&frame, buffers[ready.index].data(), sizeof frame);
      CHECK(frame.sequence == ready.sequence);
      CHECK(frame.index == ready.index);
      CHECK(read_u64(buffers[ready.index].data() + sizeof frame) ==
            MMAPX_KMOD_PATTERN_WORD(ready.sequence, 0));
      dev.hand_back(ready.index);
    }
    dev.stop();
  }
}
