// libFuzzer harness for the Mi kettle payload codec (protocols/xiaomi_ble/codec/kettle.h): the kettle's
// notifications and read values come over the air from whatever answers at the kettle's address.
//
// Invariants (a violation aborts, so libFuzzer reports it as a crash):
//  1. parse_kettle_status, decode_kettle_time_limit and decode_kettle_boil_mode never crash, never
//     read out of bounds (ASan) and never hit UB (UBSan), on any input.
//  2. A status is accepted only from ≥ 7 bytes; its fields are the input bytes (action 0..3, mode
//     255/1/2/3, type 0/1, temperatures bytes 4/5, minutes present iff ≥ 8 bytes); every name is
//     non-empty. Errors point inside the input (or at its end when it is too short).
//  3. The time limit and boil mode decoders accept exactly one byte in range, and re-encode to it.
//  4. The setup encoder, fed the status's own type and set temperature, succeeds exactly for
//     40..95 °C and writes [type, temperature].
// Seeds: tests/fuzz/corpus/kettle_status/ (docs/ble.md §4.3 payloads).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "protocols/common/bytes.h"
#include "protocols/xiaomi_ble/codec/kettle.h"

namespace {

using namespace cloudless;
using namespace cloudless::xiaomi_ble;

#define FUZZ_CHECK(condition)                                                                   \
  do {                                                                                          \
    if (!(condition)) {                                                                         \
      std::fprintf(stderr, "invariant failed: %s (%s:%d)\n", #condition, __FILE__, __LINE__); \
      std::abort();                                                                             \
    }                                                                                           \
  } while (false)

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);

  // 1, 2: the status.
  const Result<KettleStatus> status = parse_kettle_status(input);
  if (!status) {
    FUZZ_CHECK(status.error().offset <= size);
    FUZZ_CHECK(!status.error().what.empty());
  } else {
    FUZZ_CHECK(size >= kKettleStatusMinSize);
    FUZZ_CHECK(static_cast<std::uint8_t>(status->action) == data[0] && data[0] <= 3);
    FUZZ_CHECK(status->mode_code == data[1]);
    FUZZ_CHECK(status->mode == (data[1] == 0xFF ? KettleMode::none
                                : data[1] == 1  ? KettleMode::boil
                                                : KettleMode::keep_warm));
    FUZZ_CHECK(data[1] == 0xFF || (data[1] >= 1 && data[1] <= 3));
    FUZZ_CHECK(status->keep_warm_set_temperature == data[4]);
    FUZZ_CHECK(status->current_temperature == data[5]);
    FUZZ_CHECK(static_cast<std::uint8_t>(status->keep_warm_type) == data[6] && data[6] <= 1);
    FUZZ_CHECK(status->keep_warm_minutes.has_value() == (size >= 8));
    if (status->keep_warm_minutes) FUZZ_CHECK(*status->keep_warm_minutes >= 0 && *status->keep_warm_minutes <= 0xFFFF);
    FUZZ_CHECK(!kettle_action_name(status->action).empty());
    FUZZ_CHECK(!kettle_mode_name(status->mode).empty());
    FUZZ_CHECK(!kettle_keep_warm_type_name(status->keep_warm_type).empty());

    // 4: the setup encoder's range check.
    const Result<Bytes> setup = encode_kettle_setup(status->keep_warm_type, status->keep_warm_set_temperature);
    const bool in_range = status->keep_warm_set_temperature >= kKettleMinKeepWarmTemperature &&
                          status->keep_warm_set_temperature <= kKettleMaxKeepWarmTemperature;
    FUZZ_CHECK(setup.has_value() == in_range);
    if (setup) FUZZ_CHECK(setup->size() == 2 && (*setup)[0] == data[6] && (*setup)[1] == data[4]);
  }

  // 3: the two one-byte read values.
  const Result<double> limit = decode_kettle_time_limit(input);
  FUZZ_CHECK(limit.has_value() == (size == 1 && data[0] <= 24));
  if (limit) {
    const Result<Bytes> again = encode_kettle_time_limit(*limit);
    FUZZ_CHECK(again.has_value() && *again == Bytes(data, data + size));
  } else {
    FUZZ_CHECK(limit.error().offset <= size);
  }
  const Result<bool> boil = decode_kettle_boil_mode(input);
  FUZZ_CHECK(boil.has_value() == (size == 1 && data[0] <= 1));
  if (boil) FUZZ_CHECK(encode_kettle_boil_mode(*boil) == Bytes(data, data + size));
  return 0;
}
