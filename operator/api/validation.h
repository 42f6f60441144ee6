// Kubernetes syntax checks shared by the AgentConfig parser and tests
// (the same rules as k8s.io/apimachinery/pkg/util/validation).
#pragma once

#include <optional>
#include <string_view>

namespace srexpert::api {

// RFC 1123 label: lowercase alphanumerics and '-', 1..63, alnum at both ends.
bool IsDnsLabel(std::string_view s);
// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
bool IsDnsSubdomain(std::string_view s);
// Label/annotation key: [prefix/]name with a DNS-subdomain prefix and a
// 1..63 character name of alphanumerics, '-', '_', '.' (alnum at both ends).
bool IsQualifiedName(std::string_view s);
// Label value: empty, or up to 63 characters like the name part above.
bool IsLabelValue(std::string_view s);

// A Kubernetes resource.Quantity in canonical syntax ("50m", "64Mi", "1.5",
// "1e3"), as a number in base units. nullopt when the syntax is invalid.
std::optional<long double> ParseQuantity(std::string_view s);

// True when `pem` holds at least one PEM certificate block and every block
// parses as an X.509 certificate (OpenSSL), with nothing else but whitespace
// between blocks.
bool IsPemCertificateBundle(std::string_view pem);

}  // namespace srexpert::api
