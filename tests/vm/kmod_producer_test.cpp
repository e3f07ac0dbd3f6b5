// In-guest tests of the module's producer (its stand-in for a DMA engine)
// through mmapx::kmod: ready buffers arrive in order with verified patterns,
// every lost frame is an overrun the statistics report, poll wakes up, the
// period has a floor, and the producer belongs to the file that started it.
#include "kmod_support.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

using namespace kmod_test;
using namespace std::chrono_literals;

namespace {

/// Checks a produced frame against MMAPX_KMOD_PATTERN_WORD and its checksum.
bool frame_is_valid(const std::byte* data, std::size_t size, const kmod::ready_buffer& ready) {
  ::mmapx_kmod_frame frame;
  std::memcpy(&frame, data, sizeof frame);
  if (frame.sequence != ready.sequence || frame.index != ready.index) return false;
  std::uint64_t sum = 0;
  const std::size_t words = (size - sizeof frame) / sizeof(std::uint64_t);
  for (std::size_t k = 0; k < words; ++k) {
    const std::uint64_t word = read_u64(data + sizeof frame + k * sizeof(std::uint64_t));
    if (word != MMAPX_KMOD_PATTERN_WORD(ready.sequence, k)) return false;
    sum += word;
  }
  return frame.checksum == (static_cast<std::uint32_t>(sum) ^ static_cast<std::uint32_t>(sum >> 32));
}

struct consumed {
  std::uint64_t count = 0;
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t invalid = 0;
  std::uint64_t out_of_order = 0;
};

/// Consumes `n` buffers as fast as possible, verifying each.
consumed consume(const kmod::device& dev, kmod::cache_mode cache, std::uint64_t n) {
  std::vector<mmapx::ro_region> buffers;
  for (std::uint32_t i = 0; i < dev.info().buffer_count; ++i)
    buffers.push_back(dev.map<mmapx::access::read>({.index = i, .cache = cache}));
  consumed c;
  for (; c.count < n; ++c.count) {
    const auto ready = dev.wait(5s);
    REQUIRE(ready.index < buffers.size());
    const auto& b = buffers[ready.index];
    if (!frame_is_valid(b.data(), b.size(), ready)) ++c.invalid;
    if (c.count == 0) c.first = ready.sequence;
    else if (ready.sequence <= c.last) ++c.out_of_order;
    c.last = ready.sequence;
    dev.hand_back(ready.index);
  }
  return c;
}

}  // namespace

TEST_CASE("kmod: 10,000 buffers consumed in order, every pattern verified") {
  auto dev = kmod::device::open(kmod::device_path(0));
  const auto before = dev.stats();
  dev.start(200us, kmod::cache_mode::cached);
  const auto c = consume(dev, kmod::cache_mode::cached, 10000);
  dev.stop();
  const auto after = dev.stats();
  CHECK(c.invalid == 0);
  CHECK(c.out_of_order == 0);
  CHECK(c.first >= before.sequence);
  // Every sequence number up to the last one consumed was consumed or is an
  // overrun: nothing is lost silently.
  const std::uint64_t missing = (c.last + 1 - before.sequence) - c.count;
  CHECK(missing <= after.overruns - before.overruns);
  CHECK(after.produced - before.produced >= c.count);
  CHECK(after.handed_back - before.handed_back == c.count);
  CHECK(after.sequence == after.produced + after.overruns);
}

TEST_CASE("kmod: the producer fills uncached and write-combining buffers too") {
  auto dev = kmod::device::open(kmod::device_path(1));
  for (auto cache : {kmod::cache_mode::uncached, kmod::cache_mode::write_combining}) {
    CAPTURE(static_cast<int>(cache));
    dev.start(500us, cache);
    const auto c = consume(dev, cache, 300);
    dev.stop();
    CHECK(c.invalid == 0);
    CHECK(c.out_of_order == 0);
  }
}

