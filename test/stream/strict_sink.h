// A ChangeSink for collector tests: every call fails the test unless the
// test's sink overrides it, so a collector reporting something it should not
// (an Upsert from the event collector, metrics from the resource collector)
// is caught rather than ignored.
#pragma once

#include <catch2/catch.hpp>

#include <string>

#include "stream/change_sink.h"

namespace srexpert::stream::testing {

class StrictSink : public ChangeSink {
 public:
  void Upsert(const std::string&, const std::string&, const std::string&, JsonText) override {
    FAIL("unexpected Upsert");
  }
  void Remove(const std::string&, const std::string&, const std::string&) override {
    FAIL("unexpected Remove");
  }
  void Synced(const std::string&) override { FAIL("unexpected Synced"); }
  void Unavailable(const std::string&, const std::string&) override {
    FAIL("unexpected Unavailable");
  }
  void Event(const std::string&, JsonText) override { FAIL("unexpected Event"); }
  void Metrics(JsonText) override { FAIL("unexpected Metrics"); }
};

}  // namespace srexpert::stream::testing
