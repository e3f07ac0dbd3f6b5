// flush_bench: what each flush level costs for 1 MiB of dirty pages of a
// shared file mapping, next to the same syscalls written by hand.
//
//   async    region::flush(flush_level::async)    msync(MS_ASYNC)
//   sync     region::flush(flush_level::sync)     msync(MS_SYNC)
//   durable  region::flush(flush_level::durable)  msync(MS_SYNC) + fdatasync
//
// Each iteration first writes one byte into each of the 256 pages (timing
// paused), then flushes. Wall time is reported (UseRealTime): sync and durable
// spend it waiting for the disk, not on the CPU. The file lives in
// $MMAPX_BENCH_DIR (default: /var/tmp), so the figures are those of that
// file system and disk.
#include <sys/mman.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <mmapx/mmapx.hpp>

namespace {

constexpr std::size_t dirty_bytes = std::size_t{1} << 20;

/// A 1 MiB file, mapped read-write; created once per process, removed at exit.
mmapx::rw_region& flush_region() {
  static mmapx::rw_region r = [] {
    const char* dir = std::getenv("MMAPX_BENCH_DIR");
    static const std::filesystem::path path = std::filesystem::path(dir != nullptr ? dir : "/var/tmp") /
                                              ("mmapx-flush-" + std::to_string(::getpid()));
    std::atexit([] { std::filesystem::remove(path); });
    return mmapx::map_file<mmapx::access::read_write>(
        path, {.open = mmapx::open_mode::truncate, .size = dirty_bytes,
               .reserve = mmapx::reserve_space::whole_range});
  }();
  return r;
}

void dirty_every_page(benchmark::State& state, std::byte* p, std::uint8_t round) {
  state.PauseTiming();
  for (std::size_t i = 0; i < dirty_bytes; i += 4096) p[i] = std::byte{round};
  benchmark::ClobberMemory();
  state.ResumeTiming();
}

void flush_mmapx(benchmark::State& state, mmapx::flush_level level) {
  auto& r = flush_region();
  std::uint8_t round = 0;
  for (auto _ : state) {
    dirty_every_page(state, r.data(), ++round);
    r.flush(level);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * dirty_bytes));
}

void flush_raw(benchmark::State& state, mmapx::flush_level level) {
  auto& r = flush_region();
  const int how = level == mmapx::flush_level::async ? MS_ASYNC : MS_SYNC;
  std::uint8_t round = 0;
  for (auto _ : state) {
    dirty_every_page(state, r.data(), ++round);
    if (::msync(r.data(), dirty_bytes, how) != 0) state.SkipWithError("msync failed");
    if (level == mmapx::flush_level::durable && ::fdatasync(r.native_handle()) != 0) {
      state.SkipWithError("fdatasync failed");
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * dirty_bytes));
}

}  // namespace

int main(int argc, char** argv) {
  const std::pair<const char*, mmapx::flush_level> levels[] = {
      {"async", mmapx::flush_level::async},
      {"sync", mmapx::flush_level::sync},
      {"durable", mmapx::flush_level::durable},
  };
  for (const auto& [name, level] : levels) {
    benchmark::RegisterBenchmark((std::string("flush_raw/") + name).c_str(), flush_raw, level)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark((std::string("flush_mmapx/") + name).c_str(), flush_mmapx, level)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
