// One UDP socket for every miIO session on an io_context, datagrams handed out by sender.
//
//   session A ─send_to(A's device)─┐                        ┌─▶ session A (datagram from A's device)
//   session B ─send_to(B's device)─┼─▶ [ one UDP socket ] ──┼─▶ session B
//   session C ─send_to(C's device)─┘      drained per wake  └─▶ unknown sender: counted, dropped
//
// Why: with a socket per session, every reply woke the event loop on its own, and each wake-up cost a
// context switch and an epoll re-arm. Devices polled on a common grid answer within a few
// milliseconds of each other; one socket lets one wake-up read all that are there.
//
// Reading: when the socket becomes readable, every datagram queued in it is read and handed over (at
// most kMaxPerDrain, then the rest of the loop gets a turn). After a drain that found datagrams, the
// next one is `coalesce` later instead of at the next readable edge, so the answers of one poll round
// are read a few at a time rather than one wake-up each. A drain that finds nothing goes back to
// waiting for the socket. So an answer waits at most `coalesce` longer, and an idle socket costs
// nothing. The pause is taken only while some receiver still expects an answer (expect_reply): a
// lone answer, the last of a round, or a datagram nobody waits for does not cost a second wake-up.
//
// Who gets what: a sender address and port belongs to at most one receiver. Another session for the
// same device (two config entries naming one address) cannot share the socket, since the sender could
// not tell their answers apart: it gets a socket of its own (attach() says no). The socket stays open,
// on one source port, while anything holds this object; it closes with the last holder.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "protocols/common/bytes.h"

namespace cloudless::miio {

// What a shared socket hands each datagram from the receiver's peer to.
class DatagramReceiver {
 public:
  virtual void on_datagram(ByteView datagram) = 0;

 protected:
  ~DatagramReceiver() = default;
};

class SharedSocket : public std::enable_shared_from_this<SharedSocket> {
 public:
  using udp = boost::asio::ip::udp;
  // The pause between drains while answers keep coming.
  static constexpr std::chrono::microseconds kDefaultCoalesce{5000};
  static constexpr int kMaxPerDrain = 64;

  // The socket the sessions on `io` share: made on first use, gone when no session holds it.
  static std::shared_ptr<SharedSocket> of(boost::asio::io_context& io);
  // A socket of its own (a session whose peer is already taken on the shared one, tests).
  static std::shared_ptr<SharedSocket> create(boost::asio::io_context& io,
                                              std::chrono::microseconds coalesce = kDefaultCoalesce);
  ~SharedSocket();

  // Datagrams from `peer` go to `receiver` from now on. False if another receiver has `peer` (error
  // stays clear) or the socket cannot be opened (error says why).
  bool attach(const udp::endpoint& peer, const std::shared_ptr<DatagramReceiver>& receiver,
              boost::system::error_code& error);
  // Stops handing `peer`'s datagrams to `receiver`; nothing if `peer` is someone else's.
  void detach(const udp::endpoint& peer, const DatagramReceiver* receiver);
  // Whether `receiver` is waiting for an answer from `peer` (it sent a request), so that a drain is
  // worth repeating shortly.
  void expect_reply(const udp::endpoint& peer, const DatagramReceiver* receiver, bool expecting);
  // Sent at once or lost: the socket never blocks, and a lost datagram is the caller's deadline's business.
  void send_to(ByteView datagram, const udp::endpoint& peer);

  std::uint64_t unknown_senders() const { return unknown_senders_; }
  std::uint64_t drains() const { return drains_; }
  std::size_t receivers() const { return receivers_.size(); }

 private:
  struct Receiver {
    std::weak_ptr<DatagramReceiver> receiver;
    const DatagramReceiver* identity;
    bool expecting = false;
  };

  SharedSocket(boost::asio::io_context& io, std::chrono::microseconds coalesce);
  void wait_readable();
  void drain();
  void go_idle();
  bool watch(bool on);
  void read_after(std::chrono::microseconds delay);

  // The UDP socket itself, a plain descriptor: an Asio socket would sit in the event loop's epoll
  // set for good, and every datagram would wake the loop, pause or not.
  int socket_ = -1;
  // An epoll instance of our own that holds socket_ while we wait for it: the event loop waits on
  // this one, which is readable when socket_ is. During a pause socket_ is taken out of it.
  boost::asio::posix::stream_descriptor readiness_;
  bool watching_ = false;
  boost::asio::steady_timer pause_;
  std::chrono::microseconds coalesce_;
  std::map<udp::endpoint, Receiver> receivers_;
  std::size_t expecting_ = 0;  // receivers with `expecting` set
  // Bumped when the last receiver leaves: a wait or pause from before finds it changed and does nothing.
  std::uint64_t generation_ = 0;
  bool waiting_ = false;  // an async_wait or a pause is pending
  std::uint64_t unknown_senders_ = 0;
  std::uint64_t drains_ = 0;
};

}  // namespace cloudless::miio
