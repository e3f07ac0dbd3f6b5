// expect-error: assignment of read-only location|returns a const value
// A view of a read-only region has a const element type.
#include <mmapx/file.hpp>
#include <mmapx/typed.hpp>
int main() {
  auto r = mmapx::map_file("/etc/hostname");
  auto v = mmapx::view<char>(r);
  *v = 'x';
}
