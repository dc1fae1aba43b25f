#include "protocols/miio/shared_socket.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <span>
#include <utility>
#include <vector>

namespace cloudless::miio {

namespace asio = boost::asio;

namespace {
// One buffer for the datagrams of every socket of the thread: each is handed over before the next
// read, and nothing keeps a view into it. The largest UDP payload fits. Left uninitialised: only the
// pages a datagram reaches become resident (replies are 100 bytes to a few kB).
std::span<std::uint8_t> receive_buffer() {
  constexpr std::size_t kLargestDatagram = 65536;
  thread_local const auto buffer = std::make_unique_for_overwrite<std::uint8_t[]>(kLargestDatagram);
  return {buffer.get(), kLargestDatagram};
}

struct SharedOnContext {
  const asio::io_context* io;
  std::weak_ptr<SharedSocket> socket;
};
}  // namespace

std::shared_ptr<SharedSocket> SharedSocket::of(asio::io_context& io) {
  // Sessions live on their io_context's thread, so each thread keeps its own list. An io_context
  // destroyed and another made at its address is harmless: its socket went with its last session.
  thread_local std::vector<SharedOnContext> shared;
  std::erase_if(shared, [](const SharedOnContext& entry) { return entry.socket.expired(); });
  for (const auto& entry : shared)
    if (entry.io == &io) return entry.socket.lock();
  auto socket = create(io);
  shared.push_back({&io, socket});
  return socket;
}

std::shared_ptr<SharedSocket> SharedSocket::create(asio::io_context& io, std::chrono::microseconds coalesce) {
  return std::shared_ptr<SharedSocket>(new SharedSocket(io, coalesce));
}

SharedSocket::SharedSocket(asio::io_context& io, std::chrono::microseconds coalesce)
    : readiness_(io), pause_(io), coalesce_(coalesce) {}

SharedSocket::~SharedSocket() {
  boost::system::error_code ignored;
  readiness_.close(ignored);
  if (socket_ >= 0) ::close(socket_);
}

bool SharedSocket::attach(const udp::endpoint& peer, const std::shared_ptr<DatagramReceiver>& receiver,
                          boost::system::error_code& error) {
  error.clear();
  if (receivers_.contains(peer)) return false;
  if (socket_ < 0) {
    // Reads and sends on it must never wait: drain() reads until the socket is empty, send_to() drops
    // what the socket cannot take at once.
    const int socket = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (socket < 0) {
      error.assign(errno, boost::system::system_category());
      return false;
    }
    // Every device's answers queue here while a pause lasts: ask for a larger receive buffer than the
    // default. The kernel caps the request at net.core.rmem_max and doubles it: with stock settings
    // (208 kB) that holds 332 datagrams of 300 bytes instead of 166.
    const int buffer_size = 1 << 20;
    ::setsockopt(socket, SOL_SOCKET, SO_RCVBUF, &buffer_size, sizeof buffer_size);
    const int epoll = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll < 0) error.assign(errno, boost::system::system_category());
    if (!error) readiness_.assign(epoll, error);
    if (error) {
      if (epoll >= 0 && !readiness_.is_open()) ::close(epoll);
      ::close(socket);
      return false;
    }
    socket_ = socket;
  }
  receivers_.emplace(peer, Receiver{receiver, receiver.get()});
  wait_readable();
  return true;
}

void SharedSocket::detach(const udp::endpoint& peer, const DatagramReceiver* receiver) {
  const auto found = receivers_.find(peer);
  if (found == receivers_.end() || found->second.identity != receiver) return;
  if (found->second.expecting) --expecting_;
  receivers_.erase(found);
  if (receivers_.empty()) go_idle();
}

void SharedSocket::expect_reply(const udp::endpoint& peer, const DatagramReceiver* receiver, bool expecting) {
  const auto found = receivers_.find(peer);
  if (found == receivers_.end() || found->second.identity != receiver || found->second.expecting == expecting) return;
  found->second.expecting = expecting;
  if (expecting)
    ++expecting_;
  else
    --expecting_;
}

