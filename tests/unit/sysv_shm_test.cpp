// System V shared memory: create, attach by key and by id, another process,
// permissions, removal when the last attachment goes, and bad keys, ids and
// sizes.
#include <catch.hpp>
#include "test_support.hpp"

#include <mmapx/sysv_shm.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>

namespace {

using mmapx_test::in_child;

/// A key no other test run uses at the same time.
key_t unique_key() {
  static int counter = 0;
  return static_cast<key_t>(0x4d580000 | ((::getpid() & 0xfff) << 4) | (++counter & 0xf));
}

std::size_t shmmax() {
  std::ifstream in("/proc/sys/kernel/shmmax");
  unsigned long long v = 0;
  in >> v;
  return static_cast<std::size_t>(v);
}

// System V segments have no copy-on-write attachment: it does not compile.
template <class S, mmapx::access A>
concept attaches = requires(const S& s) { s.template attach<A>(); };
static_assert(!attaches<mmapx::sysv_shm, mmapx::access::copy_on_write>);
static_assert(attaches<mmapx::sysv_shm, mmapx::access::read>);

}  // namespace

TEST_CASE("sysv_shm: create, attach twice, same bytes", "[sysv_shm]") {
  const key_t key = unique_key();
  auto seg = mmapx::sysv_shm::create(key, 10000);
  CHECK(seg.owns());
  CHECK(seg.size() == 10000);
  CHECK(seg.attachments() == 0);
  auto a = seg.attach();
  auto b = mmapx::sysv_shm::open(key).attach<mmapx::access::read>();
  CHECK(a.size() == 10000);
  CHECK(seg.attachments() == 2);
  std::memcpy(a.data(), "segment", 7);
  CHECK(std::memcmp(b.data(), "segment", 7) == 0);
  auto by_id = mmapx::sysv_shm::open_id(seg.id());
  CHECK_FALSE(by_id.owns());
  CHECK(by_id.size() == 10000);
  b.unmap();  // munmap of a shmat mapping detaches it
  CHECK(seg.attachments() == 1);
}

TEST_CASE("sysv_shm: another process attaches by key", "[sysv_shm]") {
  const key_t key = unique_key();
  auto seg = mmapx::sysv_shm::create(key, 4096);
  auto mine = seg.attach();
  std::memcpy(mine.data(), "from parent", 11);
  CHECK(in_child([&] {
          auto theirs = mmapx::sysv_shm::open(key).attach();
          if (std::memcmp(theirs.data(), "from parent", 11) != 0) return 3;
          std::memcpy(theirs.data(), "from child!", 11);
          return 0;
        }) == 0);
  CHECK(std::memcmp(mine.data(), "from child!", 11) == 0);
}

TEST_CASE("sysv_shm: removal waits for the last attachment", "[sysv_shm]") {
  const key_t key = unique_key();
  int id = -1;
  mmapx::rw_region kept;
  {
    auto seg = mmapx::sysv_shm::create(key, 4096);
    id = seg.id();
    kept = seg.attach();
  }  // the creator went: marked for removal
  kept.data()[0] = std::byte{1};  // still attached and usable
  std::error_code ec;
  mmapx::sysv_shm::open(key, ec);  // the key is free again
  CHECK(ec == std::errc::no_such_file_or_directory);
  auto still = mmapx::sysv_shm::open_id(id);  // the id still works until the last detach
  CHECK(still.attachments() == 1);
  kept.unmap();
  mmapx::sysv_shm::open_id(id, ec);
  CHECK(ec == std::errc::invalid_argument);  // gone

  // keep(): the segment outlives its creator until someone removes it
  auto seg = mmapx::sysv_shm::create(key, 4096);
  seg.keep();
  const int kept_id = seg.id();
  seg = mmapx::sysv_shm{};
  auto found = mmapx::sysv_shm::open(key);
  CHECK(found.id() == kept_id);
  found.remove();
  mmapx::sysv_shm::open(key, ec);
  CHECK(ec == std::errc::no_such_file_or_directory);
}

TEST_CASE("sysv_shm: permissions", "[sysv_shm]") {
  const key_t key = unique_key();
  const mode_t old_mask = ::umask(077);
  auto seg = mmapx::sysv_shm::create(key, 4096, {.permissions = 0640});
  ::umask(old_mask);
  ::shmid_ds ds{};
  REQUIRE(::shmctl(seg.id(), IPC_STAT, &ds) == 0);
  CHECK((ds.shm_perm.mode & 0777) == 0640);  // exactly, umask does not apply

  auto ro = seg.attach<mmapx::access::read>();
  CHECK(ro.size() == 4096);
  if (::geteuid() == 0) {
    // someone else, without permission
    CHECK(in_child([&] {
            if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 3;
            std::error_code ec;
            auto other = mmapx::sysv_shm::open_id(seg.id(), ec);
            if (ec != std::errc::permission_denied || other.id() != -1) return 4;
            auto by_key = mmapx::sysv_shm::open(key);  // shmget asks for no rights: it works
            auto r = by_key.attach(ec);                 // attaching does not
            return ec == std::errc::permission_denied && !r.is_mapped() ? 0 : 5;
          }) == 0);
  }
}

TEST_CASE("sysv_shm: IPC_PRIVATE makes a new segment every time", "[sysv_shm]") {
  auto a = mmapx::sysv_shm::create(IPC_PRIVATE, 4096);
  auto b = mmapx::sysv_shm::create(IPC_PRIVATE, 4096);
  CHECK(a.id() != b.id());
  auto moved = std::move(a);
  CHECK(a.id() == -1);
  CHECK(moved.owns());
}

TEST_CASE("sysv_shm: bad input", "[sysv_shm][errors]") {
  const key_t key = unique_key();
  auto seg = mmapx::sysv_shm::create(key, 4096);
  std::error_code ec;
  auto twice = mmapx::sysv_shm::create(key, 4096, {}, ec);
  CHECK(ec == std::errc::file_exists);
  CHECK(twice.id() == -1);
  CHECK_THROWS_AS(mmapx::sysv_shm::create(key, 4096), std::system_error);

  mmapx::sysv_shm::create(unique_key(), 0, {}, ec);
  CHECK(ec == std::errc::invalid_argument);
  const std::size_t max = shmmax();
  REQUIRE(max > 0);
  if (max < SIZE_MAX) {
    mmapx::sysv_shm::create(unique_key(), max + 1, {}, ec);
    CHECK(ec == std::errc::invalid_argument);
  }
  mmapx::sysv_shm::create(unique_key(), SIZE_MAX, {}, ec);
  CHECK(ec == std::errc::invalid_argument);

  mmapx::sysv_shm::open(unique_key(), ec);
  CHECK(ec == std::errc::no_such_file_or_directory);
  mmapx::sysv_shm::open(IPC_PRIVATE, ec);
  CHECK(ec == std::errc::invalid_argument);
  mmapx::sysv_shm::open_id(-1, ec);
  CHECK(ec == std::errc::invalid_argument);
  mmapx::sysv_shm::open_id(0x7ffffff0, ec);
  CHECK(ec == std::errc::invalid_argument);

  mmapx::sysv_shm none;
  none.attach(ec);
  CHECK(ec == mmapx::errc::not_mapped);
  (void)none.size(ec);
  CHECK(ec == mmapx::errc::not_mapped);
  none.remove(ec);
  CHECK(ec == mmapx::errc::not_mapped);

  auto r = seg.attach();
  r.resize(8192, {}, ec);
  CHECK(ec == std::errc::operation_not_supported);
  CHECK(r.size() == 4096);
}
