#include "stream/metrics_collector.h"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <limits>

#include "common/json.h"
#include "common/log.h"
#include "common/time_format.h"

namespace srexpert::stream {

namespace {

constexpr const char* kMetricsApi = "metrics.k8s.io/v1beta1";
constexpr const char* kNotServed = "metrics.k8s.io is not served by this cluster";
// Reasons travel to the backend in one line; Status messages can be long.
constexpr size_t kMaxReason = 256;

using u128 = unsigned __int128;

// 18 significant digits keep mantissa * 1024^6 inside 128 bits.
constexpr int kMaxDigits = 18;

int64_t Saturate(u128 magnitude, bool negative) {
  constexpr auto kMax = static_cast<u128>(std::numeric_limits<int64_t>::max());
  if (magnitude > kMax) {
    return negative ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
  }
  auto v = static_cast<int64_t>(magnitude);
  return negative ? -v : v;
}

std::string OneLine(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  if (s.size() > kMaxReason) s.resize(kMaxReason);
  return s;
}

int64_t Quantity(const rapidjson::Value& usage, const char* name, int scale) {
  if (!usage.IsObject()) return 0;
  auto it = usage.FindMember(name);
  if (it == usage.MemberEnd() || !it->value.IsString()) return 0;
  return ParseQuantityScaled({it->value.GetString(), it->value.GetStringLength()}, scale)
      .value_or(0);
}

}  // namespace

std::optional<int64_t> ParseQuantityScaled(std::string_view s, int scale) {
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  // <digits> | <digits>.<digits> | <digits>. | .<digits>
  u128 mantissa = 0;
  int digits = 0;        // significant digits kept in mantissa
  int exp10 = 0;         // value = mantissa * 10^exp10 * 2^exp2
  int seen = 0;          // digits of the number, kept or not
  bool inexact = false;  // a dropped digit was non-zero
  bool fraction = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '.' && !fraction) {
      fraction = true;
      continue;
    }
    if (c < '0' || c > '9') break;
    ++seen;
    if (mantissa == 0 && c == '0') {
      if (fraction) --exp10;  // leading zeros of a fraction only shift
      continue;
    }
    if (digits < kMaxDigits) {
      mantissa = mantissa * 10 + static_cast<unsigned>(c - '0');
      ++digits;
      if (fraction) --exp10;
    } else {
      if (c != '0') inexact = true;
      if (!fraction) ++exp10;
    }
  }
  if (seen == 0) return std::nullopt;
  int exp2 = 0;
  std::string_view suffix = s.substr(i);
  if (suffix.empty()) {
  } else if (suffix.size() == 2 && suffix[1] == 'i') {
    static constexpr std::string_view kBinary = "KMGTPE";
    auto pos = kBinary.find(suffix[0]);
    if (pos == std::string_view::npos) return std::nullopt;
    exp2 = 10 * static_cast<int>(pos + 1);
  } else if ((suffix[0] == 'e' || suffix[0] == 'E') && suffix.size() > 1) {
    // Decimal exponent: e<signed integer>.
    size_t j = 1;
    bool neg_exp = false;
    if (suffix[j] == '+' || suffix[j] == '-') neg_exp = suffix[j++] == '-';
    if (j >= suffix.size()) return std::nullopt;
    int e = 0;
    for (; j < suffix.size(); ++j) {
      if (suffix[j] < '0' || suffix[j] > '9') return std::nullopt;
      e = std::min(e * 10 + (suffix[j] - '0'), 10000);
    }
    exp10 += neg_exp ? -e : e;
  } else if (suffix.size() == 1) {
    switch (suffix[0]) {
      case 'n':
        exp10 -= 9;
        break;
      case 'u':
        exp10 -= 6;
        break;
      case 'm':
        exp10 -= 3;
        break;
      case 'k':
        exp10 += 3;
        break;
      case 'M':
        exp10 += 6;
        break;
      case 'G':
        exp10 += 9;
        break;
      case 'T':
        exp10 += 12;
        break;
      case 'P':
        exp10 += 15;
        break;
      case 'E':
        exp10 += 18;
        break;
      default:
        return std::nullopt;
    }
  } else {
    return std::nullopt;
  }
  if (mantissa == 0) return 0;
  u128 n = mantissa << exp2;  // < 10^18 * 2^60 < 2^120
  int e = exp10 + scale;
  if (e >= 0) {
    for (int k = 0; k < e; ++k) {
      if (n > static_cast<u128>(std::numeric_limits<int64_t>::max())) break;  // saturates
      n *= 10;
    }
    // Dropped digits were below the kept ones: the exact value is a bit more.
    if (inexact && !negative) n += 1;
    return Saturate(n, negative);
  }
  // Divide by 10^-e, rounding towards +infinity (Quantity.ScaledValue rounds up).
  int d = -e;
  u128 q = 0;
  bool remainder = true;
  if (d <= 38) {
    u128 p = 1;
    for (int k = 0; k < d; ++k) p *= 10;
    q = n / p;
    remainder = n % p != 0;
  }
  if ((remainder || inexact) && !negative) q += 1;
  return Saturate(q, negative);
}

MetricsCollector::MetricsCollector(std::shared_ptr<kube::RestClient> client,
                                   MetricsCollectorOptions options, ChangeSink* sink)
    : client_(std::move(client)),
      options_(std::move(options)),
      sink_(sink),
      clock_(options_.clock ? *options_.clock : SystemClock()) {
  excluded_.insert(options_.excluded_namespaces.begin(), options_.excluded_namespaces.end());
  if (options_.page_size <= 0) options_.page_size = 500;
}

