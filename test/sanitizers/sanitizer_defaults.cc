// Default runtime options of the sanitizer builds (SREXPERT_SANITIZE=ON or
// thread), linked into every executable so that a test binary, and every
// srexpert-* process an e2e test starts, behaves the same with or without
// the environment scripts/test.sh sets. Variables such as UBSAN_OPTIONS are
// parsed after these and override them key by key.
//
// Suppressions: only proven third-party issues, each with its proof beside
// it in the .supp file (docs/testing.md, "Sanitizers").

#ifndef SRX_SANITIZER_DIR
#error "SRX_SANITIZER_DIR must name test/sanitizers"
#endif

extern "C" {

// halt_on_error: a UBSan report fails the test instead of scrolling by.
__attribute__((visibility("default"), used)) const char* __ubsan_default_options() {
  return "halt_on_error=1:print_stacktrace=1:report_error_type=1"
         ":suppressions=" SRX_SANITIZER_DIR "/ubsan.supp";
}

__attribute__((visibility("default"), used)) const char* __asan_default_options() {
  return "detect_leaks=1:check_initialization_order=1:strict_init_order=1";
}

__attribute__((visibility("default"), used)) const char* __lsan_default_options() {
  return "print_suppressions=0:suppressions=" SRX_SANITIZER_DIR "/lsan.supp";
}

// No halt_on_error: a run reports every race, and a process that reported
// any exits with 66, which fails its test.
__attribute__((visibility("default"), used)) const char* __tsan_default_options() {
  return "second_deadlock_stack=1:history_size=4"
         ":suppressions=" SRX_SANITIZER_DIR "/tsan.supp";
}

}  // extern "C"
