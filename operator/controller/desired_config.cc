// The token Secret, the agent ConfigMap and the checksum that ties the agent
// pods to the configuration.
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <map>

#include "api/names.h"
#include "common/base64.h"
#include "controller/desired.h"
#include "controller/object_meta.h"

namespace srexpert::controller {

namespace {

int64_t Ms(api::Duration d) { return d.count(); }

void SetInt(json::Value& obj, std::string_view key, int64_t v, json::Allocator& a) {
  json::Set(obj, key, json::Value(static_cast<int64_t>(v)), a);
}
void SetBool(json::Value& obj, std::string_view key, bool v, json::Allocator& a) {
  json::Set(obj, key, json::Value(v), a);
}

}  // namespace

json::Document AgentConfigFile(const api::AgentConfig& config) {
  const auto& spec = config.spec;
  const auto names = api::NamesFor(config.meta.name);
  json::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  SetInt(doc, "version", 1, a);
  json::SetString(doc, "clusterName", spec.cluster_name, a);

  json::Value backend(rapidjson::kObjectType);
  json::SetString(backend, "url", spec.backend.url, a);
  SetBool(backend, "insecure", spec.backend.insecure, a);
  if (!spec.backend.ca_bundle.empty()) json::SetString(backend, "caFile", kCaFile, a);
  if (spec.backend.proxy) {
    json::Value proxy(rapidjson::kObjectType);
    json::SetString(proxy, "url", spec.backend.proxy->url, a);
    json::Set(proxy, "noProxy", internal::StringArray(spec.backend.proxy->no_proxy, a), a);
    json::Set(backend, "proxy", std::move(proxy), a);
  }
  json::Set(doc, "backend", std::move(backend), a);
  json::SetString(doc, "tokenFile", kTokenFile, a);
  json::SetString(doc, "logLevel", spec.agent.log_level, a);
  SetInt(doc, "healthPort", kHealthPort, a);

  json::Value le(rapidjson::kObjectType);
  json::SetString(le, "leaseName", names.lease, a);
  json::SetString(le, "leaseNamespace", config.meta.namespace_, a);
  SetInt(le, "leaseDurationMs", Ms(spec.leader_election.lease_duration), a);
  SetInt(le, "renewDeadlineMs", Ms(spec.leader_election.renew_deadline), a);
  SetInt(le, "retryPeriodMs", Ms(spec.leader_election.retry_period), a);
  json::Set(doc, "leaderElection", std::move(le), a);

  json::Value tunnel(rapidjson::kObjectType);
  SetInt(tunnel, "pingIntervalMs", Ms(spec.tunnel.ping_interval), a);
  SetInt(tunnel, "pongTimeoutMs", Ms(spec.tunnel.pong_timeout), a);
  SetInt(tunnel, "maxMessageBytes", spec.tunnel.max_message_bytes, a);
  json::Value backoff(rapidjson::kObjectType);
  SetInt(backoff, "initialMs", Ms(spec.tunnel.backoff.initial), a);
  SetInt(backoff, "maxMs", Ms(spec.tunnel.backoff.max), a);
  json::Set(backoff, "multiplier", json::Value(spec.tunnel.backoff.multiplier), a);
  json::Set(tunnel, "backoff", std::move(backoff), a);
  json::Set(doc, "tunnel", std::move(tunnel), a);

  json::Value collection(rapidjson::kObjectType);
  SetBool(collection, "events", spec.collection.events, a);
  SetBool(collection, "metrics", spec.collection.metrics, a);
  json::Set(collection, "excludedNamespaces",
            internal::StringArray(spec.collection.excluded_namespaces, a), a);
  SetInt(collection, "metricsIntervalMs", Ms(spec.collection.metrics_interval), a);
  json::Set(collection, "eventsPerSecond", json::Value(spec.collection.events_per_second), a);
  SetInt(collection, "eventBurst", spec.collection.event_burst, a);
  json::Set(doc, "collection", std::move(collection), a);

  json::Value stream(rapidjson::kObjectType);
  SetInt(stream, "maxUnackedBytes", spec.stream.max_unacked_bytes, a);
  SetInt(stream, "maxUnackedMessages", spec.stream.max_unacked_messages, a);
  SetInt(stream, "batchIntervalMs", Ms(spec.stream.batch_interval), a);
  json::Set(doc, "stream", std::move(stream), a);

  json::Value scans(rapidjson::kObjectType);
  SetBool(scans, "enabled", spec.scans.enabled, a);
  SetInt(scans, "intervalMs", Ms(spec.scans.interval), a);
  // The Polaris-format configuration (severities, exemptions, custom
  // checks) as one object the agent hands to scan::ParseConfig; absent when
  // spec.scans sets none, so older configurations stay byte-identical.
  if (std::string polaris = api::PolarisConfigJson(spec.scans); !polaris.empty()) {
    auto parsed = json::Parse(polaris);
    if (parsed) json::Set(scans, "config", json::Value(*parsed, a), a);
  }
  json::Set(doc, "scans", std::move(scans), a);

  json::Value actions(rapidjson::kObjectType);
  SetBool(actions, "scale", spec.actions.scale, a);
  SetBool(actions, "restart", spec.actions.restart, a);
  SetBool(actions, "deletePods", spec.actions.delete_pods, a);
  SetBool(actions, "nodes", spec.actions.nodes, a);
  SetBool(actions, "applyManifests", spec.actions.apply_manifests, a);
  SetBool(actions, "helm", spec.actions.helm, a);
  json::Set(actions, "namespaces", internal::StringArray(spec.actions.namespaces, a), a);
  json::Set(doc, "actions", std::move(actions), a);
  return doc;
}

json::Document DesiredSecret(const api::AgentConfig& config, const BuildInputs& in) {
  auto names = api::NamesFor(config.meta.name);
  auto doc = internal::NewObject("v1", "Secret", names.secret, config.meta.namespace_, config);
  internal::OwnByAgentConfig(doc, config);
  auto& a = doc.GetAllocator();
  json::SetString(doc, "type", "Opaque", a);
  // data, not stringData: the apiserver folds stringData into data, so an
  // apply body with stringData would never match what it reads back.
  json::Value data(rapidjson::kObjectType);
  json::SetString(data, kTokenKey, base64::Encode(in.token), a);
  json::Set(doc, "data", std::move(data), a);
  return doc;
}

json::Document DesiredConfigMap(const api::AgentConfig& config, const BuildInputs&) {
  auto names = api::NamesFor(config.meta.name);
  auto doc =
      internal::NewObject("v1", "ConfigMap", names.config_map, config.meta.namespace_, config);
  internal::OwnByAgentConfig(doc, config);
  auto& a = doc.GetAllocator();
  json::Value data(rapidjson::kObjectType);
  json::SetString(data, kConfigKey, json::DumpPretty(AgentConfigFile(config)) + "\n", a);
  if (!config.spec.backend.ca_bundle.empty()) {
    json::SetString(data, kCaKey, config.spec.backend.ca_bundle, a);
  }
  json::Set(doc, "data", std::move(data), a);
  return doc;
}

std::string ConfigChecksum(const json::Value& config_map) {
  // Length-prefixed fields: no two different inputs share a byte stream.
  std::map<std::string, std::string> data;
  if (const json::Value* d = json::Find(config_map, {"data"}); d != nullptr && d->IsObject()) {
    for (const auto& m : d->GetObject()) {
      if (!m.value.IsString()) continue;
      data.emplace(std::string(m.name.GetString(), m.name.GetStringLength()),
                   std::string(m.value.GetString(), m.value.GetStringLength()));
    }
  }
  std::string stream;
  for (const auto& [k, v] : data) stream += fmt::format("{}:{}{}:{}", k.size(), k, v.size(), v);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(stream.data(), stream.size(), digest, &len, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

}  // namespace srexpert::controller
