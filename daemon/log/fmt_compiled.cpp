// fmt's implementation, compiled once for the whole program, as spdlog_compiled.cpp does for spdlog.
//
// spdlog formats with fmt. Linking fmt's shared library costs 84 kB resident for the dozen functions
// we call, so this file includes fmt's implementation header (without FMT_HEADER_ONLY its functions
// are ordinary, not inline, definitions) and instantiates the templates fmt's own library does for
// char. A call that needs another one fails to link; add it here.
#ifdef FMT_HEADER_ONLY
#error "cloudless_log compiles fmt's implementation here; see daemon/CMakeLists.txt"
#endif

#include <fmt/format-inl.h>

FMT_BEGIN_NAMESPACE
namespace detail {
template FMT_API auto dragonbox::to_decimal(float x) noexcept -> dragonbox::decimal_fp<float>;
template FMT_API auto dragonbox::to_decimal(double x) noexcept -> dragonbox::decimal_fp<double>;
template FMT_API auto thousands_sep_impl<char>(locale_ref) -> thousands_sep_result<char>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
}  // namespace detail
FMT_END_NAMESPACE
