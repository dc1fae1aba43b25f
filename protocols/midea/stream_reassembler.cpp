// Midea TCP stream reassembly. Rules: stream_reassembler.h and docs/midea.md §2, §3.4.
#include "protocols/midea/stream_reassembler.h"

#include <algorithm>
#include <string>

#include "protocols/midea/frame_v3.h"
#include "protocols/midea/packet_v2.h"

namespace cloudless::midea {

namespace {

struct FramingRules {
  const char* name;
  std::uint8_t magic0;
  std::uint8_t magic1;
  std::size_t length_offset;  // where the 2-byte length field starts
  std::size_t min_total;
  std::size_t max_total;
};

constexpr FramingRules kV2Rules{"V2", kV2Magic0, kV2Magic1, 4, kV2MinPacketSize, kV2MaxPacketSize};
constexpr FramingRules kV3Rules{"V3", kV3Magic0, kV3Magic1, 2, kV3PrefixSize, kV3MaxPacketSize};

const FramingRules& rules_for(StreamFraming framing) { return framing == StreamFraming::v2 ? kV2Rules : kV3Rules; }

// Caller guarantees length_offset + 2 bytes at `at`.
std::size_t declared_total(StreamFraming framing, const std::uint8_t* at) {
  if (framing == StreamFraming::v2) return static_cast<std::size_t>(at[4] | at[5] << 8);  // LE, total
  return static_cast<std::size_t>(at[2] << 8 | at[3]) + kV3PrefixSize;                   // BE, total − 8
}

}  // namespace

StreamReassembler::StreamReassembler(StreamFraming framing, std::size_t max_frame_size)
    : framing_(framing),
      max_frame_size_(std::clamp(max_frame_size, rules_for(framing).min_total, rules_for(framing).max_total)) {}

void StreamReassembler::reset() {
  buffer_.clear();
  stream_offset_ = 0;
  error_.reset();
}

StreamChunk StreamReassembler::feed(ByteView data) {
  StreamChunk chunk;
  if (error_) {
    chunk.error = error_;
    return chunk;
  }
  buffer_.insert(buffer_.end(), data.begin(), data.end());
  const FramingRules& rules = rules_for(framing_);
  const std::size_t header_needed = rules.length_offset + 2;

  std::size_t pos = 0;
  for (;;) {
    // Resynchronise on the magic. A lone first magic byte at the very end may be the start of the
    // next packet (midea-local's test keeps a trailing 0x83), so it stays buffered.
    std::size_t start = pos;
    while (start < buffer_.size() &&
           !(buffer_[start] == rules.magic0 && (start + 1 == buffer_.size() || buffer_[start + 1] == rules.magic1))) {
      ++start;
    }
    chunk.skipped += start - pos;
    pos = start;
    if (buffer_.size() - pos < header_needed) break;

    const std::size_t total = declared_total(framing_, buffer_.data() + pos);
    if (total < rules.min_total || total > max_frame_size_) {
      const std::string bound = total < rules.min_total
                                    ? "below the " + std::to_string(rules.min_total) + "-byte minimum"
                                    : "above the " + std::to_string(max_frame_size_) + "-byte maximum";
      error_ = parse_error(std::string(rules.name) + " stream: declared packet length " + std::to_string(total) +
                               " is " + bound,
                           stream_offset_ + pos + rules.length_offset);
      chunk.error = error_;
      stream_offset_ += buffer_.size();
      buffer_.clear();  // the stream has lost its framing; hold nothing of it
      return chunk;
    }
    if (buffer_.size() - pos < total) break;  // wait for the rest
    chunk.frames.emplace_back(buffer_.begin() + static_cast<std::ptrdiff_t>(pos),
                              buffer_.begin() + static_cast<std::ptrdiff_t>(pos + total));
    pos += total;
  }
  buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(pos));
  stream_offset_ += pos;
  return chunk;
}

}  // namespace cloudless::midea
