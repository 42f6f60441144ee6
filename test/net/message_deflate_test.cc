#include "net/message_deflate.h"

#include <catch2/catch.hpp>

#include <random>

using namespace srexpert::net;

namespace {

std::string Delta(int seq, const std::string& name) {
  return R"({"v":1,"type":"delta","seq":)" + std::to_string(seq) +
         R"(,"payload":{"changes":[{"op":"modified","kind":"Pod","namespace":"team-03","name":")" + name +
         R"(","patch":{"metadata":{"labels":{"bench-round":"r)" + std::to_string(seq % 7) + R"("}}}}]}})";
}

std::string Deflate(MessageCompressor& c, std::string_view text) {
  auto frame = c.Compress(text);
  REQUIRE(frame);
  return *frame;
}

std::string Inflate(MessageDecompressor& d, const std::string& frame, size_t max = 1 << 20) {
  std::string text, error;
  REQUIRE(d.Decompress(frame, max, &text, &error) == MessageDecompressor::Status::kOk);
  return text;
}

}  // namespace

TEST_CASE("messages compressed in order come back unchanged") {
  MessageCompressor c;
  MessageDecompressor d;
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::string text = Delta(i, "web-" + std::to_string(rng() % 1000));
    if (i % 50 == 0) text.append(100000, static_cast<char>('a' + i % 26));  // spans inflate buffers
    CHECK(Inflate(d, Deflate(c, text)) == text);
  }
  CHECK(Inflate(d, Deflate(c, "")).empty());
}

TEST_CASE("empty messages in a row leave the stream intact (RFC 7692 empty block)") {
  // zlib emits nothing for a flush right after a flush; the frame must still
  // end the message, or the receiver's implied tail eats what follows.
  MessageCompressor c;
  MessageDecompressor d;
  CHECK(Inflate(d, Deflate(c, "first")) == "first");
  for (int i = 0; i < 5; ++i) CHECK(Inflate(d, Deflate(c, "")).empty());
  CHECK(Inflate(d, Deflate(c, "after the empty ones")) == "after the empty ones");
}

TEST_CASE("a message like an earlier one costs a few bytes because the window carries over") {
  MessageCompressor c;
  MessageDecompressor d;
  std::string first = Delta(1, "web-0001-5d8f7c9b4-x2kq9");
  std::string second = Delta(2, "web-0001-5d8f7c9b4-x2kq9");
  auto f1 = Deflate(c, first);
  auto f2 = Deflate(c, second);
  CHECK(f1.size() > 80);
  CHECK(f2.size() < 20);  // each message on its own (Beast 1.74's pmd) would take f1's size again
  CHECK(Inflate(d, f1) == first);
  CHECK(Inflate(d, f2) == second);
}

TEST_CASE("a later message cannot be read without the ones before it") {
  MessageCompressor c;
  Deflate(c, Delta(1, "web-0001"));
  auto later = Deflate(c, Delta(2, "web-0001"));
  MessageDecompressor fresh;
  std::string text, error;
  auto status = fresh.Decompress(later, 1 << 20, &text, &error);
  bool same = status == MessageDecompressor::Status::kOk && text == Delta(2, "web-0001");
  CHECK_FALSE(same);
}

TEST_CASE("a small frame that inflates past the limit is refused and breaks the stream") {
  MessageCompressor c;
  MessageDecompressor d;
  auto bomb = Deflate(c, std::string(10 << 20, 'x'));
  CHECK(bomb.size() < 20000);
  std::string text, error;
  CHECK(d.Decompress(bomb, 1 << 20, &text, &error) == MessageDecompressor::Status::kTooBig);
  CHECK(error.find("more than 1048576 bytes") != std::string::npos);
  CHECK(d.Decompress(Deflate(c, "{}"), 1 << 20, &text, &error) ==
        MessageDecompressor::Status::kCorrupt);
}

TEST_CASE("garbage is reported as a corrupt message") {
  MessageDecompressor d;
  std::string text, error;
  CHECK(d.Decompress(std::string("\xff\xff\xff\xff\x00garbage", 12), 1 << 20, &text, &error) ==
        MessageDecompressor::Status::kCorrupt);
  CHECK_FALSE(error.empty());
}
