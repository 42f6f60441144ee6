// A TCP relay for chaos benchmarks: listens on 127.0.0.1 (port chosen by
// the kernel) and forwards every accepted connection to 127.0.0.1:target,
// both directions, until told to break it:
//   - ResetAll(): every open connection is closed with RST on both legs
//     (SO_LINGER 0), as a middlebox dropping state does — each peer sees
//     ECONNRESET at once;
//   - StallAll(): every open connection stops forwarding (bytes stay in the
//     kernel buffers, nothing is closed), as a black-holed path does — only
//     the peers' own timeouts (ping/pong, idle) can notice. Connections
//     accepted later are not stalled. ResetStalled() ends the stalled ones
//     with RST.
// One thread per connection, joined when the connection ends (the thread
// count stays bounded over a long run). Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

namespace srexpert::bench {

class ChaosRelay {
 public:
  // Throws std::runtime_error when it cannot listen.
  explicit ChaosRelay(uint16_t target_port);
  ~ChaosRelay();  // Stop()
  ChaosRelay(const ChaosRelay&) = delete;
  ChaosRelay& operator=(const ChaosRelay&) = delete;

  uint16_t port() const { return port_; }

  // Each returns how many open connections it broke.
  int ResetAll();
  int StallAll();
  int ResetStalled();

  int open_connections() const;   // forwarding or stalled, not yet ended
  uint64_t accepted() const { return accepted_.load(); }
  uint64_t failed_dials() const { return failed_dials_.load(); }  // target refused

  // Stops accepting and closes every connection; joins every thread.
  void Stop();

 private:
  struct Conn;
  void AcceptLoop();
  void Serve(const std::shared_ptr<Conn>& c);
  void ReapFinished();

  uint16_t target_;
  uint16_t port_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> accepted_{0}, failed_dials_{0};
  std::thread accept_;
  mutable std::mutex mu_;
  std::list<std::shared_ptr<Conn>> conns_;
};

}  // namespace srexpert::bench
