// reg_bench: register access through typed register maps vs the volatile
// pointer code a driver writer would write by hand, on plain memory (the
// same instructions run against a device; here the memory is a cached page,
// so the figure is the instruction cost alone).
//
// Each iteration makes 1024 accesses of one kind:
//   read32    whole-register load
//   write32   whole-register store
//   modify    read-modify-write of one field (one load, one store)
//   w1c       clear one write-1-to-clear flag without clearing the others
//   write64   64-bit register on a bus that takes only 32-bit accesses
//             (two stores, low half first)
// tests/codegen shows the two sides compile to the same instructions; this
// shows that the same instructions also run at the same speed.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>

#include <mmapx/mmapx.hpp>
#include <mmapx/reg.hpp>

namespace {

namespace reg = mmapx::reg;

// A timer-like block: a control register with rw fields, a status register
// mixing w1c flags with an rw enable, and a 64-bit compare value behind a
// 32-bit bus.
struct control : reg::reg32<"control", 0x00, reg::rw, 0> {
  using run      = reg::field<"run",      0, 1>;
  using divider  = reg::field<"divider",  4, 4>;
  using channel  = reg::field<"channel",  8, 3>;
  using fields = reg::fields<run, divider, channel>;
};
struct events : reg::reg32<"events", 0x04, reg::rw, 0> {
  using overflow = reg::field<"overflow", 0, 1, reg::w1c>;
  using matched  = reg::field<"matched",  1, 1, reg::w1c>;
  using notify   = reg::field<"notify",  16, 1, reg::rw>;
  using fields = reg::fields<overflow, matched, notify>;
};
using compare = reg::reg64<"compare", 0x08, reg::rw, 0>;
using timer = reg::map<"timer", 0x1000, reg::contract{reg::w32, reg::lo_hi}, control, events, compare>;

constexpr int accesses = 1024;

/// One page of anonymous memory standing in for the device's registers.
mmapx::rw_region& registers() {
  static mmapx::rw_region r = mmapx::map_anonymous(0x1000, {.map = {.populate = true}});
  return r;
}

volatile std::uint32_t& at32(std::byte* base, std::size_t offset) {
  return *reinterpret_cast<volatile std::uint32_t*>(base + offset);
}

template <class F>
void run(benchmark::State& state, F&& access) {
  for (auto _ : state) {
    for (int i = 0; i < accesses; ++i) access(static_cast<std::uint32_t>(i));
  }
  state.SetItemsProcessed(state.iterations() * accesses);
}

void read32_typed(benchmark::State& state) {
  const auto dev = reg::bind<timer>(registers().bytes());
  std::uint32_t sum = 0;
  run(state, [&](std::uint32_t) { sum += dev.read<control>(); });
  benchmark::DoNotOptimize(sum);
}
void read32_volatile(benchmark::State& state) {
  std::byte* base = registers().data();
  std::uint32_t sum = 0;
  run(state, [&](std::uint32_t) { sum += at32(base, 0x00); });
  benchmark::DoNotOptimize(sum);
}

void write32_typed(benchmark::State& state) {
  const auto dev = reg::bind<timer>(registers().bytes());
  run(state, [&](std::uint32_t i) { dev.write<control>(i); });
}
void write32_volatile(benchmark::State& state) {
  std::byte* base = registers().data();
  run(state, [&](std::uint32_t i) { at32(base, 0x00) = i; });
}

void modify_typed(benchmark::State& state) {
  const auto dev = reg::bind<timer>(registers().bytes());
  run(state, [&](std::uint32_t i) { dev.modify(control::divider::truncated(i)); });
}
void modify_volatile(benchmark::State& state) {
  std::byte* base = registers().data();
  run(state, [&](std::uint32_t i) {
    const std::uint32_t bits = (i & 0xfu) << 4;
    at32(base, 0x00) = (at32(base, 0x00) & ~0xf0u) | bits;
  });
}

void w1c_typed(benchmark::State& state) {
  const auto dev = reg::bind<timer>(registers().bytes());
  run(state, [&](std::uint32_t) { dev.modify(events::overflow::val<1>); });
}
void w1c_volatile(benchmark::State& state) {
  std::byte* base = registers().data();
  run(state, [&](std::uint32_t) {
    const std::uint32_t v = at32(base, 0x04);
    at32(base, 0x04) = (v & ~0x3u) | 0x1u;
  });
}

void write64_typed(benchmark::State& state) {
  const auto dev = reg::bind<timer>(registers().bytes());
  run(state, [&](std::uint32_t i) { dev.write<compare>(std::uint64_t{i} * 0x100000001ULL); });
}
void write64_volatile(benchmark::State& state) {
  std::byte* base = registers().data();
  run(state, [&](std::uint32_t i) {
    const std::uint64_t v = std::uint64_t{i} * 0x100000001ULL;
    at32(base, 0x08) = static_cast<std::uint32_t>(v);
    at32(base, 0x0c) = static_cast<std::uint32_t>(v >> 32);
  });
}

}  // namespace

BENCHMARK(read32_volatile);
BENCHMARK(read32_typed);
BENCHMARK(write32_volatile);
BENCHMARK(write32_typed);
BENCHMARK(modify_volatile);
BENCHMARK(modify_typed);
BENCHMARK(w1c_volatile);
BENCHMARK(w1c_typed);
BENCHMARK(write64_volatile);
BENCHMARK(write64_typed);

BENCHMARK_MAIN();
