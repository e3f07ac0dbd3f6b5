// Unit tests: region operations (advise, protect, lock, resize, unmap).
#include <sys/mman.h>

#include <csetjmp>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include <mmapx/anonymous.hpp>
#include <mmapx/file.hpp>

#include "catch.hpp"
#include "test_support.hpp"

using namespace mmapx;
using mmapx_test::pattern;
using mmapx_test::read_file;
using mmapx_test::resident;
using mmapx_test::temp_dir;
using mmapx_test::write_file;

namespace {

/// True if reading (or writing) the byte at p faults. Checked in a child so
/// a fault cannot take the test runner down.
bool faults_on(volatile std::byte* p, bool write) {
  mmapx_test::child touch([&] {
    std::signal(SIGSEGV, SIG_DFL);  // not Catch2's handler: we want the plain signal
    std::signal(SIGBUS, SIG_DFL);
    if (write) {
      *p = std::byte{1};
    } else {
      (void)*p;
    }
    return 0;
  });
  const auto end = touch.wait();
  return end.signal == SIGSEGV || end.signal == SIGBUS;
}

/// AnonHugePages (KiB) of the mapping that contains `p`, from /proc/self/smaps.
std::size_t anon_huge_kib(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx ", &lo, &hi) == 2 && line.find(':') > line.find(' ')) {
      inside = at >= lo && at < hi;
    } else if (inside && line.rfind("AnonHugePages:", 0) == 0) {
      return std::stoul(line.substr(14));
    }
  }
  return 0;
}

/// Whether mlock(2), called directly, makes pages resident in this process.
bool raw_mlock_makes_resident() {
  const std::size_t len = 2 * page_size();
  void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  const bool works = ::mlock(p, len) == 0 && resident(p, len);
  ::munmap(p, len);
  return works;
}

/// Whether madvise(MADV_POPULATE_WRITE), called directly, makes anonymous
/// pages resident as mincore sees them (qemu-user accepts madvise and
/// ignores it: no residency to test there).
bool raw_populate_makes_resident() {
  const std::size_t len = 4 * page_size();
  void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  const bool works = ::madvise(p, len, 23 /* MADV_POPULATE_WRITE */) == 0 && resident(p, len);
  ::munmap(p, len);
  return works;
}

/// Whether mremap(2), called directly, shrinks a mapping in place (Linux
/// always does; qemu-user's emulated address space may not).
bool raw_mremap_shrinks_in_place() {
  const std::size_t len = 64 * page_size();
  void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  void* q = ::mremap(p, len, page_size(), MREMAP_MAYMOVE);
  ::munmap(q == MAP_FAILED ? p : q, q == MAP_FAILED ? len : page_size());
  return q == p;
}

/// Whether mremap(2), called directly on private memory split by mprotect,
/// keeps the bytes: either it refuses (EFAULT, as Linux does) and leaves
/// the old mapping as it was, or it moves them. qemu-arm 7.2 (a 32-bit
/// guest in a reserved address space) refuses but has already replaced
/// the old range with its own PROT_NONE reservation: the bytes are gone.
bool raw_mremap_of_split_memory_keeps_bytes() {
  const std::size_t len = 4 * page_size();
  void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  std::memset(p, 0x5a, len);
  ::mprotect(static_cast<char*>(p) + page_size(), page_size(), PROT_NONE);
  void* q = ::mremap(p, len, 4 * len, MREMAP_MAYMOVE);
  if (q == MAP_FAILED) {
    const bool refused = errno == EFAULT;
    // Readable again (as resize makes it for its copy), then still 0x5a?
    const bool kept = ::mprotect(p, len, PROT_READ) == 0 && static_cast<unsigned char*>(p)[1] == 0x5a;
    ::munmap(p, len);
    return refused && kept;
  }
  const bool kept = static_cast<unsigned char*>(q)[1] == 0x5a;
  ::munmap(q, 4 * len);
  return kept;
}

}  // namespace

TEST_CASE("regions are move-only owners", "[region]") {
  static_assert(!std::is_copy_constructible_v<rw_region>);
  static_assert(!std::is_copy_assignable_v<rw_region>);
  static_assert(std::is_nothrow_move_constructible_v<rw_region>);
  static_assert(std::is_nothrow_move_assignable_v<ro_region>);
  static_assert(std::is_nothrow_destructible_v<cow_region>);
  static_assert(std::is_same_v<decltype(std::declval<ro_region&>().bytes()), std::span<const std::byte>>);
  static_assert(std::is_same_v<decltype(std::declval<rw_region&>().bytes()), std::span<std::byte>>);
  static_assert(std::is_same_v<decltype(std::declval<const rw_region&>().bytes()), std::span<const std::byte>>);
}

