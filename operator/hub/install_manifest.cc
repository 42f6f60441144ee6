#include "hub/install_manifest.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "common/log.h"
#include "hub/token_store.h"

namespace srexpert::hub {

namespace {

constexpr std::string_view kInstallPath = "/install.yaml";

struct Placeholder {
  std::string_view key;
  std::string_view value;  // as the template has it, quoted
};
constexpr Placeholder kToken{"token", "\"REPLACE_WITH_REGISTRATION_TOKEN\""};
constexpr Placeholder kCluster{"clusterName", "\"my-cluster\""};
constexpr Placeholder kUrl{"url", "\"wss://connect.srexpert.io/agent\""};

std::vector<std::string> SplitLines(std::string_view text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

size_t Indent(const std::string& line) { return line.find_first_not_of(' '); }

// The line is "<indent><key>: <value>" exactly.
bool IsLine(const std::string& line, std::string_view key, std::string_view value) {
  size_t i = Indent(line);
  if (i == std::string::npos) return false;
  return std::string_view(line).substr(i) == fmt::format("{}: {}", key, value);
}

std::string ReadAll(const std::string& path, bool* ok) {
  std::ifstream in(path);
  *ok = static_cast<bool>(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string YamlQuote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        // Every other control character (and DEL) escaped: nothing may
        // break the line or hide in a terminal.
        if (c < 0x20 || c == 0x7f) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

std::string CertificatesOnly(std::string_view pem) {
  constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
  constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  std::string out;
  size_t at = 0;
  while ((at = pem.find(kBegin, at)) != std::string_view::npos) {
    size_t end = pem.find(kEnd, at);
    if (end == std::string_view::npos) break;
    end += kEnd.size();
    out.append(pem.substr(at, end - at));
    out += '\n';
    at = end;
  }
  return out;
}

std::optional<std::string> RenderInstallManifest(std::string_view install_template,
                                                 const InstallValues& values, std::string* error) {
  std::vector<std::string> lines = SplitLines(install_template);
  const bool insecure = values.backend_url.rfind("ws://", 0) == 0;
  struct Hit {
    const Placeholder* p;
    std::string value;
    int count = 0;
    size_t line = 0;
  };
  Hit hits[] = {{&kToken, values.token}, {&kCluster, values.cluster_name},
                {&kUrl, values.backend_url}};
  for (size_t i = 0; i < lines.size(); ++i) {
    for (auto& h : hits) {
      if (IsLine(lines[i], h.p->key, h.p->value)) {
        ++h.count;
        h.line = i;
      }
    }
  }
  for (const auto& h : hits) {
    if (h.count != 1) {
      *error = fmt::format("the install template has {} lines `{}: {}`, expected one", h.count,
                           h.p->key, h.p->value);
      return std::nullopt;
    }
  }
  for (const auto& h : hits) {
    std::string indent(Indent(lines[h.line]), ' ');
    lines[h.line] = indent + std::string(h.p->key) + ": " + YamlQuote(h.value);
  }
  // backend.insecure and backend.caBundle sit next to backend.url.
  const size_t url_line = hits[2].line;
  const std::string indent(Indent(lines[url_line]), ' ');
  std::vector<std::string> extra;
  if (url_line + 1 < lines.size() && IsLine(lines[url_line + 1], "insecure", "false")) {
    lines[url_line + 1] = indent + (insecure ? "insecure: true" : "insecure: false");
  } else if (insecure) {
    extra.push_back(indent + "insecure: true");
  }
  if (!values.ca_bundle.empty() && !insecure) {
    extra.push_back(indent + "caBundle: " + YamlQuote(values.ca_bundle));
  }
  lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(url_line) + 1, extra.begin(),
               extra.end());

  std::string out = fmt::format(
      "# Served by srexpert-hub for cluster {}: the registration token, the\n"
      "# backend URL and its CA are filled in. Apply it as it is (one apply).\n",
      YamlQuote(values.cluster_name));
  for (const auto& l : lines) {
    out += l;
    out += '\n';
  }
  return out;
}

std::optional<std::string> QueryParam(std::string_view query, std::string_view key) {
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    std::string_view item = query.substr(start, end - start);
    size_t eq = item.find('=');
    if (item.substr(0, eq) == key) {
      std::string_view raw = eq == std::string_view::npos ? "" : item.substr(eq + 1);
      std::string value;
      for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '+') {
          value += ' ';
        } else if (raw[i] == '%' && i + 2 < raw.size() &&
                   Hex(raw[i + 1]) >= 0 && Hex(raw[i + 2]) >= 0) {
          value += static_cast<char>(Hex(raw[i + 1]) * 16 + Hex(raw[i + 2]));
          i += 2;
        } else {
          value += raw[i];
        }
      }
      return value;
    }
    start = end + 1;
  }
  return std::nullopt;
}

InstallEndpoint::InstallEndpoint(InstallEndpointOptions options)
    : options_(std::move(options)) {}
InstallEndpoint::~InstallEndpoint() = default;

bool InstallEndpoint::Load(std::string* error) {
  const std::string& url = options_.public_url;
  if (!url.empty()) {
    bool scheme = url.rfind("wss://", 0) == 0 || url.rfind("ws://", 0) == 0;
    bool clean = url.find_first_of(" \t\r\n\"'\\") == std::string::npos;
    if (!scheme || !clean || url.size() > 2048) {
      *error = "--public-url must be a ws:// or wss:// URL such as "
               "wss://hub.example.com:443/api/v1/tunnel";
      return false;
    }
  }
  std::string ca_file = options_.public_ca_file.empty() ? options_.tls_cert_file
                                                        : options_.public_ca_file;
  if (!ca_file.empty()) {
    bool ok = false;
    std::string pem = ReadAll(ca_file, &ok);
    if (!ok) {
      *error = "cannot read " + ca_file + " (for the install manifest's caBundle)";
      return false;
    }
    ca_bundle_ = CertificatesOnly(pem);
    if (ca_bundle_.empty()) {
      *error = ca_file + " holds no PEM certificate (for the install manifest's caBundle)";
      return false;
    }
  }
  tokens_ = std::make_unique<TokenStore>(options_.tokens_file);
  return tokens_->Load(error);
}

std::optional<InstallEndpoint::Response> InstallEndpoint::Handle(std::string_view method,
                                                                 std::string_view target) const {
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  if (path != kInstallPath) return std::nullopt;
  Response r;
  if (method != "GET" && method != "HEAD") {
    r.status = 405;
    r.body = "method not allowed: use GET\n";
    return r;
  }
  if (options_.public_url.empty()) {
    r.status = 503;
    r.body =
        "this hub does not serve the one-line install: start srexpert-hub with "
        "--public-url=wss://<host>:<port>/api/v1/tunnel (the URL agents reach it at)\n";
    return r;
  }
  std::optional<std::string> token =
      q == std::string_view::npos ? std::nullopt : QueryParam(target.substr(q + 1), "token");
  std::optional<TokenMatch> match;
  if (token && !token->empty() && tokens_) match = tokens_->Lookup(*token);
  if (!match) {
    log::Warn("install manifest refused", {{"reason", token && !token->empty()
                                                          ? "unknown token"
                                                          : "no token"}});
    r.status = 401;
    r.body = "unauthorized: /install.yaml?token=<your cluster's registration token>\n";
    return r;
  }
  if (match->disabled) {
    log::Warn("install manifest refused", {{"reason", "cluster disabled"},
                                           {"cluster", match->cluster}});
    r.status = 403;
    r.body = "cluster disabled\n";
    return r;
  }
  std::string error;
  auto yaml = RenderInstallManifest(
      EmbeddedInstallTemplate(),
      {match->cluster, *token, options_.public_url, ca_bundle_}, &error);
  if (!yaml) {
    log::Error("cannot render the install manifest", {{"error", error}});
    r.status = 500;
    r.body = "cannot render the install manifest\n";
    return r;
  }
  log::Info("install manifest served", {{"cluster", match->cluster}});
  r.status = 200;
  r.content_type = "application/yaml; charset=utf-8";
  r.body = std::move(*yaml);
  return r;
}

}  // namespace srexpert::hub
