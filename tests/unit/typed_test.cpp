// Unit tests: typed views.
#include <algorithm>
#include <numeric>
#include <ranges>

#include <mmapx/anonymous.hpp>
#include <mmapx/file.hpp>
#include <mmapx/typed.hpp>

#include "catch.hpp"
#include "test_support.hpp"

using namespace mmapx;
using mmapx_test::temp_dir;

namespace {
struct header {
  std::uint32_t magic;
  std::uint32_t count;
};
struct record {
  std::uint64_t id;
  double value;
};
struct with_ctor {
  with_ctor() : x(1) {}
  int x;
};
struct with_virtual {
  virtual ~with_virtual() = default;
};
}  // namespace

static_assert(mappable<header>);
static_assert(mappable<std::uint64_t>);
static_assert(mappable<record[4]>);
static_assert(!mappable<std::string>);
static_assert(!mappable<with_virtual>);
static_assert(!mappable<with_ctor>);  // a user constructor: not implicit-lifetime
static_assert(!mappable<int&>);
static_assert(std::ranges::contiguous_range<mapped_array<record>>);
static_assert(std::ranges::view<mapped_array<const record>>);
static_assert(std::is_same_v<decltype(view<header>(std::declval<ro_region&>())), mapped<const header>>);
static_assert(std::is_same_v<decltype(view<header>(std::declval<rw_region&>())), mapped<header>>);
static_assert(std::is_same_v<decltype(view<header>(std::declval<cow_region&>())), mapped<header>>);
static_assert(std::is_same_v<decltype(view_array<record>(std::declval<const rw_region&>())), mapped_array<const record>>);

TEST_CASE("typed views read and write through to the file", "[typed]") {
  temp_dir dir;
  const auto p = dir / "records";
  {
    auto w = map_file<access::read_write>(p, {.open = open_mode::create, .size = sizeof(header) + 10 * sizeof(record)});
    auto h = view<header>(w);
    h->magic = 0xfeedbeef;
    h->count = 10;
    auto recs = view_array<record>(w, sizeof(header));
    CHECK(recs.size() == 10);
    for (std::size_t i = 0; i < recs.size(); ++i) recs[i] = {i, static_cast<double>(i) / 2};
    w.flush(flush_level::durable);
  }
  auto r = map_file(p);
  auto h = view<header>(r);
  CHECK(h->magic == 0xfeedbeef);
  auto recs = view_array<record>(r, sizeof(header), h->count);
  std::uint64_t expected_id = 0;
  for (const record& rec : recs) CHECK(rec.id == expected_id++);  // range-for over the view
  CHECK(expected_id == 10);
  CHECK(recs.back().value == 4.5);
  std::span<const record> s = recs;
  CHECK(s.size() == 10);
}

TEST_CASE("view_array takes as many elements as fit by default", "[typed]") {
  auto r = map_anonymous(4096 + 5);
  CHECK(view_array<std::uint64_t>(r).size() == 512);
  CHECK(view_array<std::uint64_t>(r, 8).size() == 511);
  CHECK(view_array<std::uint8_t>(r, 4096).size() == 5);
  CHECK(view_array<std::uint8_t>(r, 4096 + 5).empty());
  std::error_code ec;
  (void)view_array<std::uint8_t>(r, 4096 + 6, ec);
  CHECK(ec == errc::view_too_large);
}

TEST_CASE("views over an unaligned file offset check the real address", "[typed]") {
  temp_dir dir;
  mmapx_test::write_file(dir / "f", std::string(64, '\0'));
  auto r = map_file(dir / "f", {.offset = 4});  // data() is base + 4
  std::error_code ec;
  (void)view<std::uint64_t>(r, 0, ec);
  CHECK(ec == errc::view_misaligned);
  (void)view<std::uint64_t>(r, 4, ec);
  CHECK_FALSE(ec);
}

TEST_CASE("a sum through mapped_array equals the raw loop", "[typed]") {
  auto r = map_anonymous(1 << 16);
  auto a = view_array<std::uint64_t>(r);
  std::iota(a.begin(), a.end(), 1ULL);
  const std::uint64_t n = a.size();
  CHECK(std::accumulate(a.begin(), a.end(), 0ULL) == n * (n + 1) / 2);
}
