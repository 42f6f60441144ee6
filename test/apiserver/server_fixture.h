// The set-up of the HTTP-level tests of the test server: a started
// loopback API server and a TestClient holding its token and CA.
#pragma once

#include "test/apiserver/api_server.h"
#include "test/apiserver/test_client.h"

namespace srexpert::testing {

struct ServerFixture {
  ApiServer server;
  TestClient client{Started(server)};

 private:
  // Starts the server before the client (a member initializer) connects.
  static ApiServer& Started(ApiServer& s) {
    s.Start();
    return s;
  }
};

}  // namespace srexpert::testing