MetricsCollector::~MetricsCollector() { Stop(); }

void MetricsCollector::Start() {
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] {
    while (!stop_.cancelled()) {
      PollOnce();
      if (stop_.WaitFor(options_.interval)) break;
    }
  });
}

void MetricsCollector::Stop() {
  stop_.Cancel();
  if (thread_.joinable()) thread_.join();
}

MetricsCollectorStats MetricsCollector::Stats() const {
  MetricsCollectorStats s;
  s.polls = polls_.load();
  s.failures = failures_.load();
  s.available = available_.load();
  return s;
}

void MetricsCollector::ReportUnavailable(const std::string& reason) {
  available_.store(false);
  if (last_unavailable_ == reason) return;  // the backend already knows
  last_unavailable_ = reason;
  json::Document d(rapidjson::kObjectType);
  json::Set(d, "available", json::Value(false), d.GetAllocator());
  json::SetString(d, "reason", reason, d.GetAllocator());
  sink_->Metrics(std::make_shared<const std::string>(json::Dump(d)));
}

void MetricsCollector::PollOnce() {
  polls_.fetch_add(1);
  auto sample = Collect();
  if (stop_.cancelled()) return;
  if (sample) {
    available_.store(true);
    last_unavailable_.reset();
    sink_->Metrics(std::make_shared<const std::string>(std::move(*sample)));
    return;
  }
  const auto& error = sample.error();
  if (error.IsNotFound()) {
    // Not a failure: the cluster has no metrics-server (or had it removed).
    ReportUnavailable(kNotServed);
    return;
  }
  failures_.fetch_add(1);
  log::Warn("metrics poll failed; retrying next interval",
            {{"error", error.ToString()},
             {"retryable", error.retryable()},
             {"interval_ms", static_cast<int64_t>(options_.interval.count())}});
  ReportUnavailable(OneLine("metrics.k8s.io poll failed: " + error.ToString()));
}

kube::Result<std::string> MetricsCollector::Collect() {
  // Discovery: NotFound when the group-version is not served. Cached when it
  // is; a later uninstall shows up as NotFound from the lists below.
  auto info = client_->Resolve(kMetricsApi, "NodeMetrics");
  if (!info) return info.error();

  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("available");
  w.Bool(true);
  w.Key("collectedAt");
  std::string collected_at = FormatRfc3339(clock_.WallNow());
  w.String(collected_at.c_str(), static_cast<rapidjson::SizeType>(collected_at.size()));

  // Each kind page by page; a page is dropped once written out.
  auto each_page = [&](const char* kind, const auto& on_item) -> kube::Result<void> {
    std::string continue_token;
    do {
      kube::ListOptions lo;
      lo.skip_server_bookkeeping = true;
      lo.limit = options_.page_size;
      lo.continue_token = continue_token;
      lo.bounds.cancel = stop_;
      auto page = client_->List({kMetricsApi, kind, "", ""}, lo);
      if (!page) return page.error();
      continue_token = json::GetString(*page, {"metadata", "continue"});
      const auto* items = json::Find(*page, {"items"});
      if (items && items->IsArray()) {
        for (const auto& item : items->GetArray()) on_item(item);
      }
    } while (!continue_token.empty());
    return {};
  };

  w.Key("nodes");
  w.StartArray();
  auto nodes = each_page("NodeMetrics", [&](const rapidjson::Value& item) {
    std::string name = json::GetString(item, {"metadata", "name"});
    if (name.empty()) return;
    const auto* usage = json::Find(item, {"usage"});
    w.StartObject();
    w.Key("name");
    w.String(name.c_str(), static_cast<rapidjson::SizeType>(name.size()));
    w.Key("cpuMilli");
    w.Int64(usage ? Quantity(*usage, "cpu", 3) : 0);
    w.Key("memoryBytes");
    w.Int64(usage ? Quantity(*usage, "memory", 0) : 0);
    w.EndObject();
  });
  if (!nodes) return nodes.error();
  w.EndArray();

  w.Key("pods");
  w.StartArray();
  auto pods = each_page("PodMetrics", [&](const rapidjson::Value& item) {
    std::string ns = json::GetString(item, {"metadata", "namespace"});
    std::string name = json::GetString(item, {"metadata", "name"});
    if (name.empty() || excluded_.count(ns)) return;
    // Sum in nanocores and bytes, round to millicores once (as kubectl top
    // sums container quantities before MilliValue()).
    int64_t cpu_nano = 0;
    int64_t memory = 0;
    const auto* containers = json::Find(item, {"containers"});
    if (containers && containers->IsArray()) {
      for (const auto& c : containers->GetArray()) {
        const auto* usage = json::Find(c, {"usage"});
        if (!usage) continue;
        cpu_nano += Quantity(*usage, "cpu", 9);
        memory += Quantity(*usage, "memory", 0);
      }
    }
    w.StartObject();
    w.Key("namespace");
    w.String(ns.c_str(), static_cast<rapidjson::SizeType>(ns.size()));
    w.Key("name");
    w.String(name.c_str(), static_cast<rapidjson::SizeType>(name.size()));
    w.Key("cpuMilli");
    w.Int64(cpu_nano / 1000000 + (cpu_nano % 1000000 > 0 ? 1 : 0));
    w.Key("memoryBytes");
    w.Int64(memory);
    w.EndObject();
  });
  if (!pods) return pods.error();
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace srexpert::stream
