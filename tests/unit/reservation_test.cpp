// Reserved address space: placing file windows, anonymous memory and memfds
// at chosen offsets, two files read as one span, the PROT_NONE placeholder
// that comes back after unmap (checked in /proc/self/maps), lifetimes in
// either order, and bad offsets, sizes and regions.
#include <catch.hpp>
#include "test_support.hpp"

#include <mmapx/anonymous.hpp>
#include <mmapx/file.hpp>
#include <mmapx/memfd.hpp>
#include <mmapx/reservation.hpp>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using mmapx_test::temp_dir;

/// Column `column` (0: range, 1: permissions, 5: path) of the
/// /proc/self/maps line covering `p`, or "" when nothing is mapped there.
std::string maps_column(const void* p, int column) {
  std::ifstream maps("/proc/self/maps");
  const auto addr = reinterpret_cast<std::uintptr_t>(p);
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::uintptr_t from = 0, to = 0;
    char dash = 0;
    in >> std::hex >> from >> dash >> to;
    if (addr < from || addr >= to) continue;
    std::string field;
    for (int i = 0; i < column && in >> field; ++i) {
    }
    return field;
  }
  return "";
}
std::string maps_perms(const void* p) { return maps_column(p, 1); }
std::string maps_path(const void* p) { return maps_column(p, 5); }

const std::size_t pg = mmapx::page_size();

}  // namespace

TEST_CASE("reservation: PROT_NONE addresses, aligned as asked", "[reservation]") {
  auto space = mmapx::reservation::create(3 * pg + 1);
  CHECK(space.size() == 4 * pg);
  CHECK(maps_perms(space.data()) == "---p");
  CHECK(maps_perms(space.data() + space.size() - 1) == "---p");

  auto aligned = mmapx::reservation::create(pg, std::size_t{1} << 21);
  CHECK(reinterpret_cast<std::uintptr_t>(aligned.data()) % (std::size_t{1} << 21) == 0);
}

TEST_CASE("reservation: two files' first pages read as one contiguous span", "[reservation]") {
  temp_dir dir;
  mmapx_test::write_file(dir / "a", mmapx_test::pattern(3 * pg, 1));
  mmapx_test::write_file(dir / "b", mmapx_test::pattern(2 * pg, 2));
  auto space = mmapx::reservation::create(2 * pg);
  auto a = space.place(0, mmapx::map_file(dir / "a", {.length = pg}));
  auto b = space.place(pg, mmapx::map_file(dir / "b", {.length = pg}));
  CHECK(a.data() == space.data());
  CHECK(b.data() == space.data() + pg);
  const std::string joined(reinterpret_cast<const char*>(space.data()), 2 * pg);
  CHECK(joined == mmapx_test::pattern(3 * pg, 1).substr(0, pg) + mmapx_test::pattern(2 * pg, 2).substr(0, pg));
  CHECK(maps_path(space.data()) == (dir / "a").string());
  CHECK(maps_path(space.data() + pg) == (dir / "b").string());
}

TEST_CASE("reservation: unmapping a placed region puts the placeholder back", "[reservation]") {
  auto space = mmapx::reservation::create(4 * pg);
  auto mem = space.commit(pg, 2 * pg);
  CHECK(mem.data() == space.data() + pg);
  CHECK(maps_perms(mem.data()) == "rw-p");
  std::memset(mem.data(), 0x5a, mem.size());
  auto* where = mem.data();
  mem.unmap();
  CHECK_FALSE(mem.is_mapped());
  CHECK(maps_perms(where) == "---p");
  CHECK(maps_perms(where + pg) == "---p");

  {  // the destructor does the same
    auto again = space.commit(pg, pg);
    CHECK(again.data()[0] == std::byte{0});  // decommitted pages come back zeroed
  }
  CHECK(maps_perms(where) == "---p");
  // the same range can be placed again
  auto third = space.place(pg, mmapx::map_memfd("placed", 2 * pg));
  CHECK(third.data() == where);
  CHECK(maps_perms(where) == "rw-s");
}

TEST_CASE("reservation: placed memfd shares pages with another mapping of it", "[reservation]") {
  auto space = mmapx::reservation::create(2 * pg);
  auto outside = mmapx::map_memfd("shared", pg);
  auto inside = space.place(pg, mmapx::map_fd<mmapx::access::read_write>(outside.native_handle(), {}));
  outside.data()[7] = std::byte{42};
  CHECK(inside.data()[7] == std::byte{42});
  CHECK(inside.data() == space.data() + pg);
}

TEST_CASE("reservation: unaligned file window keeps its offset within the page", "[reservation]") {
  temp_dir dir;
  mmapx_test::write_file(dir / "f", mmapx_test::pattern(2 * pg, 3));
  auto space = mmapx::reservation::create(2 * pg);
  auto w = space.place(0, mmapx::map_file(dir / "f", {.offset = 100, .length = 50}));
  CHECK(w.data() == space.data() + 100);
  CHECK(std::memcmp(w.data(), mmapx_test::pattern(2 * pg, 3).data() + 100, 50) == 0);
}

TEST_CASE("reservation: either may outlive the other", "[reservation]") {
  std::byte* where = nullptr;
  {
    mmapx::rw_region kept;
    {
      auto space = mmapx::reservation::create(2 * pg);
      where = space.data();
      kept = space.commit(pg, pg);
    }
    // the reservation is gone; the region and the rest of the range stay
    kept.data()[0] = std::byte{1};
    CHECK(maps_perms(where) == "---p");
    CHECK(maps_perms(kept.data()) == "rw-p");
  }
  // the last holder went: the whole range is unmapped
  CHECK(maps_perms(where) == "");
  CHECK(maps_perms(where + pg) == "");
}

