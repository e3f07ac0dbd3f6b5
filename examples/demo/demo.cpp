// mmapx-demo: the core at work on a real file.
//
// Writes a file of fixed-size records through a typed writable mapping,
// flushes it durably, maps it again read-only, verifies every record, and
// says what it did and how long each step took.
//
//   mmapx-demo [FILE] [RECORDS]     (default: a temporary file, 1,000,000 records)
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include <mmapx/mmapx.hpp>

namespace {

/// One record as it lies in the file: plain bytes, no pointers, fixed layout.
struct record {
  std::uint64_t sequence;
  std::uint64_t payload;
  double value;
  std::uint64_t check;  ///< sequence ^ payload ^ bits of value: catches torn or misplaced records
};
static_assert(sizeof(record) == 32);

std::uint64_t check_of(const record& r) {
  std::uint64_t bits;
  std::memcpy(&bits, &r.value, sizeof bits);
  return r.sequence ^ (r.payload * 0x9e3779b97f4a7c15ULL) ^ bits;
}

using clock_type = std::chrono::steady_clock;
double ms_since(clock_type::time_point start) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
}

int run(const std::filesystem::path& path, std::size_t count) {
  const std::size_t bytes = count * sizeof(record);
  std::printf("mmapx %s demo: %zu records of %zu bytes (%.1f MiB) in %s\n", mmapx::version_string,
              count, sizeof(record), static_cast<double>(bytes) / (1 << 20), path.c_str());

  // 1. Create the file at its final size; the space is reserved now, so a full
  //    disk would be an error here rather than a SIGBUS in the loop below.
  auto start = clock_type::now();
  auto out = mmapx::map_file<mmapx::access::read_write>(
      path, {.open = mmapx::open_mode::truncate, .size = bytes});
  auto records = mmapx::view_array<record>(out);
  std::printf("  %-44s %9.2f ms\n", "create, reserve and map read-write", ms_since(start));

  start = clock_type::now();
  out.advise(mmapx::advice::sequential);
  for (std::size_t i = 0; i < records.size(); ++i) {
    record& r = records[i];
    r.sequence = i;
    r.payload = i * 2654435761ULL;
    r.value = static_cast<double>(i) * 0.5;
    r.check = check_of(r);
  }
  std::printf("  %-44s %9.2f ms\n", "write records through mapped_array<record>", ms_since(start));

  // 2. Durable: msync(MS_SYNC) and fdatasync, so the records survive a crash.
  start = clock_type::now();
  out.flush(mmapx::flush_level::durable);
  std::printf("  %-44s %9.2f ms\n", "flush (durable)", ms_since(start));
  out.unmap();

  // 3. Map again, read-only: the view's elements are const, so a stray write
  //    would not even compile.
  start = clock_type::now();
  const auto in = mmapx::map_file(path, {.map = {.populate = true}});
  const auto again = mmapx::view_array<record>(in);
  std::printf("  %-44s %9.2f ms\n", "map read-only (populated)", ms_since(start));

  start = clock_type::now();
  std::size_t bad = 0;
  for (std::size_t i = 0; i < again.size(); ++i) {
    const record& r = again[i];
    if (r.sequence != i || r.check != check_of(r)) ++bad;
  }
  std::printf("  %-44s %9.2f ms\n", "verify every record", ms_since(start));

  if (again.size() != count || bad != 0) {
    std::fprintf(stderr, "mmapx-demo: verification FAILED: %zu of %zu records bad\n", bad, count);
    return 1;
  }
  std::printf("verified %zu records: all correct\n", again.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path path;
  bool temporary = false;
  std::size_t count = 1'000'000;
  if (argc > 1 && (std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help")) {
    std::printf("usage: mmapx-demo [FILE] [RECORDS]\n");
    return 0;
  }
  if (argc > 1) {
    path = argv[1];
  } else {
    path = std::filesystem::temp_directory_path() / ("mmapx-demo-" + std::to_string(::getpid()) + ".dat");
    temporary = true;
  }
  if (argc > 2) {
    char* end = nullptr;
    count = std::strtoull(argv[2], &end, 10);
    if (end == argv[2] || *end != '\0' || count == 0) {
      std::fprintf(stderr, "mmapx-demo: '%s' is not a positive record count\n", argv[2]);
      return 2;
    }
  }
  int status = 1;
  try {
    status = run(path, count);
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "mmapx-demo: %s\n", e.what());
  }
  if (temporary) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
  return status;
}
