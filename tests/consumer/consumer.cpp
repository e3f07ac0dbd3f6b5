// tests/consumer/consumer.cpp - the program every consumer project builds:
// what a user's first program does with an mmapx they did not build
// themselves. It maps a file, writes it, maps it again read-only, and drives
// a register map on mapped memory; it also checks that the version its build
// system found is the version the headers declare.
//
//   consumer <scratch directory> <version the build system reported>
#include <mmapx/devices/edu.hpp>
#include <mmapx/mmapx.hpp>
#include <mmapx/reg.hpp>
#include <mmapx/version.hpp>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string_view>

namespace {

struct sample {
  std::uint32_t index;
  std::uint32_t square;
};

bool check(bool ok, const char* what) {
  if (!ok) std::fprintf(stderr, "consumer: FAILED: %s\n", what);
  return ok;
}

bool file_round_trip(const std::filesystem::path& path) {
  constexpr std::uint32_t count = 1000;
  {
    auto out = mmapx::map_file<mmapx::access::read_write>(
        path, {.open = mmapx::open_mode::truncate, .size = count * sizeof(sample)});
    auto samples = mmapx::view_array<sample>(out);
    for (std::uint32_t i = 0; i < count; ++i) samples[i] = {i, i * i};
    out.flush(mmapx::flush_level::sync);
  }
  // An unaligned offset: the library maps around it.
  auto in = mmapx::map_file(path, {.offset = sizeof(sample) * 3});
  auto samples = mmapx::view_array<sample>(in);
  return check(samples.size() == count - 3, "read-only view has the remaining samples") &&
         check(samples.front().index == 3 && samples.back().square == (count - 1) * (count - 1),
               "samples read back as written");
}

bool registers_on_mapped_memory() {
  namespace edu = mmapx::edu;
  // Plain anonymous memory stands in for the device's BAR.
  auto bar = mmapx::map_anonymous(edu::bar0_size);
  auto dev = mmapx::reg::bind<edu::map>(bar.bytes());
  dev.write<edu::factorial>(10u);
  dev.modify(edu::status::irq_on_done::val<1>);
  dev.write<edu::dma_count>(std::uint64_t{4096});
  const auto* bytes = bar.data();
  return check(dev.read<edu::factorial>() == 10u, "factorial register reads back") &&
         check(dev.read<edu::status::irq_on_done>(), "status.irq_on_done was set") &&
         check(bytes[0x20] == std::byte{0x80}, "irq_on_done is bit 7 of the byte at 0x20") &&
         check(bytes[0x91] == std::byte{0x10}, "dma_count is a 64-bit register at 0x90");
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc != 3) {
    std::fprintf(stderr, "usage: consumer <scratch directory> <expected version>\n");
    return 2;
  }
  const std::string_view reported = argv[2];
  bool ok = check(reported == MMAPX_VERSION_STRING, "build system and version.hpp agree on the version");
  ok = file_round_trip(std::filesystem::path(argv[1]) / "consumer.dat") && ok;
  ok = registers_on_mapped_memory() && ok;
  std::printf("consumer: mmapx %s %s\n", mmapx::version_string, ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "consumer: %s\n", e.what());
  return 1;
}
