// ObjectCodec: lossless, deterministic, and small for realistic objects —
// the leader's memory at 10,000 pods depends on it.
#include "stream/object_codec.h"

#include <catch2/catch.hpp>

#include "stream/projection.h"
#include "test/stream/realistic_objects.h"

using srexpert::stream::ObjectCodec;
namespace t = srexpert::testing;

namespace {

std::string ProjectedPod(int i) {
  t::ClusterLayout layout;
  auto p = t::PlacePod(layout, i);
  auto doc = t::ParseFixture(t::RealisticPodJson(p.ns, p.deployment, p.name, p.node, i));
  auto projected = srexpert::stream::Project("Pod", doc);
  REQUIRE(projected);
  return *projected;
}

}  // namespace

TEST_CASE("object codec: decode gives back exactly the encoded text, every kind on its own") {
  ObjectCodec codec;
  std::string a = R"({"metadata":{"name":"a"},"spec":{"x":1}})";
  std::string b = R"({"metadata":{"name":"b"},"spec":{"x":2,"y":[1,2,3]}})";
  std::string other = R"({"metadata":{"name":"n1"},"status":{"capacity":{"cpu":"8"}}})";
  auto ea = codec.Encode("ConfigMap", a);
  auto eb = codec.Encode("ConfigMap", b);
  auto eo = codec.Encode("Node", other);
  CHECK(codec.Decode("ConfigMap", ea) == a);
  CHECK(codec.Decode("ConfigMap", eb) == b);
  CHECK(codec.Decode("Node", eo) == other);
  CHECK(ObjectCodec::DecodedSize(eb) == b.size());
  CHECK(codec.Decode("ConfigMap", std::string_view(eb).substr(0, eb.size() - 1)) == std::nullopt);
  CHECK(codec.Decode("ConfigMap", "") == std::nullopt);
  CHECK(codec.Decode("Unknown", eb) == std::nullopt);
}

TEST_CASE("object codec: the same text always encodes to the same bytes") {
  ObjectCodec codec;
  std::string first = ProjectedPod(0), second = ProjectedPod(1);
  auto e1 = codec.Encode("Pod", second);
  codec.Encode("Pod", ProjectedPod(2));
  auto e2 = codec.Encode("Pod", second);
  CHECK(e1 == e2);
}

TEST_CASE("object codec: realistic projected pods keep a fraction of their size") {
  ObjectCodec codec;
  size_t text = 0, encoded = 0;
  for (int i = 0; i < 200; ++i) {
    std::string pod = ProjectedPod(i);
    std::string e = codec.Encode("Pod", pod);
    REQUIRE(codec.Decode("Pod", e) == pod);
    text += pod.size();
    encoded += e.size();
  }
  INFO("text " << text << " B, encoded " << encoded << " B");
  CHECK(encoded * 3 < text);
}
