// core_bench: what the core abstraction costs, side by side with raw code.
//
//   map+unmap: mmapx::map_file (open, fstat, mmap; destructor munmap, close)
//              vs the same syscalls written by hand, and vs Boost.Interprocess
//              (file_mapping + mapped_region) when Boost is found, for a 4 KiB
//              and a 1 GiB file;
//   sequential sum of 256 MiB of uint64_t: mapped_array range-for vs a raw
//              pointer loop over the same mapping;
//   random reads: 2^20 loads at pseudo-random indices of the same 256 MiB,
//              mapped_array operator[] vs a raw pointer, same index sequence.
//
// Files go to $MMAPX_BENCH_DIR (default: /var/tmp). The 1 GiB file is sparse:
// map+unmap does not touch its pages.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <bit>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <numeric>
#include <string>

#include <mmapx/mmapx.hpp>

#if MMAPX_BENCH_BOOST
#include <boost/interprocess/file_mapping.hpp>
#include <boost/interprocess/mapped_region.hpp>
#endif

namespace {

std::filesystem::path bench_dir() {
  const char* dir = std::getenv("MMAPX_BENCH_DIR");
  return dir != nullptr ? dir : "/var/tmp";
}

/// A file of `size` bytes (sparse), created once per process and removed at exit.
const std::filesystem::path& bench_file(std::size_t size) {
  static std::map<std::size_t, std::filesystem::path> files;
  auto& p = files[size];
  if (p.empty()) {
    p = bench_dir() / ("mmapx-bench-" + std::to_string(::getpid()) + "-" + std::to_string(size));
    mmapx::map_file<mmapx::access::read_write>(p, {.open = mmapx::open_mode::truncate, .size = size,
                                                   .reserve = mmapx::reserve_space::none});
    std::atexit([] {
      for (auto& [s, path] : files) std::filesystem::remove(path);
    });
  }
  return p;
}

void map_unmap_mmapx(benchmark::State& state) {
  const auto& path = bench_file(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    auto r = mmapx::map_file(path);
    benchmark::DoNotOptimize(r.data());
  }
}

void map_unmap_raw(benchmark::State& state) {
  const auto& path = bench_file(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0) state.SkipWithError("open/fstat failed");
    void* p = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) state.SkipWithError("mmap failed");
    benchmark::DoNotOptimize(p);
    ::munmap(p, static_cast<std::size_t>(st.st_size));
    ::close(fd);
  }
}

#if MMAPX_BENCH_BOOST
void map_unmap_boost(benchmark::State& state) {
  namespace bip = boost::interprocess;
  const auto& path = bench_file(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    bip::file_mapping file(path.c_str(), bip::read_only);
    bip::mapped_region r(file, bip::read_only);
    benchmark::DoNotOptimize(r.get_address());
  }
}
#endif

constexpr std::size_t sum_bytes = 256u << 20;

/// 256 MiB of anonymous memory filled with 1..n, shared by both sum benchmarks.
mmapx::rw_region& sum_region() {
  static mmapx::rw_region r = [] {
    auto m = mmapx::map_anonymous(sum_bytes, {.map = {.populate = true}});
    auto a = mmapx::view_array<std::uint64_t>(m);
    std::iota(a.begin(), a.end(), 1ULL);
    return m;
  }();
  return r;
}

void sum_mapped_array(benchmark::State& state) {
  const auto a = mmapx::view_array<std::uint64_t>(std::as_const(sum_region()));
  for (auto _ : state) {
    std::uint64_t sum = 0;
    for (std::uint64_t v : a) sum += v;
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * sum_bytes));
}

void sum_raw_pointer(benchmark::State& state) {
  const auto* p = reinterpret_cast<const std::uint64_t*>(std::as_const(sum_region()).data());
  const std::size_t n = sum_bytes / sizeof(std::uint64_t);
  for (auto _ : state) {
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += p[i];
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * sum_bytes));
}

constexpr std::size_t random_reads = std::size_t{1} << 20;

/// The index sequence both random-read benchmarks follow: a 64-bit LCG
/// (Knuth's MMIX constants), its high bits masked to the array length.
struct lcg_indices {
  std::uint64_t state = 0x9e3779b97f4a7c15ULL;
  std::size_t mask;
  std::size_t next() noexcept {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::size_t>(state >> 32) & mask;
  }
};
static_assert(std::has_single_bit(sum_bytes / sizeof(std::uint64_t)), "the mask needs a power of two");

void random_mapped_array(benchmark::State& state) {
  const auto a = mmapx::view_array<std::uint64_t>(std::as_const(sum_region()));
  for (auto _ : state) {
    lcg_indices index{.mask = a.size() - 1};
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < random_reads; ++i) sum += a[index.next()];
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * random_reads * sizeof(std::uint64_t)));
}

void random_raw_pointer(benchmark::State& state) {
  const auto* p = reinterpret_cast<const std::uint64_t*>(std::as_const(sum_region()).data());
  const std::size_t n = sum_bytes / sizeof(std::uint64_t);
  for (auto _ : state) {
    lcg_indices index{.mask = n - 1};
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < random_reads; ++i) sum += p[index.next()];
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * random_reads * sizeof(std::uint64_t)));
}

}  // namespace

// Interleaved pairs, so both sides of a comparison see the same machine state.
BENCHMARK(map_unmap_raw)->Arg(4096)->Arg(1 << 30);
BENCHMARK(map_unmap_mmapx)->Arg(4096)->Arg(1 << 30);
#if MMAPX_BENCH_BOOST
BENCHMARK(map_unmap_boost)->Arg(4096)->Arg(1 << 30);
#endif
BENCHMARK(sum_raw_pointer)->Unit(benchmark::kMillisecond);
BENCHMARK(sum_mapped_array)->Unit(benchmark::kMillisecond);
BENCHMARK(random_raw_pointer)->Unit(benchmark::kMillisecond);
BENCHMARK(random_mapped_array)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
