// HTML escaping for the formatted bodies (org.matrix.custom.html) of the admin room's messages.
// Stateless, thread-safe.
#ifndef CONCLAVE_SERVICE_ADMIN_ROOM_HTML_H_
#define CONCLAVE_SERVICE_ADMIN_ROOM_HTML_H_

#include <string>
#include <string_view>

namespace conclave::service {

// Escapes `text` for HTML text and attribute values (&, <, >, ").
std::string EscapeHtml(std::string_view text);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_ADMIN_ROOM_HTML_H_
