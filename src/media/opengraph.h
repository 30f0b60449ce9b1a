// OpenGraph metadata of an HTML page (https://ogp.me/), for URL previews (Client-Server API,
// "Content repository", GET /_matrix/client/v1/media/preview_url). Parsed with libxml2's
// forgiving HTML parser: real pages are rarely valid.
//
// Private to the media module. Stateless; thread-safe (libxml2's parser is reentrant per
// document).
#ifndef CONCLAVE_MEDIA_OPENGRAPH_H_
#define CONCLAVE_MEDIA_OPENGRAPH_H_

#include <boost/json/object.hpp>
#include <string_view>

namespace conclave::media {

// The `og:*` properties of `html` (from <meta property="og:..." content="...">, also given as
// name=), the first value of each; og:title from <title> and og:description from <meta
// name="description"> when the page has none; og:image resolved against `page_url`;
// og:image:width and og:image:height as integers when they are. Empty when nothing is found.
boost::json::object OpenGraphOf(std::string_view html, std::string_view page_url);

}  // namespace conclave::media

#endif  // CONCLAVE_MEDIA_OPENGRAPH_H_
