#include "protocols/xiaomi_cloud/regions.h"

#include <algorithm>

namespace cloudless::xiaomi_cloud {

bool is_region(std::string_view name) { return std::find(kRegions.begin(), kRegions.end(), name) != kRegions.end(); }

std::string region_api_base(std::string_view region) {
  if (region == "cn") return "https://api.io.mi.com/app";
  return "https://" + std::string(region) + ".api.io.mi.com/app";
}

std::string expand_api_base(std::string_view base_template, std::string_view region) {
  constexpr std::string_view kPlaceholder = "{region}";
  std::string base(base_template);
  for (std::size_t at = base.find(kPlaceholder); at != std::string::npos; at = base.find(kPlaceholder, at)) {
    base.replace(at, kPlaceholder.size(), region);
    at += region.size();
  }
  return base;
}

}  // namespace cloudless::xiaomi_cloud
