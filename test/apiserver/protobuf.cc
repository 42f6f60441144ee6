#include "test/apiserver/protobuf.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <vector>

#include "common/base64.h"
#include "common/time_format.h"

namespace srexpert::testing {
namespace {

// How a field's value reads on the wire and renders in JSON.
enum class Type {
  kString,       // length-delimited UTF-8
  kBytes,        // length-delimited, base64 in JSON ([]byte)
  kInt,          // varint, int32/int64
  kBool,         // varint
  kMessage,      // length-delimited nested message
  kStringMap,    // repeated entry {1 key, 2 value string}
  kBytesMap,     // repeated entry {1 key, 2 value bytes}: base64 values
  kTime,         // metav1.Time {1 seconds, 2 nanos}: RFC 3339 in JSON
  kRawJson,      // metav1.FieldsV1 {1 Raw}: the raw bytes are the JSON value
  kIntOrString,  // intstr.IntOrString {1 type, 2 intVal, 3 strVal}: a number or a string
  kQuantityMap,  // repeated entry {1 key, 2 resource.Quantity {1 string}}
};

struct Message;

struct Field {
  int number;
  const char* json;
  Type type;
  bool repeated = false;
  // A Go pointer (or omitempty-less) field: gogo marshals it only when set,
  // so presence is meaningful and a zero value is kept. Other fields are
  // always on the wire and their zero value means "omitted" (omitempty).
  bool pointer = false;
  const Message* message = nullptr;
};

struct Message {
  const char* name;
  std::vector<Field> fields;
};

// --- Messages, by field number from the generated.proto files (see the header).

const Message kOwnerReference{"OwnerReference",
                              {{1, "kind", Type::kString},
                               {3, "name", Type::kString},
                               {4, "uid", Type::kString},
                               {5, "apiVersion", Type::kString},
                               {6, "controller", Type::kBool, false, true},
                               {7, "blockOwnerDeletion", Type::kBool, false, true}}};

const Message kFieldsV1{"FieldsV1", {{1, "Raw", Type::kRawJson}}};

const Message kManagedFieldsEntry{"ManagedFieldsEntry",
                                  {{1, "manager", Type::kString},
                                   {2, "operation", Type::kString},
                                   {3, "apiVersion", Type::kString},
                                   {4, "time", Type::kTime, false, true},
                                   {6, "fieldsType", Type::kString},
                                   {7, "fieldsV1", Type::kMessage, false, true, &kFieldsV1},
                                   {8, "subresource", Type::kString}}};

const Message kObjectMeta{
    "ObjectMeta",
    {{1, "name", Type::kString},
     {2, "generateName", Type::kString},
     {3, "namespace", Type::kString},
     {4, "selfLink", Type::kString},
     {5, "uid", Type::kString},
     {6, "resourceVersion", Type::kString},
     {7, "generation", Type::kInt},
     {8, "creationTimestamp", Type::kTime},
     {9, "deletionTimestamp", Type::kTime, false, true},
     {10, "deletionGracePeriodSeconds", Type::kInt, false, true},
     {11, "labels", Type::kStringMap},
     {12, "annotations", Type::kStringMap},
     {13, "ownerReferences", Type::kMessage, true, false, &kOwnerReference},
     {14, "finalizers", Type::kString, true},
     {17, "managedFields", Type::kMessage, true, false, &kManagedFieldsEntry}}};

const Message kSecret{"Secret",
                      {{1, "metadata", Type::kMessage, false, false, &kObjectMeta},
                       {2, "data", Type::kBytesMap},
                       {3, "type", Type::kString},
                       {4, "stringData", Type::kStringMap},
                       {5, "immutable", Type::kBool, false, true}}};

const Message kConfigMap{"ConfigMap",
                         {{1, "metadata", Type::kMessage, false, false, &kObjectMeta},
                          {2, "data", Type::kStringMap},
                          {3, "binaryData", Type::kBytesMap},
                          {4, "immutable", Type::kBool, false, true}}};

const Message kNamespaceSpec{"NamespaceSpec", {{1, "finalizers", Type::kString, true}}};
const Message kNamespaceCondition{"NamespaceCondition",
                                  {{1, "type", Type::kString},
                                   {2, "status", Type::kString},
                                   {4, "lastTransitionTime", Type::kTime},
                                   {5, "reason", Type::kString},
                                   {6, "message", Type::kString}}};
const Message kNamespaceStatus{
    "NamespaceStatus",
    {{1, "phase", Type::kString},
     {2, "conditions", Type::kMessage, true, false, &kNamespaceCondition}}};
const Message kNamespace{"Namespace",
                         {{1, "metadata", Type::kMessage, false, false, &kObjectMeta},
                          {2, "spec", Type::kMessage, false, false, &kNamespaceSpec},
                          {3, "status", Type::kMessage, false, false, &kNamespaceStatus}}};

const Message kObjectReference{"ObjectReference",
                               {{1, "kind", Type::kString},
                                {2, "namespace", Type::kString},
                                {3, "name", Type::kString},
                                {4, "uid", Type::kString},
                                {5, "apiVersion", Type::kString},
                                {6, "resourceVersion", Type::kString},
                                {7, "fieldPath", Type::kString}}};
const Message kLocalObjectReference{"LocalObjectReference", {{1, "name", Type::kString}}};
const Message kServiceAccount{
    "ServiceAccount",
    {{1, "metadata", Type::kMessage, false, false, &kObjectMeta},
     {2, "secrets", Type::kMessage, true, false, &kObjectReference},
     {3, "imagePullSecrets", Type::kMessage, true, false, &kLocalObjectReference},
     {4, "automountServiceAccountToken", Type::kBool, false, true}}};

const Message kPreconditions{
    "Preconditions",
    {{1, "uid", Type::kString, false, true}, {2, "resourceVersion", Type::kString, false, true}}};
const Message kDeleteOptions{"DeleteOptions",
                             {{1, "gracePeriodSeconds", Type::kInt, false, true},
                              {2, "preconditions", Type::kMessage, false, true, &kPreconditions},
                              {3, "orphanDependents", Type::kBool, false, true},
                              {4, "propagationPolicy", Type::kString, false, true},
                              {5, "dryRun", Type::kString, true}}};

const Message kEviction{"Eviction",
                        {{1, "metadata", Type::kMessage, false, false, &kObjectMeta},
                         {2, "deleteOptions", Type::kMessage, false, true, &kDeleteOptions}}};

const Message kLabelSelectorRequirement{"LabelSelectorRequirement",
                                        {{1, "key", Type::kString},
                                         {2, "operator", Type::kString},
                                         {3, "values", Type::kString, true}}};
const Message kLabelSelector{
    "LabelSelector",
    {{1, "matchLabels", Type::kStringMap},
     {2, "matchExpressions", Type::kMessage, true, false, &kLabelSelectorRequirement}}};

// rbac.authorization.k8s.io/v1
const Message kPolicyRule{"PolicyRule",
                          {{1, "verbs", Type::kString, true},
                           {2, "apiGroups", Type::kString, true},
                           {3, "resources", Type::kString, true},
                           {4, "resourceNames", Type::kString, true},
                           {5, "nonResourceURLs", Type::kString, true}}};
const Message kAggregationRule{
    "AggregationRule", {{1, "clusterRoleSelectors", Type::kMessage, true, false, &kLabelSelector}}};
const Message kRole{"Role",
                    {{1, "metadata", Type::kMessage, false, false, &kObjectMeta},
                     {2, "rules", Type::kMessage, true, false, &kPolicyRule}}};
const Message kClusterRole{
    "ClusterRole",
    {{1, "metadata", Type::kMessage, false, false, &kObjectMeta},
     {2, "rules", Type::kMessage, true, false, &kPolicyRule},
     {3, "aggregationRule", Type::kMessage, false, true, &kAggregationRule}}};
const Message kSubject{"Subject",
                       {{1, "kind", Type::kString},
                        {2, "apiGroup", Type::kString},
                        {3, "name", Type::kString},
                        {4, "namespace", Type::kString}}};
const Message kRoleRef{
    "RoleRef",
    {{1, "apiGroup", Type::kString}, {2, "kind", Type::kString}, {3, "name", Type::kString}}};
const Message kRoleBinding{"RoleBinding",
                           {{1, "metadata", Type::kMessage, false, false, &kObjectMeta},
                            {2, "subjects", Type::kMessage, true, false, &kSubject},
                            {3, "roleRef", Type::kMessage, false, false, &kRoleRef}}};
const Message kClusterRoleBinding{"ClusterRoleBinding",
                                  {{1, "metadata", Type::kMessage, false, false, &kObjectMeta},
                                   {2, "subjects", Type::kMessage, true, false, &kSubject},
                                   {3, "roleRef", Type::kMessage, false, false, &kRoleRef}}};

// core/v1 Service
const Message kServicePort{"ServicePort",
                           {{1, "name", Type::kString},
                            {2, "protocol", Type::kString},
                            {3, "port", Type::kInt},
                            {4, "targetPort", Type::kIntOrString},
                            {5, "nodePort", Type::kInt},
                            {6, "appProtocol", Type::kString, false, true}}};
const Message kClientIPConfig{"ClientIPConfig", {{1, "timeoutSeconds", Type::kInt, false, true}}};
const Message kSessionAffinityConfig{
    "SessionAffinityConfig", {{1, "clientIP", Type::kMessage, false, true, &kClientIPConfig}}};
const Message kServiceSpec{
    "ServiceSpec",
    {{1, "ports", Type::kMessage, true, false, &kServicePort},
     {2, "selector", Type::kStringMap},
     {3, "clusterIP", Type::kString},
     {4, "type", Type::kString},
     {5, "externalIPs", Type::kString, true},
     {7, "sessionAffinity", Type::kString},
     {8, "loadBalancerIP", Type::kString},
     {9, "loadBalancerSourceRanges", Type::kString, true},
     {10, "externalName", Type::kString},
     {11, "externalTrafficPolicy", Type::kString},
     {12, "healthCheckNodePort", Type::kInt},
     {13, "publishNotReadyAddresses", Type::kBool},
     {14, "sessionAffinityConfig", Type::kMessage, false, true, &kSessionAffinityConfig},
     {17, "ipFamilyPolicy", Type::kString, false, true},
     {18, "clusterIPs", Type::kString, true},
     {19, "ipFamilies", Type::kString, true},
     {20, "allocateLoadBalancerNodePorts", Type::kBool, false, true},
     {21, "loadBalancerClass", Type::kString, false, true},
     {22, "internalTrafficPolicy", Type::kString, false, true}}};
const Message kCondition{"Condition",
                         {{1, "type", Type::kString},
                          {2, "status", Type::kString},
                          {3, "observedGeneration", Type::kInt},
                          {4, "lastTransitionTime", Type::kTime},
                          {5, "reason", Type::kString},
                          {6, "message", Type::kString}}};
const Message kPortStatus{"PortStatus",
                          {{1, "port", Type::kInt},
                           {2, "protocol", Type::kString},
                           {3, "error", Type::kString, false, true}}};
const Message kLoadBalancerIngress{"LoadBalancerIngress",
                                   {{1, "ip", Type::kString},
                                    {2, "hostname", Type::kString},
                                    {4, "ports", Type::kMessage, true, false, &kPortStatus}}};
const Message kLoadBalancerStatus{
    "LoadBalancerStatus", {{1, "ingress", Type::kMessage, true, false, &kLoadBalancerIngress}}};
const Message kServiceStatus{
    "ServiceStatus",
    {{1, "loadBalancer", Type::kMessage, false, false, &kLoadBalancerStatus},
     {2, "conditions", Type::kMessage, true, false, &kCondition}}};
const Message kService{"Service",
                       {{1, "metadata", Type::kMessage, false, false, &kObjectMeta},
                        {2, "spec", Type::kMessage, false, false, &kServiceSpec},
                        {3, "status", Type::kMessage, false, false, &kServiceStatus}}};

// core/v1 Pod: the parts of PodSpec and Container that kubectl's generators
// (create deployment|job|cronjob, run) fill, and every field gogo always
// writes; a field outside them is refused by number.
const Message kContainerPort{"ContainerPort",
                             {{1, "name", Type::kString},
                              {2, "hostPort", Type::kInt},
                              {3, "containerPort", Type::kInt},
                              {4, "protocol", Type::kString},
                              {5, "hostIP", Type::kString}}};
const Message kEnvVar{"EnvVar", {{1, "name", Type::kString}, {2, "value", Type::kString}}};
const Message kResourceRequirements{
    "ResourceRequirements",
    {{1, "limits", Type::kQuantityMap}, {2, "requests", Type::kQuantityMap}}};
const Message kVolumeMount{"VolumeMount",
                           {{1, "name", Type::kString},
                            {2, "readOnly", Type::kBool},
                            {3, "mountPath", Type::kString},
                            {4, "subPath", Type::kString},
                            {5, "mountPropagation", Type::kString, false, true},
                            {6, "subPathExpr", Type::kString}}};
const Message kContainer{"Container",
                         {{1, "name", Type::kString},
                          {2, "image", Type::kString},
                          {3, "command", Type::kString, true},
                          {4, "args", Type::kString, true},
                          {5, "workingDir", Type::kString},
                          {6, "ports", Type::kMessage, true, false, &kContainerPort},
                          {7, "env", Type::kMessage, true, false, &kEnvVar},
                          {8, "resources", Type::kMessage, false, false, &kResourceRequirements},
                          {9, "volumeMounts", Type::kMessage, true, false, &kVolumeMount},
                          {13, "terminationMessagePath", Type::kString},
                          {14, "imagePullPolicy", Type::kString},
                          {16, "stdin", Type::kBool},
                          {17, "stdinOnce", Type::kBool},
                          {18, "tty", Type::kBool},
                          {20, "terminationMessagePolicy", Type::kString}}};
const Message kPodSpec{
    "PodSpec",
    {{2, "containers", Type::kMessage, true, false, &kContainer},
     {3, "restartPolicy", Type::kString},
     {4, "terminationGracePeriodSeconds", Type::kInt, false, true},
     {5, "activeDeadlineSeconds", Type::kInt, false, true},
     {6, "dnsPolicy", Type::kString},
     {7, "nodeSelector", Type::kStringMap},
     {8, "serviceAccountName", Type::kString},
     {9, "serviceAccount", Type::kString},
     {10, "nodeName", Type::kString},
     {11, "hostNetwork", Type::kBool},
     {12, "hostPID", Type::kBool},
     {13, "hostIPC", Type::kBool},
     {15, "imagePullSecrets", Type::kMessage, true, false, &kLocalObjectReference},
     {16, "hostname", Type::kString},
     {17, "subdomain", Type::kString},
     {19, "schedulerName", Type::kString},
     {20, "initContainers", Type::kMessage, true, false, &kContainer},
     {21, "automountServiceAccountToken", Type::kBool, false, true},
     {24, "priorityClassName", Type::kString},
     {25, "priority", Type::kInt, false, true},
     {27, "shareProcessNamespace", Type::kBool, false, true},
     {29, "runtimeClassName", Type::kString, false, true},
     {30, "enableServiceLinks", Type::kBool, false, true},
     {31, "preemptionPolicy", Type::kString, false, true},
     {35, "setHostnameAsFQDN", Type::kBool, false, true},
     {37, "hostUsers", Type::kBool, false, true}}};
const Message kPodStatus{"PodStatus",
                         {{1, "phase", Type::kString},
                          {3, "message", Type::kString},
                          {4, "reason", Type::kString},
                          {5, "hostIP", Type::kString},
                          {6, "podIP", Type::kString},
                          {9, "qosClass", Type::kString},
                          {11, "nominatedNodeName", Type::kString}}};
const Message kPod{"Pod",
                   {{1, "metadata", Type::kMessage, false, false, &kObjectMeta},
                    {2, "spec", Type::kMessage, false, false, &kPodSpec},
                    {3, "status", Type::kMessage, false, false, &kPodStatus}}};
const Message kPodTemplateSpec{"PodTemplateSpec",
                               {{1, "metadata", Type::kMessage, false, false, &kObjectMeta},
                                {2, "spec", Type::kMessage, false, false, &kPodSpec}}};

// apps/v1 Deployment
const Message kRollingUpdateDeployment{"RollingUpdateDeployment",
                                       {{1, "maxUnavailable", Type::kIntOrString, false, true},
                                        {2, "maxSurge", Type::kIntOrString, false, true}}};
const Message kDeploymentStrategy{
    "DeploymentStrategy",
    {{1, "type", Type::kString},
     {2, "rollingUpdate", Type::kMessage, false, true, &kRollingUpdateDeployment}}};
const Message kDeploymentSpec{"DeploymentSpec",
                              {{1, "replicas", Type::kInt, false, true},
                               {2, "selector", Type::kMessage, false, true, &kLabelSelector},
                               {3, "template", Type::kMessage, false, false, &kPodTemplateSpec},
                               {4, "strategy", Type::kMessage, false, false, &kDeploymentStrategy},
                               {5, "minReadySeconds", Type::kInt},
                               {6, "revisionHistoryLimit", Type::kInt, false, true},
                               {7, "paused", Type::kBool},
                               {9, "progressDeadlineSeconds", Type::kInt, false, true}}};
const Message kDeploymentStatus{"DeploymentStatus",
                                {{1, "observedGeneration", Type::kInt},
                                 {2, "replicas", Type::kInt},
                                 {3, "updatedReplicas", Type::kInt},
                                 {4, "availableReplicas", Type::kInt},
                                 {5, "unavailableReplicas", Type::kInt},
                                 {7, "readyReplicas", Type::kInt},
                                 {8, "collisionCount", Type::kInt, false, true}}};
const Message kDeployment{"Deployment",
                          {{1, "metadata", Type::kMessage, false, false, &kObjectMeta},
                           {2, "spec", Type::kMessage, false, false, &kDeploymentSpec},
                           {3, "status", Type::kMessage, false, false, &kDeploymentStatus}}};

const Message* MessageFor(std::string_view api_version, std::string_view kind) {
  // DeleteOptions is registered in every group version (the envelope says
  // whichever the client's scheme picked).
  if (kind == "DeleteOptions") return &kDeleteOptions;
  if (api_version == "v1") {
    if (kind == "Secret") return &kSecret;
    if (kind == "ConfigMap") return &kConfigMap;
    if (kind == "Namespace") return &kNamespace;
    if (kind == "ServiceAccount") return &kServiceAccount;
    if (kind == "Service") return &kService;
    if (kind == "Pod") return &kPod;
  }
  if (api_version == "apps/v1" && kind == "Deployment") return &kDeployment;
  if (api_version == "policy/v1" && kind == "Eviction") return &kEviction;
  if (api_version == "rbac.authorization.k8s.io/v1") {
    if (kind == "Role") return &kRole;
    if (kind == "ClusterRole") return &kClusterRole;
    if (kind == "RoleBinding") return &kRoleBinding;
    if (kind == "ClusterRoleBinding") return &kClusterRoleBinding;
  }
  return nullptr;
}

// --- Wire format (protobuf encoding: varint keys, wire types 0 and 2).

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }

