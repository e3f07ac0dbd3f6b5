// bench/kmod_cache_bench.cpp - what the cache type of memory costs: read,
// write and copy throughput on the reference kernel module's cached,
// uncached and write-combining buffers, with anonymous memory as baseline.
//
// Needs the module loaded (kmod/README.md says how). Without /dev/mmapx0
// every module case is reported as skipped and only the baseline runs.
// Under QEMU's software emulation (the VM tests) caches are not modelled:
// there all modes run at the same speed and the figures only prove that each
// mode works. Real numbers need real hardware.
#include <benchmark/benchmark.h>

#include <mmapx/anonymous.hpp>
#include <mmapx/kmod.hpp>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace kmod = mmapx::kmod;

constexpr std::size_t fallback_size = 64 * 1024;

struct target {
  std::string name;
  std::byte* data = nullptr;
  std::size_t size = 0;
};

// Kept alive for the whole run: the benchmarks point into them.
std::optional<kmod::device> device;
std::vector<mmapx::rw_region> regions;
std::string skip_reason;

void bench_read(benchmark::State& state, const target& t) {
  for (auto _ : state) {
    std::uint64_t sum = 0;
    const auto* words = reinterpret_cast<const volatile std::uint64_t*>(t.data);
    for (std::size_t i = 0; i < t.size / sizeof(std::uint64_t); ++i) sum += words[i];
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * t.size));
}

void bench_write(benchmark::State& state, const target& t) {
  std::uint64_t value = 0;
  for (auto _ : state) {
    auto* words = reinterpret_cast<volatile std::uint64_t*>(t.data);
    for (std::size_t i = 0; i < t.size / sizeof(std::uint64_t); ++i) words[i] = value + i;
    ++value;
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * t.size));
}

void bench_copy(benchmark::State& state, const target& t, bool into) {
  std::vector<std::byte> local(t.size, std::byte{1});
  for (auto _ : state) {
    if (into) std::memcpy(t.data, local.data(), t.size);
    else std::memcpy(local.data(), t.data, t.size);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * t.size));
}

void skipped(benchmark::State& state) {
  for (auto _ : state) {
  }
  state.SkipWithError(skip_reason.c_str());
}

void register_target(const target& t) {
  benchmark::RegisterBenchmark(("read/" + t.name).c_str(), bench_read, t);
  benchmark::RegisterBenchmark(("write/" + t.name).c_str(), bench_write, t);
  benchmark::RegisterBenchmark(("copy_in/" + t.name).c_str(), bench_copy, t, true);
  benchmark::RegisterBenchmark(("copy_out/" + t.name).c_str(), bench_copy, t, false);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);

  std::error_code ec;
  auto dev = kmod::device::open(kmod::device_path(0), ec);
  const std::size_t size = ec ? fallback_size : static_cast<std::size_t>(dev.info().buffer_size);

  auto anonymous = mmapx::map_anonymous(size);
  std::memset(anonymous.data(), 0, size);
  register_target({"anonymous", anonymous.data(), size});

  const std::pair<kmod::cache_mode, const char*> modes[] = {
      {kmod::cache_mode::cached, "cached"},
      {kmod::cache_mode::uncached, "uncached"},
      {kmod::cache_mode::write_combining, "write_combining"},
  };
  if (ec) {
    skip_reason = "no module: " + ec.message() + " (" + kmod::device_path(0) + ")";
    for (const auto& [mode, name] : modes) {
      benchmark::RegisterBenchmark((std::string("read/") + name).c_str(), skipped);
    }
  } else {
    for (const auto& [mode, name] : modes) {
      regions.push_back(dev.map({.index = 0, .cache = mode, .method = kmod::map_method::eager}));
      register_target({name, regions.back().data(), size});
    }
    device = std::move(dev);
  }
  benchmark::AddCustomContext("emulation_note",
                              "under QEMU TCG caches are not modelled: all modes run alike");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  regions.clear();
  return 0;
}
