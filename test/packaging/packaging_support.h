// Helpers for the packaging tests: running the real helm and kubectl
// binaries, rendering the chart, and reading multi-document YAML.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <vector>

namespace srexpert::packaging {

struct CommandResult {
  int exit_code = -1;  // -1 when the process could not be started or was killed
  std::string out;
  std::string err;
  // "exit 1: <stderr>" — for INFO() in a failing check.
  std::string Describe() const;
};

// Runs `argv` (argv[0] is looked up in PATH), feeding `input` on stdin, and
// collects stdout and stderr. `env` entries are added to the environment.
// Never throws for a failing command; throws std::runtime_error when the
// process cannot be spawned at all.
CommandResult Run(const std::vector<std::string>& argv, const std::string& input = {},
                  const std::map<std::string, std::string>& env = {});

// A fresh directory under $TMPDIR, removed with its content on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes `content` to path()/name and returns the full path.
  std::string Write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

std::string SourcePath(const std::string& relative);  // SRX_SOURCE_DIR/relative
std::string ReadFile(const std::string& path);        // throws when unreadable

// The Helm binary scripts/install-deps.sh installs (.tools/helm/helm; the
// HELM environment variable overrides it). Throws with a hint when missing.
std::string HelmBinary();
// Environment that keeps Helm's cache/config/data in `dir`, away from the
// user's own Helm setup.
std::map<std::string, std::string> HelmEnv(const std::string& dir);

// `helm template <release> helm/srexpert-agent -n srexpert-system` with the
// given values files and --set flags.
struct ChartRender {
  std::vector<std::string> values_files;     // paths
  std::vector<std::string> set;              // "a.b=c"
  std::string release = "srexpert-agent";
  std::string namespace_ = "srexpert-system";
  bool include_crds = false;
};
CommandResult HelmTemplate(const ChartRender& render);
// `helm lint --strict helm/srexpert-agent` with values files and --set flags.
CommandResult HelmLint(const std::vector<std::string>& values_files,
                       const std::vector<std::string>& set = {});

// Every non-empty document of a multi-document YAML stream.
std::vector<YAML::Node> LoadDocuments(const std::string& yaml);
// "Kind namespace/name" (or "Kind name" when cluster-scoped).
std::string ObjectKey(const YAML::Node& object);
// The documents by ObjectKey; throws on a duplicate key.
std::map<std::string, YAML::Node> ByKey(const std::vector<YAML::Node>& documents);
// The one document of `kind` (and `name`, when given); throws otherwise.
YAML::Node FindOne(const std::vector<YAML::Node>& documents, const std::string& kind,
                   const std::string& name = {});
// Canonical text of a node (comments and formatting dropped), for comparing
// two renders.
std::string Canonical(const YAML::Node& node);

}  // namespace srexpert::packaging
