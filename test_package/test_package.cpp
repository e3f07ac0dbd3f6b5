// test_package.cpp - proves a Conan-installed mmapx works: maps a file and
// reads it back, and drives a small register map on anonymous memory.
#include <mmapx/mmapx.hpp>
#include <mmapx/reg.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>

namespace reg = mmapx::reg;

struct control : reg::reg32<"control", 0x0, reg::rw, 0> {
  using enable = reg::field<"enable", 0, 1, reg::rw>;
  using divider = reg::field<"divider", 8, 8, reg::rw>;
  using fields = reg::fields<enable, divider>;
};
using timer = reg::map<"timer", 0x10, reg::contract{reg::w32}, control>;

int main(int argc, char** argv) {
  const auto path = std::filesystem::path(argc > 1 ? argv[1] : ".") / "test_package.dat";
  {
    auto out = mmapx::map_file<mmapx::access::read_write>(path, {.open = mmapx::open_mode::truncate,
                                                                 .size = 4096});
    mmapx::view_array<std::uint64_t>(out)[7] = 0x6d6d617078;
    out.flush();
  }
  auto in = mmapx::map_file(path);
  const bool file_ok = mmapx::view_array<std::uint64_t>(in)[7] == 0x6d6d617078;

  auto memory = mmapx::map_anonymous(mmapx::page_size());
  auto dev = reg::bind<timer>(memory.bytes());
  dev.write(control::enable::val<1>, control::divider::val<25>);
  const bool reg_ok = dev.read<control>() == 0x1901u;

  std::printf("mmapx %s: file %s, registers %s\n", mmapx::version_string, file_ok ? "ok" : "FAILED",
              reg_ok ? "ok" : "FAILED");
  return file_ok && reg_ok ? 0 : 1;
}
