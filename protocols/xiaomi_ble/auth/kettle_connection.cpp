#include "protocols/xiaomi_ble/auth/kettle_connection.h"

#include <algorithm>
#include <utility>

#include <boost/asio/post.hpp>

#include "protocols/xiaomi_ble/codec/kettle.h"

namespace cloudless::xiaomi_ble {

namespace {

long long whole_seconds(std::chrono::steady_clock::duration span) {
  return std::chrono::duration_cast<std::chrono::seconds>(span).count();
}

}  // namespace

KettleConnection::KettleConnection(boost::asio::io_context& io, std::string mac, MacAddress address,
                                   std::uint16_t product_id, Options options, Events events)
    : io_(io),
      mac_(std::move(mac)),
      address_(address),
      product_id_(product_id),
      options_(std::move(options)),
      events_(std::move(events)),
      retry_timer_(io),
      backoff_(options_.backoff_initial) {}

KettleConnection::~KettleConnection() { stop(); }

template <typename Handler>
auto KettleConnection::guarded(Handler handler) {
  return [this, alive = std::weak_ptr<int>(alive_), generation = generation_,
          handler = std::move(handler)](auto&&... args) mutable {
    if (alive.expired() || phase_ == Phase::stopped || generation != generation_) return;
    handler(std::forward<decltype(args)>(args)...);
  };
}

void KettleConnection::start() {
  if (phase_ != Phase::stopped) return;
  phase_ = Phase::waiting;
  backoff_ = options_.backoff_initial;
  boost::asio::post(io_, guarded([this] {
                      if (phase_ == Phase::waiting) connect();
                    }));
}

void KettleConnection::stop() {
  if (phase_ == Phase::stopped) return;
  teardown();
  phase_ = Phase::stopped;
  alive_ = std::make_shared<int>(0);  // every handler still queued holds a weak_ptr to the old one
  retry_timer_.cancel();
  retry_at_.reset();
}

// ---- connecting and registering -------------------------------------------------------------------

void KettleConnection::connect() {
  retry_timer_.cancel();
  retry_at_.reset();
  phase_ = Phase::connecting;
  ++counters_.connect_attempts;
  connect_handle_ = options_.connector(mac_, guarded([this](const std::optional<GattError>& error, Link link) {
                                         on_connected(error, std::move(link));
                                       }));
  // The retry timer is idle while connecting: it guards the connect.
  retry_timer_.expires_after(options_.connect_deadline);
  retry_timer_.async_wait(
      [this, alive = std::weak_ptr<int>(alive_), generation = generation_](const boost::system::error_code& error) {
        if (error || alive.expired() || generation != generation_ || phase_ != Phase::connecting) return;
        ++counters_.connect_failures;
        fail(Failure::connect, "no answer from the Bluetooth stack within " +
                                   std::to_string(whole_seconds(options_.connect_deadline)) + " s");
      });
}

void KettleConnection::on_connected(const std::optional<GattError>& error, Link link) {
  if (phase_ != Phase::connecting) return;
  retry_timer_.cancel();  // the connect deadline
  if (error || !link.gatt) {
    ++counters_.connect_failures;
    fail(Failure::connect, error ? error->describe() : "no connection");
    return;
  }
  link_ = std::move(link);
  if (link_.on_disconnected) {
    link_.on_disconnected(guarded([this](const GattError& why) { on_link_lost(why); }));
  }
  token_is_new_ = false;
  const std::optional<LegacyToken> token = events_.choose_token ? events_.choose_token(token_is_new_) : std::nullopt;
  if (!token) {
    fail(Failure::auth, "no usable token");
    return;
  }
  phase_ = Phase::authenticating;
  LegacyRegisterParams params;
  params.mac = address_;
  params.product_id = product_id_;
  params.token = *token;
  auth_ = start_legacy_register(
      io_, link_.gatt, params, options_.auth_timeouts,
      guarded([this](const std::optional<AuthError>& auth_error, const LegacyRegisterResult& result) {
        on_registered(auth_error, result);
      }));
}

void KettleConnection::on_registered(const std::optional<AuthError>& error, const LegacyRegisterResult& result) {
  auth_.reset();
  if (phase_ != Phase::authenticating) return;
  if (error) {
    ++counters_.auth_failures;
    if (error->kind == AuthFailure::mismatch) {
      ++counters_.token_rejected;
      fail(Failure::token_rejected, error->text);
    } else if (error->kind == AuthFailure::link && error->gatt && error->gatt->kind == GattErrorKind::disconnected) {
      fail(Failure::lost, error->gatt->describe());  // out of range mid-handshake: a link problem
    } else {
      fail(Failure::auth, error->text);
    }
    return;
  }
  if (events_.registered) events_.registered(result, token_is_new_);
  token_is_new_ = false;
  phase_ = Phase::setting_up;
  link_.gatt->subscribe(uuid16(kKettleStatusChar), guarded([this](const Bytes& value) {
                          if ((phase_ == Phase::setting_up || phase_ == Phase::ready) && events_.status)
                            events_.status(value);
                        }),
                        guarded([this](const std::optional<GattError>& sub_error) { on_subscribed(sub_error); }));
}

void KettleConnection::on_subscribed(const std::optional<GattError>& error) {
  if (phase_ != Phase::setting_up) return;
  if (error) {
    fail(Failure::setup, "enabling status notifications failed: " + error->describe());
    return;
  }
  read_settings([this] {
    if (phase_ != Phase::setting_up) return;
    phase_ = Phase::ready;
    ++counters_.sessions;
    backoff_ = options_.backoff_initial;
    if (events_.ready) events_.ready();
  });
}

// ---- settings -------------------------------------------------------------------------------------

void KettleConnection::read_settings(std::function<void()> then) {
  if (!link_.gatt) return;
  link_.gatt->read(
      uuid16(kKettleTimeLimitChar),
      guarded([this, then = std::move(then)](const std::optional<GattError>& error, Bytes value) mutable {
        if (events_.setting_read) events_.setting_read(kKettleTimeLimitChar, error, value);
        if (!link_.gatt) return;
        link_.gatt->read(
            uuid16(kKettleBoilModeChar),
            guarded([this, then = std::move(then)](const std::optional<GattError>& read_error, Bytes boil) {
              if (events_.setting_read) events_.setting_read(kKettleBoilModeChar, read_error, boil);
              then();
            }));
      }));
}

void KettleConnection::write(std::uint16_t characteristic, Bytes value,
                             std::function<void(const std::optional<GattError>&)> done) {
  if (!ready()) return;
  link_.gatt->write(uuid16(characteristic), std::move(value), WriteType::request,
                    guarded([done = std::move(done)](const std::optional<GattError>& error) { done(error); }));
}

// ---- presence, failures and reconnecting ------------------------------------------------------------

void KettleConnection::on_advert() {
  if (phase_ != Phase::waiting || !last_failure_at_) return;
  // Back in range after a connect failure or a drop: try now rather than at the end of a long wait.
  // Not after a refused token (an advert does not change the token), and never sooner than the
  // initial backoff after the failure (a kettle advertises several times a second).
  if (last_failure_ != Failure::connect && last_failure_ != Failure::lost) return;
  const Clock::time_point earliest = *last_failure_at_ + options_.backoff_initial;
  if (retry_at_ && *retry_at_ <= earliest) return;
  ++counters_.early_retries;
  const auto now = Clock::now();
  if (now >= earliest) {
    retry_now();
    return;
  }
  schedule_retry(std::chrono::duration_cast<std::chrono::milliseconds>(earliest - now));
}

void KettleConnection::on_link_lost(const GattError& why) {
  if (phase_ == Phase::stopped || phase_ == Phase::waiting) return;
  ++counters_.disconnects;
  fail(Failure::lost, why.describe());
}

void KettleConnection::fail(Failure failure, const std::string& detail) {
  const bool was_ready = phase_ == Phase::ready;
  teardown();
  last_failure_ = failure;
  last_failure_at_ = Clock::now();
  const std::chrono::milliseconds delay = backoff_;
  backoff_ = std::min(backoff_ * 2, options_.backoff_max);
  schedule_retry(delay);
  if (events_.failed) events_.failed(failure, detail, was_ready, delay);
}

// Ends whatever link, handshake or connect is running; their late handlers see a new generation.
void KettleConnection::teardown() {
  ++generation_;
  if (auth_) auth_->cancel();
  if (link_.disconnect) link_.disconnect();
  // Dropping the handle withdraws a pending connect now (GattClient dequeues a request before it
  // calls back, so this is safe inside that callback too).
  connect_handle_.reset();
  // The link and the handshake are released from the loop, not here: teardown can run inside one of
  // their own handlers.
  boost::asio::post(io_, [link = std::move(link_), auth = std::move(auth_)] {});
  link_ = {};
  auth_.reset();
  if (phase_ != Phase::stopped) phase_ = Phase::waiting;
}

void KettleConnection::schedule_retry(std::chrono::milliseconds delay) {
  phase_ = Phase::waiting;
  retry_at_ = Clock::now() + delay;
  retry_timer_.expires_at(*retry_at_);
  retry_timer_.async_wait([this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& error) {
    // A stale expiry (the wait was re-armed or cut short meanwhile) is not this wait's end.
    if (error || alive.expired() || phase_ != Phase::waiting || !retry_at_ || Clock::now() < *retry_at_) return;
    connect();
  });
}

void KettleConnection::retry_now() {
  if (phase_ != Phase::waiting) return;
  retry_timer_.cancel();
  retry_at_.reset();
  boost::asio::post(io_, guarded([this] {
                      if (phase_ == Phase::waiting && !retry_at_) connect();
                    }));
}

}  // namespace cloudless::xiaomi_ble
