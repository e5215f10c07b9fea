// Linked into the test executables labelled `tsan` when built with -DLIGER_SANITIZE=thread.
//
// Debian's Abseil is not built with ThreadSanitizer, so absl::Mutex and absl::Notification order
// threads with atomics and futexes that TSan never sees: every access guarded by them would be
// reported as a race. An instrumented Abseil annotates these orderings itself; this file does the
// same from outside. It defines the operations the project uses in the executable, whose
// definitions win over the shared library's, and forwards each to the library around
// __tsan_release / __tsan_acquire on the object's address. An operation missing here hides
// nothing: TSan then reports the accesses it orders as races, and it is to be added here. It also
// sets these executables' TSan options.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

static_assert(ABSL_OPTION_USE_INLINE_NAMESPACE, "the mangled names below include the namespace");

namespace {

#define LIGER_STRINGIFY_INNER(x) #x
#define LIGER_STRINGIFY(x) LIGER_STRINGIFY_INNER(x)

// Abseil's definition of the member function mangled as _ZN<cv>4absl<namespace><rest>.
template <typename Fn>
Fn Real(const char* cv, const char* rest) {
  const std::string ns = LIGER_STRINGIFY(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string name =
      std::string("_ZN") + cv + "4absl" + std::to_string(ns.size()) + ns + rest;
  void* fn = dlsym(RTLD_NEXT, name.c_str());
  if (fn == nullptr) {
    std::fprintf(stderr, "tsan_abseil_sync: Abseil has no %s\n", name.c_str());
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

// Readers release here, not on the mutex itself, so that a reader is ordered after the writers
// before it and before the writers after it, but not after other readers: a write under a reader
// lock still races with the other readers.
void* ReadersOf(absl::Mutex* mu) { return reinterpret_cast<char*>(mu) + 1; }

void AcquireExclusive(absl::Mutex* mu) {
  __tsan_acquire(mu);
  __tsan_acquire(ReadersOf(mu));
}

// Abseil evaluates a waiter's condition with the mutex held, often on the thread that is
// unlocking it, after that thread's release above: the evaluation is ordered explicitly.
struct OrderedCondition {
  static bool Eval(OrderedCondition* self) {
    AcquireExclusive(self->mu);
    const bool result = self->cond.Eval();
    __tsan_release(self->mu);
    return result;
  }
  absl::Mutex* mu;
  const absl::Condition& cond;
};

}  // namespace

void absl::Mutex::Lock() {
  static const auto real = Real<void (*)(Mutex*)>("", "5Mutex4LockEv");
  real(this);
  AcquireExclusive(this);
}

void absl::Mutex::Unlock() {
  static const auto real = Real<void (*)(Mutex*)>("", "5Mutex6UnlockEv");
  __tsan_release(this);
  real(this);
}

void absl::Mutex::ReaderLock() {
  static const auto real = Real<void (*)(Mutex*)>("", "5Mutex10ReaderLockEv");
  real(this);
  __tsan_acquire(this);
}

void absl::Mutex::ReaderUnlock() {
  static const auto real = Real<void (*)(Mutex*)>("", "5Mutex12ReaderUnlockEv");
  __tsan_release(ReadersOf(this));
  real(this);
}

void absl::Mutex::Await(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>("", "5Mutex5AwaitERKNS0_9ConditionE");
  OrderedCondition ordered{this, cond};
  __tsan_release(this);
  real(this, Condition(&OrderedCondition::Eval, &ordered));
  AcquireExclusive(this);
}

bool absl::Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, Duration)>(
      "", "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  OrderedCondition ordered{this, cond};
  __tsan_release(this);
  const bool result = real(this, Condition(&OrderedCondition::Eval, &ordered), timeout);
  AcquireExclusive(this);
  return result;
}

void absl::Notification::Notify() {
  static const auto real = Real<void (*)(Notification*)>("", "12Notification6NotifyEv");
  __tsan_release(this);
  real(this);
}

bool absl::Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  static const auto real = Real<bool (*)(const Notification*, Duration)>(
      "K", "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  const bool notified = real(this, timeout);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

// Every report fails the test: the first one ends the process with exit code 66. Set here rather
// than in the tests' environment so that running a test executable by hand behaves the same.
extern "C" const char* __tsan_default_options() {
  return "halt_on_error=1:exitcode=66:second_deadlock_stack=1:"
         "suppressions=" LIGER_SOURCE_DIR "/tests/support/tsan.supp";
}
