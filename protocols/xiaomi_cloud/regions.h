// Mi Home's cloud regions: each keeps its own homes and devices, so a listing asks every one the
// user may have used (docs/xiaomi_cloud.md §4).
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace cloudless::xiaomi_cloud {

inline constexpr std::array<std::string_view, 8> kRegions = {"cn", "de", "us", "ru", "tw", "sg", "in", "i2"};

bool is_region(std::string_view name);

// The API base of a region: "https://api.io.mi.com/app" for cn, "https://<r>.api.io.mi.com/app" else.
std::string region_api_base(std::string_view region);

// A base given by hand (tests): "{region}" anywhere in it is replaced by the region name; without it
// the same server answers for every region.
std::string expand_api_base(std::string_view base_template, std::string_view region);

}  // namespace cloudless::xiaomi_cloud
