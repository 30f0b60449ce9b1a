// fmt's implementation, compiled once for the whole process (like asio_impl.cc for Asio).
//
// Debian ships libfmt.so but no static archive, and the release binary links no third-party
// shared library, so fmt's compiled part (fmt 9.1's src/format.cc: format-inl.h plus its
// explicit instantiations) is built here, in core. Every other translation unit includes
// <fmt/format.h> without FMT_HEADER_ONLY and calls these definitions instead of emitting its own
// copy. In the dev build core is never unloaded, so fmt's statics (the dragonbox tables, the
// locale facets it caches) live in a library that stays mapped, never in a module.
#include <fmt/format-inl.h>

FMT_BEGIN_NAMESPACE
namespace detail {

template FMT_API auto dragonbox::to_decimal(float x) noexcept -> dragonbox::decimal_fp<float>;
template FMT_API auto dragonbox::to_decimal(double x) noexcept -> dragonbox::decimal_fp<double>;

#ifndef FMT_STATIC_THOUSANDS_SEPARATOR
template FMT_API locale_ref::locale_ref(const std::locale& loc);
template FMT_API auto locale_ref::get<std::locale>() const -> std::locale;
#endif

template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<char>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
template FMT_API void buffer<char>::append(const char*, const char*);
// format.h declares no extern template for it (fmt issue #2377); conclave's own callers reach
// it through core::internal::VStrAppend (str_cat.h), never by instantiating it themselves.
template FMT_API void vformat_to(buffer<char>&, string_view,
                                 basic_format_args<FMT_BUFFER_CONTEXT(char)>, locale_ref);

template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<wchar_t>;
template FMT_API auto decimal_point_impl(locale_ref) -> wchar_t;
template FMT_API void buffer<wchar_t>::append(const wchar_t*, const wchar_t*);

}  // namespace detail
FMT_END_NAMESPACE
