// Waiting across processes: wait/notify on a word in shared memory between
// threads and between processes, timeouts, and the robust mutex whose holder
// is killed with SIGKILL.
#include <catch.hpp>
#include "test_support.hpp"

#include <mmapx/anonymous.hpp>
#include <mmapx/sync.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <mutex>
#include <new>
#include <thread>

namespace {

using namespace std::chrono_literals;
using mmapx_test::in_child;

/// What two processes share in these tests: placed in shared anonymous memory.
struct shared_state {
  std::atomic<std::uint32_t> word{0};
  std::atomic<std::uint32_t> holder_ready{0};
  mmapx::robust_mutex mutex;
  int guarded = 0;  // changed only under `mutex`
};

struct shared_block {
  mmapx::rw_region memory = mmapx::map_anonymous(sizeof(shared_state), {.shared = true});
  shared_state* state = new (memory.data()) shared_state;
  ~shared_block() { state->~shared_state(); }
};

/// The state letter of /proc/<pid>/stat ('S': sleeping), or 0.
char process_state(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() ? line[close + 2] : '\0';
}

// Not BasicLockable on purpose, so std::lock_guard cannot drop the news that
// the owner died; std::mutex shows the concept can hold.
template <class M>
concept basic_lockable = requires(M& m) {
  m.lock();
  m.unlock();
};
static_assert(!basic_lockable<mmapx::robust_mutex>);
static_assert(basic_lockable<std::mutex>);

}  // namespace

TEST_CASE("sync: wait returns when the value differs, times out when it stays", "[sync]") {
  std::atomic<std::uint32_t> word{5};
  mmapx::wait_for(word, 4, 1s);  // differs: returns at once
  std::error_code ec;
  const auto start = std::chrono::steady_clock::now();
  mmapx::wait_for(word, 5, 20ms, ec);
  CHECK(ec == mmapx::errc::timed_out);
  CHECK(ec == std::errc::timed_out);
  CHECK(std::chrono::steady_clock::now() - start >= 20ms);
  mmapx::wait_for(word, 5, 0ns, ec);
  CHECK(ec == mmapx::errc::timed_out);
  mmapx::wait_for(word, 5, -1s, ec);
  CHECK(ec == mmapx::errc::timed_out);
  CHECK_THROWS_AS(mmapx::wait_for(word, 5, 1ms), std::system_error);
  CHECK(mmapx::notify_all(word) == 0);
}

TEST_CASE("sync: notify wakes a waiting thread", "[sync]") {
  std::atomic<std::uint32_t> word{0};
  std::thread waker([&] {
    std::this_thread::sleep_for(10ms);
    word.store(1);
    mmapx::notify_one(word);
  });
  while (word.load() == 0) mmapx::wait_for(word, 0, std::chrono::nanoseconds::max());
  waker.join();
  CHECK(word.load() == 1);
}

TEST_CASE("sync: wait and notify between processes (shared futex)", "[sync]") {
  shared_block block;
  auto& word = block.state->word;
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Child: wait for 1, answer 2.
    std::error_code ec;
    while (word.load() == 0 && !ec) mmapx::wait_for(word, 0, 10s, ec);
    word.store(2);
    mmapx::notify_all(word, ec);
    std::_Exit(ec ? 1 : 0);
  }
  REQUIRE(pid > 0);
  // Once the child sleeps (all it can sleep in is the futex wait), the wake
  // must reach it from this process: a private futex would wake nobody.
  for (int i = 0; i < 5000 && process_state(pid) != 'S'; ++i) std::this_thread::sleep_for(1ms);
  REQUIRE(process_state(pid) == 'S');
  word.store(1);
  CHECK(mmapx::notify_all(word) == 1);
  while (word.load() != 2) mmapx::wait_for(word, 1, 10s);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

TEST_CASE("sync: robust mutex between threads", "[sync]") {
  shared_block block;
  auto& s = *block.state;
  constexpr int rounds = 2000;
  auto work = [&] {
    for (int i = 0; i < rounds; ++i) {
      auto lock = s.mutex.acquire();
      REQUIRE_FALSE(lock.previous_owner_died());
      ++s.guarded;
    }
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  CHECK(s.guarded == 2 * rounds);
}

TEST_CASE("sync: a holder killed with SIGKILL: the next locker is told and repairs", "[sync]") {
  shared_block block;
  auto& s = *block.state;
  const pid_t holder = ::fork();
  if (holder == 0) {
    auto lock = s.mutex.acquire();
    s.guarded = -1;  // half-way through an update
    s.holder_ready.store(1);
    mmapx::notify_all(s.holder_ready);
    for (;;) ::pause();
  }
  REQUIRE(holder > 0);
  while (s.holder_ready.load() == 0) mmapx::wait_for(s.holder_ready, 0, 10s);

  std::error_code ec;
  auto busy = s.mutex.acquire_for(20ms, ec);  // still held
  CHECK(ec == mmapx::errc::timed_out);
  CHECK_FALSE(busy.owns_lock());

  ::kill(holder, SIGKILL);
  int status = 0;
  REQUIRE(::waitpid(holder, &status, 0) == holder);
  REQUIRE(WIFSIGNALED(status));

  {
    // acquire(), not acquire_for(): ThreadSanitizer's pthread_mutex_timedlock
    // misses EOWNERDEAD and would report the unlock below.
    auto lock = s.mutex.acquire();
    REQUIRE(lock.owns_lock());
    CHECK(lock.previous_owner_died());
    CHECK(s.guarded == -1);  // what the dead holder left
    s.guarded = 0;           // repaired
    lock.mark_consistent();
    CHECK_FALSE(lock.previous_owner_died());
  }
  auto again = s.mutex.acquire();
  CHECK_FALSE(again.previous_owner_died());
  again.unlock();
  CHECK_FALSE(again.owns_lock());
  again.mark_consistent(ec);
  CHECK(ec == mmapx::errc::not_mapped);
}

TEST_CASE("sync: not marking consistent makes the mutex unrecoverable", "[sync]") {
  shared_block block;
  auto& s = *block.state;
  CHECK(in_child([&] {
          auto lock = s.mutex.acquire();
          std::_Exit(0);  // dies holding it
          return 1;
        }) == 0);
  {
    auto lock = s.mutex.acquire();
    CHECK(lock.previous_owner_died());
  }  // unlocked without mark_consistent
  std::error_code ec;
  auto lock = s.mutex.acquire(ec);
  CHECK(ec == std::errc::state_not_recoverable);
  CHECK_FALSE(lock.owns_lock());
  CHECK_THROWS_AS(s.mutex.acquire(), std::system_error);
}
