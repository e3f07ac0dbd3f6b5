// populate_bench: which population strategy gets a fresh mapping into use
// fastest? One iteration maps 256 MiB, applies the strategy, touches every
// 4 KiB page once and unmaps, so the figure is the whole cost a program pays
// from mmap to "every page usable".
//
//   anonymous (private, each page written once): lazy faults, MAP_POPULATE,
//     will_need advice, populate_write advice (MADV_POPULATE_WRITE),
//     mlock, transparent huge pages (lazy; MAP_POPULATE; populate_write advice
//     after the huge-page advice), explicit 2 MiB huge pages;
//   file (shared, read-only, already in the page cache, each page read once):
//     lazy faults, MAP_POPULATE, will_need advice, populate_read advice
//     (MADV_POPULATE_READ), transparent huge pages.
//
// Explicit huge pages need a reserved pool (/proc/sys/vm/nr_hugepages of at
// least 128); without one that benchmark reports an error and is skipped.
// The counter huge_kib says how much of one touched mapping the kernel really
// backed with huge pages (from /proc/self/smaps_rollup), so a THP figure that
// got no huge pages is visible as such. Files go to $MMAPX_BENCH_DIR
// (default: /var/tmp).
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <system_error>

#include <mmapx/mmapx.hpp>

namespace {

constexpr std::size_t touch_bytes = std::size_t{256} << 20;
constexpr std::size_t touch_stride = 4096;

struct strategy {
  const char* name;
  mmapx::map_options map;
  std::optional<mmapx::advice> advice;
};

/// The file every file benchmark maps: 256 MiB of non-zero data, written and
/// synced once per process (so it sits clean in the page cache), removed at exit.
const std::filesystem::path& touch_file() {
  const char* dir = std::getenv("MMAPX_BENCH_DIR");
  static const std::filesystem::path path = std::filesystem::path(dir != nullptr ? dir : "/var/tmp") /
                                            ("mmapx-populate-" + std::to_string(::getpid()));
  // Registered after `path` exists, so the removal runs before its destructor.
  static const bool written = [] {
    auto r = mmapx::map_file<mmapx::access::read_write>(
        path, {.open = mmapx::open_mode::truncate, .size = touch_bytes});
    std::atexit([] { std::filesystem::remove(path); });
    std::memset(r.data(), 0x5a, r.size());
    r.flush(mmapx::flush_level::sync);
    return true;
  }();
  static_cast<void>(written);
  return path;
}

/// KiB of huge pages (anonymous THP, PMD-mapped file pages, hugetlb) now mapped in this process.
long huge_kib_mapped() {
  std::ifstream rollup("/proc/self/smaps_rollup");
  long total = 0;
  for (std::string line; std::getline(rollup, line);) {
    for (const char* key : {"AnonHugePages:", "FilePmdMapped:", "Private_Hugetlb:", "Shared_Hugetlb:"}) {
      if (line.starts_with(key)) total += std::strtol(line.c_str() + std::strlen(key), nullptr, 10);
    }
  }
  return total;
}

void touch_writing(std::byte* p) {
  for (std::size_t i = 0; i < touch_bytes; i += touch_stride) p[i] = std::byte{1};
  benchmark::ClobberMemory();
}

std::uint64_t touch_reading(const std::byte* p) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < touch_bytes; i += touch_stride) sum += static_cast<std::uint64_t>(p[i]);
  return sum;
}

template <class Region>
void apply(benchmark::State& state, Region& r, const strategy& s) {
  if (!s.advice) return;
  std::error_code ec;
  r.advise(*s.advice, ec);
  if (ec) state.SkipWithError(ec.message().c_str());
}

/// One mapping, populated by strategy `s` and touched; nullopt (and the
/// benchmark skipped) when the strategy is not available here.
std::optional<mmapx::rw_region> touched_anonymous(benchmark::State& state, const strategy& s) {
  std::error_code ec;
  auto r = mmapx::map_anonymous(touch_bytes, {.map = s.map}, ec);
  if (ec) {
    state.SkipWithError(ec.message().c_str());
    return std::nullopt;
  }
  apply(state, r, s);
  touch_writing(r.data());
  return r;
}

std::optional<mmapx::ro_region> touched_file(benchmark::State& state, const strategy& s) {
  std::error_code ec;
  auto r = mmapx::map_file(touch_file(), {.map = s.map}, ec);
  if (ec) {
    state.SkipWithError(ec.message().c_str());
    return std::nullopt;
  }
  apply(state, r, s);
  benchmark::DoNotOptimize(touch_reading(r.data()));
  return r;
}

/// Runs the timed loop, then (untimed) touches one more mapping and counts
/// how much of it the kernel backed with huge pages.
template <class Touch>
void first_touch(benchmark::State& state, const strategy& s, Touch touched) {
  for (auto _ : state) {
    if (!touched(state, s)) break;
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * touch_bytes));
  if (state.error_occurred()) return;
  const long before = huge_kib_mapped();
  const auto r = touched(state, s);
  state.counters["huge_kib"] = static_cast<double>(huge_kib_mapped() - before);
}

void first_touch_anonymous(benchmark::State& state, strategy s) { first_touch(state, s, touched_anonymous); }

void first_touch_file(benchmark::State& state, strategy s) {
  touch_file();  // created before the clock starts
  first_touch(state, s, touched_file);
}

using mmapx::advice;
using mmapx::huge_pages;

const strategy anonymous_strategies[] = {
    {"lazy", {}, {}},
    {"populate", {.populate = true}, {}},
    {"will_need", {}, advice::will_need},
    {"populate_write", {}, advice::populate_write},
    {"thp", {.huge = huge_pages::transparent}, {}},
    {"thp_populate", {.populate = true, .huge = huge_pages::transparent}, {}},
    {"thp_populate_write", {.huge = huge_pages::transparent}, advice::populate_write},
    {"lock", {.lock = true}, {}},
    {"explicit_2m", {.huge = huge_pages::explicit_2m}, {}},
};

const strategy file_strategies[] = {
    {"lazy", {}, {}},
    {"populate", {.populate = true}, {}},
    {"will_need", {}, advice::will_need},
    {"populate_read", {}, advice::populate_read},
    {"thp", {.huge = huge_pages::transparent}, {}},
};

}  // namespace

int main(int argc, char** argv) {
  for (const auto& s : anonymous_strategies) {
    benchmark::RegisterBenchmark((std::string("first_touch/anonymous/") + s.name).c_str(),
                                 first_touch_anonymous, s)
        ->Unit(benchmark::kMillisecond);
  }
  for (const auto& s : file_strategies) {
    benchmark::RegisterBenchmark((std::string("first_touch/file/") + s.name).c_str(), first_touch_file, s)
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
