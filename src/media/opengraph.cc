#include "opengraph.h"

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include <charconv>
#include <memory>
#include <string>

#include "conclave/core/http_client.h"

namespace conclave::media {
namespace {

// Longest value kept: a description is a line, not the page.
constexpr size_t kMaxValue = 2000;

std::string Attribute(xmlNode* node, const char* name) {
  xmlChar* value = xmlGetProp(node, reinterpret_cast<const xmlChar*>(name));
  if (value == nullptr) return {};
  std::string out(reinterpret_cast<const char*>(value));
  xmlFree(value);
  return out.substr(0, kMaxValue);
}

bool Named(xmlNode* node, const char* name) {
  return node->type == XML_ELEMENT_NODE &&
         xmlStrcasecmp(node->name, reinterpret_cast<const xmlChar*>(name)) == 0;
}

struct Found {
  boost::json::object og;
  std::string title;
  std::string description;
};

void Walk(xmlNode* node, Found& found) {
  for (; node != nullptr; node = node->next) {
    if (Named(node, "meta")) {
      std::string property = Attribute(node, "property");
      if (property.empty()) property = Attribute(node, "name");
      const std::string content = Attribute(node, "content");
      if (property.rfind("og:", 0) == 0 && !content.empty() && !found.og.contains(property)) {
        found.og[property] = content;
      } else if (property == "description" && found.description.empty()) {
        found.description = content;
      }
    } else if (Named(node, "title") && found.title.empty()) {
      xmlChar* text = xmlNodeGetContent(node);
      if (text != nullptr) {
        found.title = std::string(reinterpret_cast<const char*>(text)).substr(0, kMaxValue);
        xmlFree(text);
      }
    }
    Walk(node->children, found);
  }
}

void IntegerIfItIs(boost::json::object& og, const char* key) {
  auto* value = og.if_contains(key);
  if (value == nullptr || !value->is_string()) return;
  const std::string_view text = value->get_string();
  int64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec == std::errc() && end == text.data() + text.size()) *value = number;
}

}  // namespace

boost::json::object OpenGraphOf(std::string_view html, std::string_view page_url) {
  std::unique_ptr<xmlDoc, void (*)(xmlDoc*)> doc(
      htmlReadMemory(
          html.data(), static_cast<int>(html.size()), nullptr, nullptr,
          HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET),
      &xmlFreeDoc);
  if (doc == nullptr) return {};
  Found found;
  Walk(xmlDocGetRootElement(doc.get()), found);
  if (!found.og.contains("og:title") && !found.title.empty()) found.og["og:title"] = found.title;
  if (!found.og.contains("og:description") && !found.description.empty()) {
    found.og["og:description"] = found.description;
  }
  if (auto* image = found.og.if_contains("og:image"); image != nullptr && image->is_string()) {
    *image = core::ResolveUrl(page_url, std::string_view(image->get_string()));
  }
  IntegerIfItIs(found.og, "og:image:width");
  IntegerIfItIs(found.og, "og:image:height");
  return std::move(found.og);
}

}  // namespace conclave::media