TEST_CASE("reservation: placing from several threads", "[reservation]") {
  constexpr int threads = 4;
  constexpr int rounds = 50;
  auto space = mmapx::reservation::create(threads * pg);
  std::vector<std::thread> pool;
  std::vector<int> failures(threads, 0);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < rounds; ++i) {
        std::error_code ec;
        auto r = space.commit(static_cast<std::size_t>(t) * pg, pg, ec);
        if (ec || r.data() != space.data() + t * pg) ++failures[t];
        else r.data()[0] = std::byte{static_cast<unsigned char>(t)};
      }
    });
  }
  for (auto& th : pool) th.join();
  for (int t = 0; t < threads; ++t) CHECK(failures[t] == 0);
  CHECK(maps_perms(space.data()) == "---p");
}

TEST_CASE("reservation: bad input", "[reservation][errors]") {
  std::error_code ec;
  auto none = mmapx::reservation::create(0, 0, ec);
  CHECK(ec == std::errc::invalid_argument);
  CHECK(none.data() == nullptr);
  mmapx::reservation::create(pg, 3 * pg, ec);
  CHECK(ec == std::errc::invalid_argument);
  mmapx::reservation::create(pg, 64, ec);  // below the page size
  CHECK(ec == std::errc::invalid_argument);
  mmapx::reservation::create(SIZE_MAX, 0, ec);
  CHECK(ec == mmapx::errc::size_overflow);
  mmapx::reservation::create(SIZE_MAX - 2 * pg, std::size_t{1} << 30, ec);
  CHECK(ec == mmapx::errc::size_overflow);
  mmapx::reservation::create(std::size_t{1} << 62, 0, ec);  // more than the address space
  CHECK(ec == std::errc::not_enough_memory);

  auto space = mmapx::reservation::create(2 * pg);
  auto outside = [] { return mmapx::map_anonymous(pg); };

  auto r = outside();
  auto* before = r.data();
  auto placed = space.place(pg / 2, std::move(r), ec);
  CHECK(ec == std::errc::invalid_argument);
  CHECK(r.data() == before);  // left as it was
  CHECK_FALSE(placed.is_mapped());

  space.place(2 * pg, std::move(r), ec);
  CHECK(ec == mmapx::errc::range_outside_region);
  space.place(SIZE_MAX - pg + 1, std::move(r), ec);
  CHECK(ec == mmapx::errc::range_outside_region);
  auto big = mmapx::map_anonymous(3 * pg);
  space.place(0, std::move(big), ec);
  CHECK(ec == mmapx::errc::range_outside_region);
  CHECK(big.is_mapped());

  auto first = space.place(0, outside());
  auto two = mmapx::map_anonymous(2 * pg);
  space.place(0, std::move(two), ec);  // overlaps `first`
  CHECK(ec == mmapx::errc::placement_failed);
  CHECK(two.is_mapped());
  CHECK(maps_perms(space.data() + pg) == "---p");  // the free page stays reserved

  space.place(pg, std::move(first), ec);  // already placed
  CHECK(ec == std::errc::invalid_argument);
  CHECK(first.data() == space.data());

  mmapx::rw_region empty;
  space.place(pg, std::move(empty), ec);
  CHECK(ec == mmapx::errc::not_mapped);
  mmapx::reservation moved_from;
  moved_from.place(0, outside(), ec);
  CHECK(ec == mmapx::errc::not_mapped);
  space.commit(pg, 0, ec);
  CHECK(ec == std::errc::invalid_argument);
  space.commit(pg, SIZE_MAX, ec);  // cannot be rounded to pages
  CHECK(ec == std::errc::value_too_large);

  first.resize(pg / 2, {}, ec);  // a placed region keeps its place and size
  CHECK(ec == std::errc::operation_not_supported);
  CHECK_THROWS_AS(space.commit(0, pg), std::system_error);
}

TEST_CASE("reservation: a region split by protect on part of it", "[reservation]") {
  // Linux 6.17 and later move several VMAs in one mremap; older kernels
  // refuse with EFAULT after dropping the target's placeholder, which place()
  // then maps back. Either way nothing is lost and no hole is left.
  auto space = mmapx::reservation::create(3 * pg);
  auto r = mmapx::map_anonymous(2 * pg);
  r.data()[0] = std::byte{9};
  r.protect(mmapx::protection::read, pg, pg);
  std::error_code ec;
  auto placed = space.place(pg, std::move(r), ec);
  if (ec) {
    CHECK(ec == std::errc::bad_address);
    CHECK(r.data()[0] == std::byte{9});
    CHECK(maps_perms(space.data() + pg) == "---p");
    CHECK(maps_perms(space.data() + 2 * pg) == "---p");
  } else {
    CHECK(placed.data() == space.data() + pg);
    CHECK(placed.data()[0] == std::byte{9});
    CHECK(maps_perms(space.data() + 2 * pg) == "r--p");
    placed.unmap();
    CHECK(maps_perms(space.data() + pg) == "---p");
    CHECK(maps_perms(space.data() + 2 * pg) == "---p");
  }
  CHECK(maps_perms(space.data()) == "---p");
}
