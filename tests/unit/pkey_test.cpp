// Memory protection keys: a thread denied by its rights faults (caught) while
// another thread reads the same page; read-only rights; part of a region;
// bad keys and ranges. Skips, saying why, where the CPU or kernel has none.
#include <catch.hpp>
#include "test_support.hpp"

#include <mmapx/anonymous.hpp>
#include <mmapx/pkey.hpp>

#include <setjmp.h>
#include <signal.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#ifndef SEGV_PKUERR
#define SEGV_PKUERR 4
#endif

namespace {

#ifdef MMAPX_CATCH2_V3
#define SKIP_WITHOUT_PKEYS()                                                                        \
  if (!mmapx::protection_key::supported()) SKIP("this CPU or kernel has no memory protection keys")
#else
#define SKIP_WITHOUT_PKEYS()                                                                        \
  if (!mmapx::protection_key::supported()) {                                                        \
    WARN("skipped: this CPU or kernel has no memory protection keys (no ospke in /proc/cpuinfo)"); \
    return;                                                                                         \
  }
#endif

/// Where a thread's probe jumps back to when its access faults (volatile:
/// the handler reads them between stores the compiler could otherwise drop).
thread_local sigjmp_buf* volatile probe_return = nullptr;
thread_local volatile int fault_code = 0;
thread_local volatile int fault_key = -1;

void on_segv(int, siginfo_t* info, void*) {
  if (probe_return == nullptr) {
    ::signal(SIGSEGV, SIG_DFL);  // not ours: fault again and die
    return;
  }
  fault_code = info->si_code;
  fault_key = static_cast<int>(info->si_pkey);
  siglongjmp(*probe_return, 1);
}

/// Runs `touch` on this thread; true when it faulted (the fault is recorded).
template <class Fn>
bool faults(Fn touch) {
  struct sigaction sa {}, old {};
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  ::sigaction(SIGSEGV, &sa, &old);
  sigjmp_buf env;
  bool faulted = false;
  if (sigsetjmp(env, 1) == 0) {
    probe_return = &env;
    touch();
  } else {
    faulted = true;
  }
  probe_return = nullptr;
  ::sigaction(SIGSEGV, &old, nullptr);
  return faulted;
}

std::byte read_byte(const std::byte* p) { return *static_cast<const volatile std::byte*>(p); }

const std::size_t pg = mmapx::page_size();

}  // namespace

TEST_CASE("pkey: a denied thread faults while another reads", "[pkey]") {
  SKIP_WITHOUT_PKEYS();
  auto mem = mmapx::map_anonymous(2 * pg);
  std::memset(mem.data(), 0x3c, mem.size());
  auto key = mmapx::protection_key::allocate();
  key.assign(mem, 0, pg, mmapx::protection::read_write);  // the first page only
  CHECK(key.rights() == mmapx::key_rights::read_write);

  std::atomic<int> step{0};
  bool denied_faulted = false, denied_other_page_ok = false;
  int code = 0, faulting_key = -1;
  std::byte seen{0};
  // Created after allocate(): both threads start with this thread's rights.
  std::thread denied([&] {
    key.set_rights(mmapx::key_rights::none);
    step = 1;
    denied_faulted = faults([&] { (void)read_byte(mem.data()); });
    code = fault_code;
    faulting_key = fault_key;
    denied_other_page_ok = !faults([&] { (void)read_byte(mem.data() + pg); });
    step = 2;
  });
  std::thread reader([&] {
    while (step.load() == 0) std::this_thread::yield();
    seen = read_byte(mem.data());  // at the same time, with its own rights
  });
  denied.join();
  reader.join();
  CHECK(denied_faulted);
  CHECK(code == SEGV_PKUERR);
  CHECK(faulting_key == key.get());
  CHECK(denied_other_page_ok);
  CHECK(seen == std::byte{0x3c});
  CHECK(read_byte(mem.data()) == std::byte{0x3c});  // this thread still may
}

