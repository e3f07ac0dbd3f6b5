// tests/child_process.hpp - the one way mmapx's tests (unit and vm) run
// code in a forked child: a check that drops privileges, a crash the test
// must watch without dying itself, a second process sharing a mapping.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>

namespace mmapx_test {

/// How a child process ended.
struct child_end {
  int exit_code = -1;  ///< exit status, or -1 if killed by a signal
  int signal = 0;      ///< the signal that killed it, or 0

  bool exited(int code) const { return signal == 0 && exit_code == code; }
  std::string describe() const {
    return signal != 0 ? "killed by signal " + std::to_string(signal) : "exit " + std::to_string(exit_code);
  }
};

/// A forked child running `body` (which returns its exit code; an exception
/// is exit 99). The child never returns into the test framework: it ends
/// with _exit, so no atexit handler or buffered output of the parent runs
/// twice. A child not waited for is killed and reaped when this goes away.
class child {
public:
  template <class Fn>
  explicit child(Fn&& body) {
    pid_ = ::fork();
    if (pid_ < 0) throw std::system_error(errno, std::system_category(), "fork");
    if (pid_ == 0) {
      int code = 99;
      try {
        code = std::forward<Fn>(body)();
      } catch (...) {
      }
      ::_exit(code);
    }
  }
  child(const child&) = delete;
  child& operator=(const child&) = delete;
  ~child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status;
      ::waitpid(pid_, &status, 0);
    }
  }

  pid_t pid() const { return pid_; }
  void kill(int sig) const { ::kill(pid_, sig); }

  /// Waits for the child to end (retrying after signals) and says how.
  child_end wait() {
    int status = 0;
    pid_t got;
    do {
      got = ::waitpid(pid_, &status, 0);
    } while (got < 0 && errno == EINTR);
    if (got < 0) throw std::system_error(errno, std::system_category(), "waitpid");
    pid_ = -1;
    child_end end;
    if (WIFEXITED(status)) end.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) end.signal = WTERMSIG(status);
    return end;
  }

private:
  pid_t pid_ = -1;
};

/// Runs `body` in a child and waits: its exit code (0 = the child's checks
/// passed), or -1 if it died of a signal.
template <class Fn>
int in_child(Fn&& body) {
  return child(std::forward<Fn>(body)).wait().exit_code;
}

}  // namespace mmapx_test