// Nobody to hand datagrams to: stop waiting, so that the pending wait no longer keeps this object
// alive. The socket stays open (the same source port) until the object goes.
void SharedSocket::go_idle() {
  ++generation_;
  waiting_ = false;
  boost::system::error_code ignored;
  readiness_.cancel(ignored);
  pause_.cancel();
  watch(false);
}

// socket_ in or out of our epoll instance.
bool SharedSocket::watch(bool on) {
  if (on == watching_ || !readiness_.is_open()) return on == watching_;
  epoll_event event{};
  event.events = EPOLLIN;
  if (::epoll_ctl(readiness_.native_handle(), on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, socket_, &event) != 0)
    return false;
  watching_ = on;
  return true;
}

void SharedSocket::send_to(ByteView datagram, const udp::endpoint& peer) {
  if (socket_ < 0) return;
  ::sendto(socket_, datagram.data(), datagram.size(), MSG_NOSIGNAL, peer.data(), static_cast<socklen_t>(peer.size()));
}

void SharedSocket::wait_readable() {
  if (waiting_ || receivers_.empty() || socket_ < 0) return;
  // Should the kernel refuse to watch the socket (out of memory), look again after a pause rather
  // than never read it again.
  if (!watch(true)) {
    read_after(coalesce_.count() > 0 ? coalesce_ : kDefaultCoalesce);
    return;
  }
  waiting_ = true;
  readiness_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                        [self = shared_from_this(), generation = generation_](const boost::system::error_code& error) {
                          if (generation != self->generation_ || error == asio::error::operation_aborted) return;
                          self->waiting_ = false;
                          self->drain();
                        });
}

// The next drain after `delay`, without being woken by datagrams in the meantime.
void SharedSocket::read_after(std::chrono::microseconds delay) {
  watch(false);
  waiting_ = true;
  pause_.expires_after(delay);
  pause_.async_wait([self = shared_from_this(), generation = generation_](const boost::system::error_code& error) {
    if (generation != self->generation_ || error == asio::error::operation_aborted) return;
    self->waiting_ = false;
    self->drain();
  });
}

void SharedSocket::drain() {
  ++drains_;
  const std::span<std::uint8_t> buffer = receive_buffer();
  int datagrams = 0;
  // A receiver may detach (and the socket go idle) while it handles its datagram: then stop reading.
  const std::uint64_t generation = generation_;
  while (datagrams < kMaxPerDrain && generation == generation_) {
    udp::endpoint sender;
    socklen_t sender_size = static_cast<socklen_t>(sender.capacity());
    const ssize_t size = ::recvfrom(socket_, buffer.data(), buffer.size(), 0, sender.data(), &sender_size);
    if (size < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    ++datagrams;  // an error (a refused port reported late, say) counts too: the drain stays bounded
    if (size < 0 || sender_size > sender.capacity()) continue;
    sender.resize(sender_size);
    const auto found = receivers_.find(sender);
    if (found == receivers_.end()) {
      ++unknown_senders_;  // someone else on the network: not one of our devices' address and port
      continue;
    }
    // Held for the call: the receiver's callbacks may drop the last other reference to it.
    if (const auto receiver = found->second.receiver.lock())
      receiver->on_datagram(ByteView(buffer.data(), static_cast<std::size_t>(size)));
  }
  if (generation != generation_ || waiting_ || receivers_.empty()) return;
  if (datagrams == 0 || expecting_ == 0 || coalesce_.count() == 0) {
    wait_readable();
    return;
  }
  // Answers are arriving: read the next ones together, a little later, and not be woken for each.
  read_after(datagrams == kMaxPerDrain ? std::chrono::microseconds(0) : coalesce_);
}

}  // namespace cloudless::miio
