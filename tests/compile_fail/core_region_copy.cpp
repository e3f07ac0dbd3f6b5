// expect-error: use of deleted function|call to deleted|deleted function
// A region owns its mapping: it can be moved, never copied.
#include <mmapx/anonymous.hpp>
int main() {
  auto r = mmapx::map_anonymous(4096);
  auto copy = r;
  (void)copy;
}