  bool Varint(uint64_t* out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return false;
      auto b = static_cast<uint8_t>(data_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        *out = v;
        return true;
      }
    }
    return false;
  }

  bool Bytes(std::string_view* out) {
    uint64_t n = 0;
    if (!Varint(&n) || n > data_.size() - pos_) return false;
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

struct Decoder {
  json::Document::AllocatorType& a;
  std::string error;

  bool Fail(std::string message) {
    if (error.empty()) error = std::move(message);
    return false;
  }

  // One map entry {1 key, 2 value}.
  // resource.Quantity {1 string}: its canonical text.
  bool Quantity(std::string_view bytes, std::string* out) {
    Reader r(bytes);
    out->clear();
    while (!r.done()) {
      uint64_t tag = 0;
      std::string_view v;
      if (!r.Varint(&tag) || tag != ((1 << 3) | 2) || !r.Bytes(&v)) {
        return Fail("Quantity: malformed");
      }
      out->assign(v);
    }
    return true;
  }

  bool IntOrString(std::string_view bytes, json::Value* out) {
    Reader r(bytes);
    uint64_t type = 0, int_val = 0;
    std::string str_val;
    while (!r.done()) {
      uint64_t tag = 0;
      if (!r.Varint(&tag)) return Fail("IntOrString: malformed");
      if ((tag >> 3) == 3 && (tag & 7) == 2) {
        std::string_view v;
        if (!r.Bytes(&v)) return Fail("IntOrString: malformed");
        str_val.assign(v);
      } else if (((tag >> 3) == 1 || (tag >> 3) == 2) && (tag & 7) == 0) {
        uint64_t v = 0;
        if (!r.Varint(&v)) return Fail("IntOrString: malformed");
        ((tag >> 3) == 1 ? type : int_val) = v;
      } else {
        return Fail(fmt::format("IntOrString: field {}", tag >> 3));
      }
    }
    if (type == 1)
      *out = json::String(str_val, a);
    else
      out->SetInt64(static_cast<int32_t>(int_val));
    return true;
  }

  bool MapEntry(std::string_view entry, bool bytes, bool quantity, json::Value* map,
                const char* where) {
    Reader r(entry);
    std::string key, value;
    while (!r.done()) {
      uint64_t tag = 0;
      std::string_view v;
      if (!r.Varint(&tag) || (tag & 7) != 2 || !r.Bytes(&v)) {
        return Fail(fmt::format("{}: malformed map entry", where));
      }
      if ((tag >> 3) == 1)
        key.assign(v);
      else if ((tag >> 3) == 2)
        value.assign(v);
      else
        return Fail(fmt::format("{}: map entry field {}", where, tag >> 3));
    }
    if (quantity) {
      std::string message = std::move(value);
      if (!Quantity(message, &value)) return false;
    }
    std::string rendered = bytes ? base64::Encode(value) : value;
    if (auto it = map->FindMember(key.c_str()); it != map->MemberEnd()) {
      it->value = json::String(rendered, a);
    } else {
      map->AddMember(json::String(key, a), json::String(rendered, a), a);
    }
    return true;
  }

  bool Time(std::string_view bytes, std::string* out, bool* zero) {
    Reader r(bytes);
    int64_t seconds = 0;
    uint64_t nanos = 0;
    while (!r.done()) {
      uint64_t tag = 0, v = 0;
      if (!r.Varint(&tag) || (tag & 7) != 0 || !r.Varint(&v)) return Fail("Time: malformed");
      if ((tag >> 3) == 1)
        seconds = static_cast<int64_t>(v);
      else if ((tag >> 3) == 2)
        nanos = v;
      else
        return Fail(fmt::format("Time: unknown field {}", tag >> 3));
    }
    *zero = seconds == 0 && nanos == 0;
    // metav1.Time marshals to JSON at second precision.
    *out = FormatRfc3339(std::chrono::system_clock::time_point(std::chrono::seconds(seconds)));
    return true;
  }

  // Decodes `bytes` as `m` into the object `out`.
  bool Decode(std::string_view bytes, const Message& m, json::Value* out) {
    Reader r(bytes);
    while (!r.done()) {
      uint64_t tag = 0;
      if (!r.Varint(&tag)) return Fail(fmt::format("{}: truncated field key", m.name));
      int number = static_cast<int>(tag >> 3);
      int wire = static_cast<int>(tag & 7);
      const Field* f = nullptr;
      for (const auto& candidate : m.fields) {
        if (candidate.number == number) f = &candidate;
      }
      if (f == nullptr) {
        return Fail(fmt::format("{}: field {} is not decoded by this test server", m.name, number));
      }
      bool varint = f->type == Type::kInt || f->type == Type::kBool;
      if (wire != (varint ? 0 : 2)) {
        return Fail(fmt::format("{}.{}: wire type {}", m.name, f->json, wire));
      }
      std::string where = fmt::format("{}.{}", m.name, f->json);
      json::Value value;
      bool zero = false;
      if (varint) {
        uint64_t v = 0;
        if (!r.Varint(&v)) return Fail(where + ": truncated varint");
        if (f->type == Type::kBool) {
          value.SetBool(v != 0);
          zero = v == 0;
        } else {
          value.SetInt64(static_cast<int64_t>(v));
          zero = v == 0;
        }
      } else {
        std::string_view v;
        if (!r.Bytes(&v)) return Fail(where + ": truncated length-delimited value");
        switch (f->type) {
          case Type::kString:
            value = json::String(std::string(v), a);
            zero = v.empty();
            break;
          case Type::kBytes:
            value = json::String(base64::Encode(v), a);
            zero = v.empty();
            break;
          case Type::kMessage:
            value.SetObject();
            if (!Decode(v, *f->message, &value)) return false;
            zero = value.MemberCount() == 0;
            break;
          case Type::kIntOrString:
            if (!IntOrString(v, &value)) return false;
            break;
          case Type::kStringMap:
          case Type::kBytesMap:
          case Type::kQuantityMap: {
            json::Value* map = nullptr;
            if (auto it = out->FindMember(f->json); it != out->MemberEnd()) {
              map = &it->value;
            } else {
              out->AddMember(rapidjson::StringRef(f->json), json::Value(rapidjson::kObjectType), a);
              map = &(*out)[f->json];
            }
            if (!MapEntry(v, f->type == Type::kBytesMap, f->type == Type::kQuantityMap, map,
                          where.c_str())) {
              return false;
            }
            continue;
          }
          case Type::kTime: {
            std::string t;
            if (!Time(v, &t, &zero)) return false;
            value = json::String(t, a);
            break;
          }
          case Type::kRawJson: {
            std::string why;
            auto doc = json::Parse(v, &why);
            if (!doc) return Fail(where + ": " + why);
            value.CopyFrom(*doc, a);
            break;
          }
          default:
            return Fail(where + ": unexpected type");
        }
      }
      if (f->repeated) {
        auto it = out->FindMember(f->json);
        if (it == out->MemberEnd()) {
          out->AddMember(rapidjson::StringRef(f->json), json::Value(rapidjson::kArrayType), a);
          it = out->FindMember(f->json);
        }
        it->value.PushBack(value, a);
        continue;
      }
      if (zero && !f->pointer) {
        out->RemoveMember(f->json);
        continue;
      }
      if (auto it = out->FindMember(f->json); it != out->MemberEnd()) {
        it->value = value;  // protobuf: the last occurrence wins
      } else {
        out->AddMember(rapidjson::StringRef(f->json), value, a);
      }
    }
    return true;
  }
};

ApiError Malformed(const std::string& why) {
  return BadRequest("error decoding application/vnd.kubernetes.protobuf body: " + why);
}

}  // namespace

