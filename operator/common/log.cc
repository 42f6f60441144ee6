#include "common/log.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include <fmt/format.h>

namespace srexpert::log {

namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<bool> g_text{false};
std::atomic<Sink> g_sink{nullptr};
std::mutex g_write_mu;

const char* LevelName(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

std::string Timestamp() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms));
}

template <typename W>
void WriteValue(W& w, const Field::Val& v) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string_view> || std::is_same_v<T, std::string>) {
          w.String(x.data(), static_cast<rapidjson::SizeType>(x.size()), true);
        } else if constexpr (std::is_same_v<T, int64_t>) {
          w.Int64(x);
        } else if constexpr (std::is_same_v<T, double>) {
          w.Double(x);
        } else {
          w.Bool(x);
        }
      },
      v);
}

std::string TextValue(const Field::Val& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) return x ? "true" : "false";
        else if constexpr (std::is_same_v<T, std::string_view> || std::is_same_v<T, std::string>) {
          std::string s(x);
          return s.find(' ') == std::string::npos ? s : fmt::format("\"{}\"", s);
        } else return fmt::format("{}", x);
      },
      v);
}

}  // namespace

bool ParseLevel(std::string_view text, Level* out) {
  if (text == "debug") *out = Level::kDebug;
  else if (text == "info") *out = Level::kInfo;
  else if (text == "warn" || text == "warning") *out = Level::kWarn;
  else if (text == "error") *out = Level::kError;
  else return false;
  return true;
}

void SetLevel(Level level) { g_level = level; }
Level GetLevel() { return g_level; }
void SetFormat(std::string_view format) { g_text = (format == "text"); }
void SetSink(Sink sink) { g_sink = sink; }

void Write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (level < g_level.load()) return;
  std::string line;
  if (g_text) {
    line = fmt::format("{} {:5} {}", Timestamp(), LevelName(level), msg);
    for (const auto& f : fields) line += fmt::format(" {}={}", f.key, TextValue(f.value));
  } else {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    auto ts = Timestamp();
    w.Key("ts");
    w.String(ts.c_str());
    w.Key("level");
    w.String(LevelName(level));
    w.Key("msg");
    w.String(msg.data(), static_cast<rapidjson::SizeType>(msg.size()), true);
    for (const auto& f : fields) {
      w.Key(f.key.data(), static_cast<rapidjson::SizeType>(f.key.size()), true);
      WriteValue(w, f.value);
    }
    w.EndObject();
    line.assign(buf.GetString(), buf.GetSize());
  }
  std::lock_guard<std::mutex> lock(g_write_mu);
  if (Sink sink = g_sink.load()) {
    sink(line);
  } else {
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
}

std::string Redacted(std::string_view credential) {
  return fmt::format("<redacted len={}>", credential.size());
}

}  // namespace srexpert::log