TEST_CASE("kmod: a slow consumer sees overruns, as gaps and in the statistics") {
  auto dev = kmod::device::open(kmod::device_path(0));
  const auto& g = dev.info();
  const auto before = dev.stats();
  dev.start(1ms, kmod::cache_mode::cached);
  // Not consuming: once every buffer is ready, each tick is an overrun.
  while (dev.stats().overruns - before.overruns < 20) std::this_thread::sleep_for(5ms);
  std::vector<kmod::ready_buffer> got;
  for (std::uint32_t i = 0; i < g.buffer_count + 1; ++i) {
    got.push_back(dev.wait(5s));
    dev.hand_back(got.back().index);
  }
  dev.stop();
  // The first buffer_count frames were ready in time; the next one came
  // after the overruns, so its sequence number jumps.
  for (std::uint32_t i = 1; i < g.buffer_count; ++i)
    CHECK(got[i].sequence == got[i - 1].sequence + 1);
  CHECK(got[g.buffer_count].sequence > got[g.buffer_count - 1].sequence + 20);
  CHECK(dev.stats().overruns - before.overruns >= 20);
}

TEST_CASE("kmod: poll wakes when a buffer becomes ready; wait times out when none does") {
  auto dev = kmod::device::open(kmod::device_path(0));
  std::error_code ec;
  (void)dev.wait(50ms, ec);
  CHECK(ec == mmapx::errc::timed_out);
  CHECK(ec == std::errc::timed_out);

  pollfd p{dev.native_handle(), POLLIN, 0};
  CHECK(::poll(&p, 1, 0) == 0);  // nothing ready, producer stopped

  std::atomic<int> result{-2};
  std::atomic<short> revents{0};
  std::thread waiter([&] {
    pollfd q{dev.native_handle(), POLLIN, 0};
    result = ::poll(&q, 1, 20000);
    revents = q.revents;
  });
  std::this_thread::sleep_for(100ms);
  CHECK(result == -2);  // still asleep
  dev.start(1ms, kmod::cache_mode::cached);
  waiter.join();
  CHECK(result == 1);
  CHECK((revents & POLLIN) != 0);
  const auto ready = dev.wait(1s);
  dev.hand_back(ready.index);
  // A buffer handed back twice is an error.
  dev.hand_back(ready.index, ec);
  CHECK(ec == std::errc::invalid_argument);
  dev.stop();
}

TEST_CASE("kmod: read() and write() speak the documented protocol") {
  auto dev = kmod::device::open(kmod::device_path(0));
  const int fd = dev.native_handle();
  char small[8];
  CHECK(::read(fd, small, sizeof small) == -1);
  CHECK(errno == EINVAL);
  ::mmapx_kmod_event event{};
  CHECK(::read(fd, &event, sizeof event) == -1);  // O_NONBLOCK, nothing ready
  CHECK(errno == EAGAIN);

  dev.start(1ms, kmod::cache_mode::cached);
  pollfd p{fd, POLLIN, 0};
  REQUIRE(::poll(&p, 1, 5000) == 1);
  REQUIRE(::read(fd, &event, sizeof event) == static_cast<ssize_t>(sizeof event));
  const std::uint16_t short_index = 0;
  CHECK(::write(fd, &short_index, sizeof short_index) == -1);
  CHECK(errno == EINVAL);
  const std::uint32_t index = event.index;
  CHECK(::write(fd, &index, sizeof index) == static_cast<ssize_t>(sizeof index));
  CHECK(::write(fd, &index, sizeof index) == -1);  // no longer held
  CHECK(errno == EINVAL);
  dev.stop();
}

