// examples/mmcp/sigbus_guard.hpp - turns a SIGBUS inside one copy step into
// an error from that step, instead of the death of the process.
//
// A mapped file that shrinks under us (another process truncates the source)
// or fails to read back (an I/O error) raises SIGBUS on the access. mmcp wraps
// each memcpy/memcmp between mappings in without_sigbus(); a SIGBUS inside
// jumps back out of it. A SIGBUS anywhere else goes to the handler that was
// installed before ours, or kills the process as it would have anyway.
//
// Limits: the guarded step must not hold locks or allocate (memcpy/memcmp on
// mapped bytes only), since it is abandoned halfway. One guard per thread.
#pragma once

#include <atomic>
#include <csetjmp>
#include <csignal>

namespace mmcp {

namespace detail {

inline thread_local sigjmp_buf* sigbus_landing = nullptr;
inline struct sigaction sigbus_previous {};

inline void on_sigbus(int sig, siginfo_t* info, void* context) {
  if (sigbus_landing != nullptr) siglongjmp(*sigbus_landing, 1);
  if ((sigbus_previous.sa_flags & SA_SIGINFO) != 0) {
    sigbus_previous.sa_sigaction(sig, info, context);
  } else if (sigbus_previous.sa_handler != SIG_DFL && sigbus_previous.sa_handler != SIG_IGN) {
    sigbus_previous.sa_handler(sig);
  } else {
    // Returning re-runs the faulting access, which now gets the default: death.
    ::signal(SIGBUS, SIG_DFL);
  }
}

}  // namespace detail

/// Installs the SIGBUS handler (once per process; later calls do nothing).
inline bool install_sigbus_guard() noexcept {
  static const bool installed = [] {
    struct sigaction action {};
    action.sa_sigaction = detail::on_sigbus;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    return ::sigaction(SIGBUS, &action, &detail::sigbus_previous) == 0;
  }();
  return installed;
}

/// Runs `step()`; returns false if it was cut short by a SIGBUS.
template <class Step>
bool without_sigbus(Step&& step) noexcept {
  sigjmp_buf landing;
  sigjmp_buf* const outer = detail::sigbus_landing;
  if (sigsetjmp(landing, 1) != 0) {
    detail::sigbus_landing = outer;
    return false;
  }
  // The fences keep the compiler from moving the step's memory accesses out
  // from between the two stores (or dropping the first as dead).
  detail::sigbus_landing = &landing;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  step();
  std::atomic_signal_fence(std::memory_order_seq_cst);
  detail::sigbus_landing = outer;
  return true;
}

}  // namespace mmcp
