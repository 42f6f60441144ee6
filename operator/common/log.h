// Structured logging: one JSON object per line on stderr
// ({"ts":"...","level":"info","msg":"...","key":value,...}).
//
// Never pass a token, a password or a Secret's data as a field value; use
// Redacted() when the presence of a credential is worth logging.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace srexpert::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses "debug" | "info" | "warn" | "error"; false on anything else.
bool ParseLevel(std::string_view text, Level* out);
void SetLevel(Level level);
Level GetLevel();
// "json" (default) or "text" (human-friendly key=value, for terminals).
void SetFormat(std::string_view format);

// Redirects output (tests capture lines). nullptr restores stderr.
using Sink = void (*)(std::string_view line);
void SetSink(Sink sink);

struct Field {
  using Val = std::variant<std::string_view, std::string, int64_t, double, bool>;
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, std::string v) : key(k), value(std::move(v)) {}
  Field(std::string_view k, int v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, long v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, long long v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, unsigned v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, unsigned long v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, unsigned long long v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  std::string_view key;
  Val value;
};

void Write(Level level, std::string_view msg, std::initializer_list<Field> fields);

inline void Debug(std::string_view msg, std::initializer_list<Field> f = {}) {
  Write(Level::kDebug, msg, f);
}
inline void Info(std::string_view msg, std::initializer_list<Field> f = {}) {
  Write(Level::kInfo, msg, f);
}
inline void Warn(std::string_view msg, std::initializer_list<Field> f = {}) {
  Write(Level::kWarn, msg, f);
}
inline void Error(std::string_view msg, std::initializer_list<Field> f = {}) {
  Write(Level::kError, msg, f);
}

// "<redacted len=N>" — shows that a credential is set without showing it.
std::string Redacted(std::string_view credential);

}  // namespace srexpert::log
