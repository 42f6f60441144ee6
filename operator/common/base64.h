// Base64 (RFC 4648): standard alphabet for Kubernetes Secret data and
// kubeconfig *-data fields, URL-safe alphabet without padding for tokens.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace srexpert::base64 {

std::string Encode(std::string_view data);
// Standard alphabet; whitespace (line breaks in PEM-ish data) is ignored and
// padding is optional. nullopt on any other invalid input.
std::optional<std::string> Decode(std::string_view text);

// URL-safe alphabet ('-', '_'), no padding.
std::string EncodeUrl(std::string_view data);
std::optional<std::string> DecodeUrl(std::string_view text);

}  // namespace srexpert::base64
