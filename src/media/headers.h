// The response headers of a media download (Client-Server API, "Content repository": "Serving
// inline content", security considerations): Content-Type, Content-Disposition, ETag,
// Cache-Control, Content-Security-Policy, Cross-Origin-Resource-Policy, X-Content-Type-Options.
//
// Private to the media module. Stateless functions; thread-safe.
#ifndef CONCLAVE_MEDIA_HEADERS_H_
#define CONCLAVE_MEDIA_HEADERS_H_

#include <string>
#include <string_view>

#include "conclave/core/http.h"
#include "conclave/service/media/media_store.h"

namespace conclave::media {

// `content_type` without its parameters and spaces, lower-case ("Text/HTML; charset=x" ->
// "text/html").
std::string BaseType(std::string_view content_type);

// Whether `content_type` (parameters ignored, case-insensitive) is on the spec's list of types
// safe to serve with `Content-Disposition: inline`.
bool InlineSafe(std::string_view content_type);

// `inline` for InlineSafe types, `attachment` otherwise, with `filename` (when not empty) as a
// quoted-string when it is printable ASCII, else as `filename*=utf-8''<percent-encoded>`
// (RFC 6266 section 4.1, RFC 8187); no byte of `filename` reaches the header unescaped.
std::string ContentDisposition(std::string_view content_type, std::string_view filename);

// Sets `response`'s content type and the download headers for `record`; `filename` overrides the
// uploaded name when not empty. `authenticated`: Cache-Control private (the response depends on
// the access token), public otherwise.
void SetDownloadHeaders(const service::MediaRecord& record, std::string_view filename,
                        bool authenticated, core::Response& response);

}  // namespace conclave::media

#endif  // CONCLAVE_MEDIA_HEADERS_H_