TEST_CASE("pkey: read-only rights fault on write only, per thread", "[pkey]") {
  SKIP_WITHOUT_PKEYS();
  auto mem = mmapx::map_anonymous(pg);
  auto key = mmapx::protection_key::allocate(mmapx::key_rights::read_only);
  key.assign(mem, 10, 1, mmapx::protection::read_write);  // rounds to the page
  CHECK(key.rights() == mmapx::key_rights::read_only);
  CHECK_FALSE(faults([&] { (void)read_byte(mem.data()); }));
  CHECK(faults([&] { *static_cast<volatile std::byte*>(mem.data()) = std::byte{1}; }));
  CHECK(fault_code == SEGV_PKUERR);
  key.set_rights(mmapx::key_rights::read_write);
  CHECK_FALSE(faults([&] { *static_cast<volatile std::byte*>(mem.data()) = std::byte{1}; }));
  CHECK(mem.data()[0] == std::byte{1});
}

TEST_CASE("pkey: bad input", "[pkey][errors]") {
  SKIP_WITHOUT_PKEYS();
  auto mem = mmapx::map_anonymous(pg);
  auto key = mmapx::protection_key::allocate();
  std::error_code ec;
  key.assign(mem, pg, 1, mmapx::protection::read_write, ec);
  CHECK(ec == mmapx::errc::range_outside_region);
  key.assign(mem, SIZE_MAX, 2, mmapx::protection::read_write, ec);
  CHECK(ec == mmapx::errc::range_outside_region);
  auto ro = mmapx::map_anonymous<mmapx::access::read>(pg);
  key.assign(ro, 0, pg, mmapx::protection::read_write, ec);
  CHECK(ec == std::errc::permission_denied);
  key.assign(ro, 0, pg, mmapx::protection::read, ec);
  CHECK_FALSE(ec);
  mmapx::rw_region empty;
  key.assign(empty, 0, 0, mmapx::protection::read, ec);
  CHECK_FALSE(ec);  // nothing to tag

  mmapx::protection_key none;
  none.assign(mem, 0, pg, mmapx::protection::read, ec);
  CHECK(ec == mmapx::errc::not_mapped);
  none.set_rights(mmapx::key_rights::none, ec);
  CHECK(ec == mmapx::errc::not_mapped);
  (void)none.rights(ec);
  CHECK(ec == mmapx::errc::not_mapped);
  auto moved = std::move(key);
  CHECK(key.get() == -1);
  CHECK(moved.get() >= 0);

  // every key taken: ENOSPC, which is not the same as having none
  std::vector<mmapx::protection_key> all;
  ec.clear();
  for (int i = 0; i < 32 && !ec; ++i) {
    auto k = mmapx::protection_key::allocate(mmapx::key_rights::read_write, ec);
    if (!ec) all.push_back(std::move(k));
  }
  CHECK(ec == std::errc::no_space_on_device);  // x86 has 15 keys besides the default one
  CHECK(ec != mmapx::errc::protection_keys_unavailable);
  CHECK(all.size() >= 1);
}

TEST_CASE("pkey: support is reported as the CPU flags say", "[pkey]") {
  // /proc/cpuinfo lists ospke when the kernel enabled the CPU's keys.
  const std::string cpuinfo = mmapx_test::read_file("/proc/cpuinfo");
  const bool listed = cpuinfo.find(" ospke") != std::string::npos;
#if defined(__x86_64__)
  CHECK(mmapx::protection_key::supported() == listed);
#endif
  std::error_code ec;
  auto key = mmapx::protection_key::allocate(mmapx::key_rights::read_write, ec);
  if (!listed) {
    WARN("this CPU or kernel has no memory protection keys: allocate() must say so");
    CHECK(ec == mmapx::errc::protection_keys_unavailable);
    CHECK(ec == std::errc::operation_not_supported);
  } else {
    CHECK_FALSE(ec);
  }
}
