// bench/naive_mmap_copy.cpp - the file copy every mmap tutorial shows, as a
// comparison point for bench/mmcp_bench: one mapping of the whole source, one
// of the whole destination (extended with ftruncate, no space reserved), one
// memcpy. No windows, no holes, no advice.
//
//   naive_mmap_copy SRC DST
#include <cstdio>
#include <cstring>
#include <exception>

#include <mmapx/file.hpp>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: naive_mmap_copy SRC DST\n");
    return 2;
  }
  try {
    auto in = mmapx::map_file(argv[1]);
    auto out = mmapx::map_file<mmapx::access::read_write>(
        argv[2], {.open = mmapx::open_mode::truncate, .size = in.size(), .reserve = mmapx::reserve_space::none});
    if (!in.empty()) std::memcpy(out.data(), in.data(), in.size());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "naive_mmap_copy: %s\n", e.what());
    return 1;
  }
  return 0;
}
