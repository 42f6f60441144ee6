// A minimal raw HTTPS client for the test server's own tests: plain requests
// and watch streams, verifying the server certificate against the generated
// CA. Deliberately independent of operator/kube (the client under test).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/json.h"
#include "test/apiserver/api_server.h"

namespace srexpert::testing {

struct TestResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  json::Document Json() const;  // null document when the body is not JSON
};

// One watch: a thread reads newline-delimited events into a queue.
class WatchStream {
 public:
  ~WatchStream();
  // Next event, or nullopt after `timeout` / at end of stream.
  std::optional<json::Document> Next(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // True once the server ended the stream (cleanly or not).
  bool Ended(std::chrono::milliseconds wait = std::chrono::seconds(5));
  bool EndedWithError() const;  // connection reset / truncated chunked body
  int status() const { return status_; }

 private:
  friend class TestClient;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int status_ = 0;
};

class TestClient {
 public:
  // Connects to `server` with its token and CA.
  explicit TestClient(const ApiServer& server);
  TestClient(std::string host, uint16_t port, std::string ca_file, std::string token);

  TestResponse Request(const std::string& method, const std::string& target,
                       const std::string& body = "",
                       const std::string& content_type = "application/json",
                       const std::map<std::string, std::string>& extra_headers = {});
  TestResponse Get(const std::string& target) { return Request("GET", target); }
  TestResponse Post(const std::string& target, const std::string& body) {
    return Request("POST", target, body);
  }
  TestResponse Put(const std::string& target, const std::string& body) {
    return Request("PUT", target, body);
  }
  TestResponse Patch(const std::string& target, const std::string& body,
                     const std::string& content_type) {
    return Request("PATCH", target, body, content_type);
  }
  TestResponse Delete(const std::string& target, const std::string& body = "") {
    return Request("DELETE", target, body);
  }
  std::unique_ptr<WatchStream> Watch(const std::string& target);

  void SetToken(std::string token) { token_ = std::move(token); }

 private:
  std::string host_;
  uint16_t port_;
  std::string ca_file_;
  std::string token_;
};

// Polls `pred` until it holds or `timeout` passes.
bool Eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace srexpert::testing
