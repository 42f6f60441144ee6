#include "common/base64.h"

#include <catch2/catch.hpp>

using namespace srexpert;

TEST_CASE("base64 encodes the RFC 4648 test vectors", "[base64]") {
  CHECK(base64::Encode("") == "");
  CHECK(base64::Encode("f") == "Zg==");
  CHECK(base64::Encode("fo") == "Zm8=");
  CHECK(base64::Encode("foo") == "Zm9v");
  CHECK(base64::Encode("foobar") == "Zm9vYmFy");
  CHECK(base64::EncodeUrl("\xfb\xff") == "-_8");
}

TEST_CASE("base64 decodes with or without padding and ignores line breaks", "[base64]") {
  CHECK(base64::Decode("Zm9vYmFy") == "foobar");
  CHECK(base64::Decode("Zg==") == "f");
  CHECK(base64::Decode("Zg") == "f");
  CHECK(base64::Decode("Zm9v\nYmFy\n") == "foobar");
  CHECK(base64::DecodeUrl("-_8") == "\xfb\xff");
}

TEST_CASE("base64 rejects invalid input", "[base64]") {
  CHECK_FALSE(base64::Decode("Zm9v!"));
  CHECK_FALSE(base64::Decode("Zg==Zg"));
  CHECK_FALSE(base64::Decode("Z"));
  CHECK_FALSE(base64::Decode("-_8"));
}