TEST_CASE("protect really changes the page protection", "[region]") {
  auto r = map_anonymous(3 * page_size());
  r.protect(protection::read, page_size(), page_size());
  CHECK(faults_on(r.data() + page_size(), true));
  CHECK_FALSE(faults_on(r.data() + page_size(), false));
  CHECK_FALSE(faults_on(r.data(), true));
  r.protect(protection::none, 0, 1);  // rounds to the whole first page
  CHECK(faults_on(r.data() + page_size() - 1, false));
  r.protect(protection::read_write);
  CHECK_FALSE(faults_on(r.data(), true));
}

TEST_CASE("advise will_need and populate make pages resident", "[region]") {
  temp_dir dir;
  write_file(dir / "f", pattern(64 * 1024));
  auto r = map_file(dir / "f", {.map = {.populate = true}});
  CHECK(resident(r.data(), r.size()));
  MMAPX_SKIP_UNLESS(raw_populate_makes_resident(),
                    "madvise(MADV_POPULATE_WRITE) itself leaves pages non-resident here (qemu-user ignores madvise)");
  auto a = map_anonymous(16 * page_size());
  a.advise(advice::populate_write);
  CHECK(resident(a.data(), a.size()));
  a.advise(advice::dont_need);
  CHECK_FALSE(resident(a.data(), a.size()));
  a.advise(advice::sequential, 0, 100);
  a.advise(advice::huge_pages);
  a.advise(advice::no_huge_pages);
  a.advise(advice::dont_fork);
  a.advise(advice::do_fork);
}

TEST_CASE("lock and unlock, and lock at map time", "[region]") {
  auto r = map_anonymous(4 * page_size());
  std::error_code ec;
  r.lock(ec);
  if (ec) {
    // RLIMIT_MEMLOCK may forbid it; the error must then be the kernel's.
    CHECK((ec == std::errc::operation_not_permitted || ec == std::errc::not_enough_memory ||
           ec == std::errc::resource_unavailable_try_again));
    return;
  }
  // Sanitizer runtimes (ASan, TSan) replace mlock with a no-op that returns
  // 0: hold the library to what raw mlock does in this process.
  const bool mlock_works = raw_mlock_makes_resident();
  CHECK((!mlock_works || resident(r.data(), r.size())));
  r.unlock();
  auto locked = map_anonymous(2 * page_size(), {.map = {.lock = true}});
  CHECK((!mlock_works || resident(locked.data(), locked.size())));
}

TEST_CASE("resize grows and shrinks anonymous memory, reporting moves", "[region]") {
  auto r = map_anonymous(page_size());
  std::memset(r.data(), 0x5a, r.size());
  const bool moved = r.resize(64 * page_size());
  CHECK(r.size() == 64 * page_size());
  CHECK(r.data()[0] == std::byte{0x5a});
  CHECK(r.data()[page_size() - 1] == std::byte{0x5a});
  r.data()[r.size() - 1] = std::byte{1};
  (void)moved;  // may or may not move; the contents survive either way
  MMAPX_SKIP_UNLESS(raw_mremap_shrinks_in_place(), "mremap itself moves a shrinking mapping here (qemu-user)");
  std::byte* before = r.data();
  CHECK_FALSE(r.resize(page_size()));  // shrinking in place never moves
  CHECK(r.data() == before);
  CHECK(r.size() == page_size());
}

TEST_CASE("shared anonymous memory refuses to grow instead of faulting", "[region]") {
  auto r = map_anonymous(2 * page_size(), {.shared = true});
  std::error_code ec;
  r.resize(4 * page_size(), {}, ec);
  CHECK(ec == std::errc::operation_not_supported);
  CHECK(r.size() == 2 * page_size());
  r.resize(page_size());  // shrinking is fine
  CHECK(r.size() == page_size());
}

TEST_CASE("resize without may_move fails when the space after is taken", "[region]") {
  auto r = map_anonymous(2 * page_size());
  r.resize(page_size());
  auto blocker = map_anonymous(page_size(), {.map = {.hint = r.data() + page_size(),
                                                    .place = placement::fixed_noreplace}});
  std::error_code ec;
  CHECK_FALSE(r.resize(2 * page_size(), {.may_move = false}, ec));
  CHECK(ec == std::errc::not_enough_memory);
  CHECK(r.size() == page_size());
  CHECK(r.resize(2 * page_size(), {.may_move = true}));  // must move
}

TEST_CASE("resize of a writable file mapping grows the file, keeping the offset", "[region]") {
  temp_dir dir;
  auto p = dir / "f";
  write_file(p, pattern(5000));
  auto w = map_file<access::read_write>(p, {.offset = 4097});
  CHECK(w.size() == 5000 - 4097);
  w.resize(20000);
  CHECK(std::filesystem::file_size(p) == 4097 + 20000);
  CHECK(static_cast<char>(w.data()[0]) == pattern(5000)[4097]);
  std::memcpy(w.data() + 19990, "0123456789", 10);
  w.flush();
  CHECK(read_file(p).substr(4097 + 19990) == "0123456789");
}

