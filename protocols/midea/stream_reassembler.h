// Cuts a Midea TCP byte stream into whole packets (docs/midea.md §3.4 for V3, §2 "stream
// splitting" for V2). One read may hold several packets, or half of one; the session feeds every
// read and handles each complete packet. Pure: no socket, no clock.
//
//   framing  magic  length field                       packet length
//   v3       83 70  bytes 2..3, BE: total − 8           field + 8   (8 .. 65543)
//   v2       5A 5A  bytes 4..5, LE: total               field       (56 .. 65535)
//
// Rules (msmart _LanProtocolV3.data_received, midea_ac_lan decode_8370):
//  - bytes before a magic are dropped and counted in StreamChunk::skipped (the session may log them);
//  - a declared length above max_frame_size (or, for V2, below the 56-byte minimum) is an error the
//    moment the length field arrives: nothing of that packet is buffered;
//  - an error is sticky: the stream has lost its framing, so every later feed() reports it again
//    until reset() (the session closes the connection instead);
//  - after feed() returns, at most one incomplete packet (< max_frame_size bytes) stays buffered.
// The reassembler checks framing only; the packet codecs validate content.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "protocols/common/bytes.h"
#include "protocols/common/result.h"

namespace cloudless::midea {

enum class StreamFraming { v2, v3 };

// Real packets are ≤ ~400 bytes (a V3-wrapped AC frame is 150); 4 KiB leaves room for long
// capability pages without letting a corrupt length pin 64 KiB per connection.
constexpr std::size_t kDefaultMaxFrameSize = 4096;

struct StreamChunk {
  std::vector<Bytes> frames;        // complete packets, in stream order
  std::optional<ParseError> error;  // framing lost; offset = stream offset of the bad length field
  std::size_t skipped = 0;          // bytes dropped while looking for a magic
};

class StreamReassembler {
 public:
  // max_frame_size is clamped to the framing's own maximum (and to at least its minimum).
  explicit StreamReassembler(StreamFraming framing, std::size_t max_frame_size = kDefaultMaxFrameSize);

  StreamChunk feed(ByteView data);
  void reset();  // forget buffered bytes and any error; the stream offset restarts at 0

  std::size_t buffered() const { return buffer_.size(); }
  std::size_t max_frame_size() const { return max_frame_size_; }
  bool failed() const { return error_.has_value(); }

 private:
  StreamFraming framing_;
  std::size_t max_frame_size_;
  Bytes buffer_;
  std::size_t stream_offset_ = 0;  // stream offset of buffer_[0]
  std::optional<ParseError> error_;
};

}  // namespace cloudless::midea
