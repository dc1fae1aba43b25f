#include "daemon/mqtt/topics.h"

#include <vector>

#include "protocols/common/json_limits.h"
#include "protocols/common/json_text.h"

namespace cloudless {

namespace {

bool starts_with_segment(std::string_view topic, std::string_view head) {
  return topic.size() > head.size() && topic.substr(0, head.size()) == head && topic[head.size()] == '/';
}

std::vector<std::string_view> split_levels(std::string_view text) {
  std::vector<std::string_view> levels;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = text.find('/', start);
    if (slash == std::string_view::npos) {
      levels.push_back(text.substr(start));
      return levels;
    }
    levels.push_back(text.substr(start, slash - start));
    start = slash + 1;
  }
}

}  // namespace

std::string discovery_node_id(std::string_view base_topic) {
  std::string id(base_topic);
  for (char& c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return id;
}

std::string Topics::discovery_config(std::string_view device_id) const {
  return prefix + "/device/" + discovery_node_id(base) + "/" + std::string(device_id) + "/config";
}

std::string Topics::discovery_filter() const { return prefix + "/device/" + discovery_node_id(base) + "/+/config"; }

InboundTopic classify_topic(const Topics& topics, std::string_view topic) {
  InboundTopic result;

  // Discovery topics first: the prefix and the base topic could in theory be equal.
  if (topics.discovery_enabled()) {
    if (topic == topics.ha_status()) {
      result.kind = InboundTopic::Kind::ha_status;
      return result;
    }
    const std::string head = topics.prefix + "/device/" + discovery_node_id(topics.base);
    if (starts_with_segment(topic, head)) {
      const auto levels = split_levels(topic.substr(head.size() + 1));
      if (levels.size() == 2 && !levels[0].empty() && levels[1] == "config") {
        result.kind = InboundTopic::Kind::discovery_config;
        result.device_id = std::string(levels[0]);
        return result;
      }
    }
  }

  if (!starts_with_segment(topic, topics.base)) return result;
  const std::string_view rest = topic.substr(topics.base.size() + 1);

  constexpr std::string_view kRequest = "bridge/request/";
  if (rest.substr(0, kRequest.size()) == kRequest) {
    if (rest.size() == kRequest.size()) return result;
    result.kind = InboundTopic::Kind::bridge_request;
    result.request = std::string(rest.substr(kRequest.size()));
    return result;
  }

  const auto levels = split_levels(rest);
  if (levels.empty() || levels[0].empty()) return result;
  if (levels.size() == 2 && levels[1] == "set") {
    result.kind = InboundTopic::Kind::device_set;
  } else if (levels.size() == 3 && levels[1] == "set" && !levels[2].empty()) {
    result.kind = InboundTopic::Kind::device_set_attribute;
    result.attribute = std::string(levels[2]);
  } else if (levels.size() == 2 && levels[1] == "get") {
    result.kind = InboundTopic::Kind::device_get;
  } else {
    return result;
  }
  result.device_id = std::string(levels[0]);
  return result;
}

nlohmann::json raw_payload_to_json(std::string_view payload) {
  const Result<nlohmann::json> parsed = parse_untrusted_json(payload);
  if (parsed && (parsed->is_number() || parsed->is_boolean())) return *parsed;
  return std::string(payload);
}

std::string json_to_raw_payload(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  return dump_json(value);
}

std::string dump_json(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string state_payload(const nlohmann::json& state, const std::optional<std::string>& last_seen) {
  if (!last_seen) return state.is_object() ? dump_json(state) : "{}";
  return with_last_seen(state_text(state), *last_seen);
}

std::string state_text(const nlohmann::json& state) {
  if (!state.is_object()) return "{}";
  if (state.contains("last_seen")) {
    // A device's own last_seen gives way to the bridge's (never expected: the rare path may copy).
    nlohmann::json replaced = state;
    replaced.erase("last_seen");
    return dump_json(replaced);
  }
  return dump_json(state);
}

std::string with_last_seen(std::string_view state_text, const std::string& last_seen) {
  // Written into one buffer of the final size: every state message comes through here.
  std::string text;
  text.reserve(state_text.size() + last_seen.size() + 16);
  text.append(state_text.empty() ? std::string_view("{") : state_text.substr(0, state_text.size() - 1));  // no '}'
  if (text.size() > 1) text += ',';
  text += "\"last_seen\":";
  append_json_string(text, last_seen);
  text += '}';
  return text;
}

}  // namespace cloudless
