// expect-error: assignment of read-only location|read-only variable is not assignable
// A read-only region hands out const bytes.
#include <mmapx/file.hpp>
int main() {
  auto r = mmapx::map_file("/etc/hostname");
  r.data()[0] = std::byte{1};
}