TEST_CASE("kmod: the producer period has a floor the header states; below it is EINVAL") {
  auto dev = kmod::device::open(kmod::device_path(0));
  // The documented floor: 10 us plus half a nanosecond per byte of a buffer
  // (the producer never writes faster than 2 bytes per ns).
  const std::uint64_t floor = 10000 + dev.info().buffer_size / 2;
  CHECK(MMAPX_KMOD_PERIOD_FLOOR_NS(dev.info().buffer_size) == floor);
  std::error_code ec;
  const auto sequence = dev.stats().sequence;
  for (const std::uint64_t ns : {std::uint64_t{0}, std::uint64_t{1000}, floor - 1,
                                 std::uint64_t{MMAPX_KMOD_PERIOD_MAX_NS} + 1}) {
    CAPTURE(ns);
    dev.start(std::chrono::nanoseconds(ns), kmod::cache_mode::cached, ec);
    CHECK(ec == std::errc::invalid_argument);
    dev.set_period(std::chrono::nanoseconds(ns), ec);
    CHECK(ec == std::errc::invalid_argument);
  }
  std::this_thread::sleep_for(20ms);
  CHECK(dev.stats().sequence == sequence);  // nothing was started
  dev.start(std::chrono::nanoseconds(floor), kmod::cache_mode::cached, ec);
  CHECK(!ec);
  dev.set_period(std::chrono::nanoseconds(floor), ec);
  CHECK(!ec);
  const auto ready = dev.wait(5s);
  dev.hand_back(ready.index);
  dev.stop();
}

TEST_CASE("kmod: the producer belongs to the file that started it") {
  const auto sequence = [](const kmod::device& d) { return d.stats().sequence; };
  auto starter = kmod::device::open(kmod::device_path(0));
  auto watcher = kmod::device::open(kmod::device_path(0));
  starter.start(1ms);
  // Another opener coming and going leaves it running.
  { auto passer_by = kmod::device::open(kmod::device_path(0)); }
  auto before = sequence(watcher);
  std::this_thread::sleep_for(50ms);
  CHECK(sequence(watcher) > before);
  // Closing the file that started it stops it, though another is open.
  starter = kmod::device{};
  before = sequence(watcher);
  std::this_thread::sleep_for(50ms);
  CHECK(sequence(watcher) == before);
  // Whoever starts it next owns it; STOP works from any opener.
  watcher.start(1ms);
  starter = kmod::device::open(kmod::device_path(0));
  starter.stop();
  before = sequence(watcher);
  std::this_thread::sleep_for(50ms);
  CHECK(sequence(watcher) == before);
}

TEST_CASE("kmod: a START that changes the cache mode starts from an empty ring of the new buffers") {
  auto dev = kmod::device::open(kmod::device_path(0));
  const auto& g = dev.info();
  dev.start(1ms, kmod::cache_mode::cached);
  const auto held = dev.wait(5s);  // held, never handed back
  auto cached = dev.map<mmapx::access::read>({.index = held.index});
  ::mmapx_kmod_frame before;
  std::memcpy(&before, cached.data(), sizeof before);

  dev.start(1ms, kmod::cache_mode::write_combining);
  std::error_code ec;
  dev.hand_back(held.index, ec);  // the restart freed it
  CHECK(ec == std::errc::invalid_argument);
  // The ring starts again at buffer 0 and fills the write-combining set.
  std::vector<mmapx::ro_region> wc;
  for (std::uint32_t i = 0; i < g.buffer_count; ++i)
    wc.push_back(dev.map<mmapx::access::read>({.index = i, .cache = kmod::cache_mode::write_combining}));
  const auto first = dev.wait(5s);
  CHECK(first.index == 0);
  CHECK(first.sequence > held.sequence);
  for (auto ready = first;; ready = dev.wait(5s)) {
    CHECK(frame_is_valid(wc[ready.index].data(), wc[ready.index].size(), ready));
    dev.hand_back(ready.index);
    if (ready.sequence >= first.sequence + 5) break;
  }
  dev.stop();
  // The cached buffer was not touched after the switch.
  CHECK(std::memcmp(&before, cached.data(), sizeof before) == 0);
}