bool ProtobufKindSupported(std::string_view api_version, std::string_view kind) {
  return MessageFor(api_version, kind) != nullptr;
}

std::variant<json::Document, ApiError> DecodeProtobuf(std::string_view body) {
  // k8s.io/apimachinery/pkg/runtime/serializer/protobuf: protoEncodingPrefix.
  static constexpr std::string_view kMagic("k8s\0", 4);
  if (body.substr(0, kMagic.size()) != kMagic) {
    return Malformed("the body does not start with the \"k8s\\x00\" prefix");
  }
  // runtime.Unknown, read by hand: `raw` stays bytes.
  std::string api_version, kind, encoding, content_type;
  std::string_view raw_bytes;
  Reader r(body.substr(kMagic.size()));
  while (!r.done()) {
    uint64_t tag = 0;
    std::string_view v;
    if (!r.Varint(&tag) || (tag & 7) != 2 || !r.Bytes(&v)) return Malformed("Unknown: malformed");
    switch (tag >> 3) {
      case 1: {
        Reader t(v);
        while (!t.done()) {
          uint64_t ttag = 0;
          std::string_view tv;
          if (!t.Varint(&ttag) || (ttag & 7) != 2 || !t.Bytes(&tv)) {
            return Malformed("TypeMeta: malformed");
          }
          if ((ttag >> 3) == 1)
            api_version.assign(tv);
          else if ((ttag >> 3) == 2)
            kind.assign(tv);
          else
            return Malformed(fmt::format("TypeMeta: unknown field {}", ttag >> 3));
        }
        break;
      }
      case 2:
        raw_bytes = v;
        break;
      case 3:
        encoding.assign(v);
        break;
      case 4:
        content_type.assign(v);
        break;
      default:
        return Malformed(fmt::format("Unknown: unknown field {}", tag >> 3));
    }
  }
  if (!encoding.empty()) return Malformed("unsupported contentEncoding \"" + encoding + "\"");
  if (!content_type.empty() && content_type != kProtobufMediaType) {
    return Malformed("unsupported contentType \"" + content_type + "\"");
  }
  if (kind.empty()) return Malformed("the envelope's typeMeta has no kind");
  const Message* m = MessageFor(api_version, kind);
  if (m == nullptr) {
    return UnsupportedMediaType(
        "application/json, application/yaml (this test server decodes "
        "protobuf only for Secret, ConfigMap, Namespace, ServiceAccount, "
        "Service, Pod, Deployment, Eviction, DeleteOptions and the RBAC "
        "kinds; not " +
        api_version + " " + kind + ")");
  }
  json::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  json::SetString(doc, "apiVersion", api_version, a);
  json::SetString(doc, "kind", kind, a);
  Decoder d{a, {}};
  if (!d.Decode(raw_bytes, *m, &doc)) return Malformed(d.error);
  return doc;
}

}  // namespace srexpert::testing
