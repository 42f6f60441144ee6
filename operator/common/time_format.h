// Kubernetes timestamps: metav1.Time is RFC 3339 with seconds
// ("2026-01-02T15:04:05Z"), metav1.MicroTime (Lease acquire/renew times,
// events.k8s.io eventTime) has microseconds ("2026-01-02T15:04:05.000000Z").
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace srexpert {

std::string FormatRfc3339(std::chrono::system_clock::time_point t);
std::string FormatRfc3339Micro(std::chrono::system_clock::time_point t);
// Accepts both forms, a fraction of any length, and "Z" or a ±hh:mm offset.
std::optional<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view text);

}  // namespace srexpert
