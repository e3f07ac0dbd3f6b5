// expect-error: assignment of read-only location|returns a const value
// Elements of a mapped_array over a read-only region cannot be assigned.
#include <mmapx/file.hpp>
#include <mmapx/typed.hpp>
int main() {
  auto r = mmapx::map_file("/etc/hostname");
  auto a = mmapx::view_array<char>(r);
  a[0] = 'x';
}
