#include "scan/cli/sources.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>

#include "kube/config.h"
#include "kube/rest_client.h"

namespace srexpert::scan::cli {

namespace {

namespace fs = std::filesystem;

bool ManifestExtension(const fs::path& p) {
  std::string ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

// Reads at most limit+1 bytes, so an oversized input is detected without
// holding it.
std::string ReadBounded(std::istream& in, size_t limit, std::string* text) {
  text->clear();
  char buf[65536];
  while (in) {
    in.read(buf, sizeof buf);
    text->append(buf, static_cast<size_t>(in.gcount()));
    if (text->size() > limit) return "more than the limit";
  }
  return "";
}

std::string ReadFile(const fs::path& path, const ManifestLimits& limits, std::vector<Manifest>* out) {
  std::string name = path.string();
  struct stat st {};
  if (stat(name.c_str(), &st) != 0) return fmt::format("{}: cannot read: {}", name, std::strerror(errno));
  if (static_cast<size_t>(st.st_size) > limits.max_bytes) {
    return fmt::format("{}: {} bytes is more than the limit of {} bytes", name, st.st_size,
                       limits.max_bytes);
  }
  std::ifstream in(name, std::ios::binary);
  if (!in) return fmt::format("{}: cannot read", name);
  std::string text;
  if (!ReadBounded(in, limits.max_bytes, &text).empty()) {
    return fmt::format("{}: more than the limit of {} bytes", name, limits.max_bytes);
  }
  return ParseManifests(text, name, limits, out);
}

}  // namespace

std::string ReadManifestPath(const std::string& path, std::istream& in, const ManifestLimits& limits,
                             std::vector<Manifest>* out) {
  if (path == "-") {
    std::string text;
    if (!ReadBounded(in, limits.max_bytes, &text).empty()) {
      return fmt::format("<stdin>: more than the limit of {} bytes", limits.max_bytes);
    }
    return ParseManifests(text, "<stdin>", limits, out);
  }
  std::error_code ec;
  fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) return fmt::format("{}: no such file or directory", path);
  if (!fs::is_directory(status)) return ReadFile(path, limits, out);
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(path, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) && ManifestExtension(it->path())) files.push_back(it->path());
  }
  if (ec) return fmt::format("{}: {}", path, ec.message());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::string e = ReadFile(f, limits, out);
    if (!e.empty()) return e;
  }
  return "";
}

std::string ListCluster(const std::string& kubeconfig, const std::string& ns,
                        std::vector<Manifest>* out, std::vector<std::string>* warnings) {
  auto config = kube::LoadKubeconfig(kubeconfig);
  if (!config.ok()) return fmt::format("kubeconfig: {}", config.error().ToString());
  auto client = kube::RestClient::New(*config);
  if (!client.ok()) return fmt::format("kubeconfig: {}", client.error().ToString());

  struct Kind {
    const char* api_version;
    const char* kind;
    bool namespaced;
  };
  static const Kind kKinds[] = {
      {"v1", "Namespace", false},
      {"v1", "Pod", true},
      {"apps/v1", "Deployment", true},
      {"apps/v1", "StatefulSet", true},
      {"apps/v1", "DaemonSet", true},
      {"apps/v1", "ReplicaSet", true},
      {"v1", "ReplicationController", true},
      {"batch/v1", "Job", true},
      {"batch/v1", "CronJob", true},
      {"v1", "ServiceAccount", true},
      {"v1", "ConfigMap", true},
      {"networking.k8s.io/v1", "NetworkPolicy", true},
      {"networking.k8s.io/v1", "Ingress", true},
      {"policy/v1", "PodDisruptionBudget", true},
      {"autoscaling/v2", "HorizontalPodAutoscaler", true},
      {"rbac.authorization.k8s.io/v1", "Role", true},
      {"rbac.authorization.k8s.io/v1", "RoleBinding", true},
      {"rbac.authorization.k8s.io/v1", "ClusterRole", false},
      {"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", false},
  };
  std::string source = "cluster";
  for (const Kind& k : kKinds) {
    bool context_only = false;
    std::shared_ptr<kube::Document> doc;
    if (!ns.empty() && !k.namespaced) {
      if (std::string_view(k.kind) == "Namespace") {
        auto got = (*client)->Get({k.api_version, k.kind, "", ns});
        if (!got.ok()) {
          if (got.error().IsNotFound()) return fmt::format("namespace {} not found", ns);
          warnings->push_back(fmt::format("Namespace {}: {}", ns, got.error().ToString()));
          continue;
        }
        auto d = std::make_shared<kube::Document>(std::move(*got));
        Manifest m;
        m.value = d.get();
        m.doc = d;
        m.source = source;
        m.kind = k.kind;
        m.api_version = k.api_version;
        out->push_back(std::move(m));
        continue;
      }
      if (std::string_view(k.kind) == "ClusterRoleBinding") continue;
      context_only = true;  // ClusterRoles resolve the namespace's RoleBindings
    }
    kube::ListOptions options;
    options.limit = 500;
    options.skip_server_bookkeeping = true;
    auto list = (*client)->ListAll({k.api_version, k.kind, k.namespaced ? ns : "", ""}, options);
    if (!list.ok()) {
      warnings->push_back(fmt::format("{} not listed: {}", k.kind, list.error().ToString()));
      continue;
    }
    auto d = std::make_shared<kube::Document>(std::move(*list));
    const auto* items = d->IsObject() && d->HasMember("items") && (*d)["items"].IsArray()
                            ? &(*d)["items"]
                            : nullptr;
    if (!items) continue;
    for (const auto& item : items->GetArray()) {
      Manifest m;
      m.doc = d;
      m.value = &item;
      m.source = source;
      m.kind = k.kind;
      m.api_version = k.api_version;
      m.context_only = context_only;
      out->push_back(std::move(m));
    }
  }
  return "";
}

}  // namespace srexpert::scan::cli