TEST_CASE("a read-only mapping cannot grow past its file", "[region]") {
  temp_dir dir;
  write_file(dir / "f", pattern(5000));
  auto r = map_file(dir / "f");
  std::error_code ec;
  r.resize(5001, {}, ec);
  CHECK(ec == errc::length_beyond_end);
  CHECK(r.size() == 5000);
  r.resize(100, {}, ec);
  CHECK_FALSE(ec);
  CHECK(r.size() == 100);
}

TEST_CASE("explicit unmap leaves an empty region", "[region]") {
  auto r = map_anonymous(page_size());
  void* p = r.data();
  r.unmap();
  CHECK_FALSE(r.is_mapped());
  CHECK(r.empty());
  CHECK(faults_on(static_cast<std::byte*>(p), false));
}

TEST_CASE("transparent huge pages are advice on the mapping", "[region]") {
  std::error_code ec;
  auto r = map_anonymous(8 << 20, {.map = {.huge = huge_pages::transparent}}, ec);
  if (ec) {
    CHECK(ec == std::errc::invalid_argument);  // a kernel without THP
    return;
  }
  CHECK(r.size() == (8u << 20));
  CHECK(r.page_size() == page_size());
}

TEST_CASE("exec on request", "[region]") {
  auto r = map_anonymous<access::read_write>(page_size(), {.map = {.exec = true}});
  CHECK(r.size() == page_size());
}

TEST_CASE("resize after advice on part of a file region (split mapping) still grows", "[region]") {
  temp_dir dir;
  auto p = dir / "f";
  write_file(p, pattern(3 * 4096));
  auto w = map_file<access::read_write>(p);
  w.advise(advice::random, 4096, 4096);  // the kernel now holds three mappings
  w.protect(protection::read, 8192, 10);
  const int fd = w.native_handle();
  CHECK(w.resize(64 * 4096));
  CHECK(w.size() == 64 * 4096);
  CHECK(w.native_handle() == fd);
  CHECK(std::string_view(reinterpret_cast<const char*>(w.data()), 3 * 4096) == pattern(3 * 4096));
  w.data()[64 * 4096 - 1] = std::byte{'z'};  // the grown part is writable
  w.flush();
  CHECK(read_file(p).size() == 64 * 4096);
  CHECK(read_file(p).back() == 'z');
}

TEST_CASE("resize of split private memory keeps its contents, even unreadable parts", "[region]") {
  MMAPX_SKIP_UNLESS(raw_mremap_of_split_memory_keeps_bytes(),
                    "a failed mremap itself discards the old mapping's bytes here (qemu-user for 32-bit guests)");
  auto r = map_anonymous(4 * page_size());
  for (std::size_t i = 0; i < r.size(); ++i) r.data()[i] = static_cast<std::byte>(i % 251);
  r.protect(protection::none, page_size(), page_size());
  r.advise(advice::sequential, 2 * page_size(), page_size());
  CHECK(r.resize(16 * page_size()));
  for (std::size_t i = 0; i < 4 * page_size(); ++i) {
    if (r.data()[i] != static_cast<std::byte>(i % 251)) {
      FAIL("byte " << i << " changed");
    }
  }
  CHECK(r.data()[16 * page_size() - 1] == std::byte{0});
}

TEST_CASE("growing an empty file region keeps its descriptor", "[region]") {
  temp_dir dir;
  write_file(dir / "empty", "");
  auto w = map_file<access::read_write>(dir / "empty");
  const int fd = w.native_handle();
  REQUIRE(fd >= 0);
  w.resize(4096);
  CHECK(w.native_handle() == fd);
}

TEST_CASE("populate with transparent huge pages still populates", "[region]") {
  MMAPX_SKIP_UNLESS(raw_populate_makes_resident(),
                    "madvise(MADV_POPULATE_WRITE) itself leaves pages non-resident here (qemu-user ignores madvise)");
  std::error_code ec;
  auto r = map_anonymous(8 << 20, {.map = {.populate = true, .huge = huge_pages::transparent}}, ec);
  if (ec) {
    CHECK(ec == std::errc::invalid_argument);  // a kernel without THP
    return;
  }
  CHECK(resident(r.data(), r.size()));  // faulted in after the advice, not before
  // Measured now: a later mapping next to r may merge with it in smaps.
  const std::size_t populated_huge = anon_huge_kib(r.data());
  r.unmap();
  // Control: where touching a THP-advised mapping by hand gets huge pages,
  // populating one must get them too (MAP_POPULATE would fault everything in
  // with base pages before the advice could be given).
  auto control = map_anonymous(8 << 20, {.map = {.huge = huge_pages::transparent}});
  for (std::size_t i = 0; i < control.size(); i += page_size()) control.data()[i] = std::byte{1};
  if (anon_huge_kib(control.data()) > 0) CHECK(populated_huge > 0);
  temp_dir dir;
  write_file(dir / "f", pattern(1 << 20));
  auto f = map_file(dir / "f", {.map = {.populate = true, .huge = huge_pages::transparent}}, ec);
  if (!ec) CHECK(resident(f.data(), f.size()));
}
