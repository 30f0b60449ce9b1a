// AddressFilter and DeniedByDefault (http_client.h): addresses as 16 bytes (IPv4 mapped into
// ::ffff:0:0/96), compared with ranges by their leading bits.
#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <optional>

#include "conclave/core/http_client.h"
#include "conclave/core/str_cat.h"

namespace conclave::core {
namespace {

using Bytes = std::array<uint8_t, 16>;

struct DeniedRange {
  const char* address;
  int prefix;  // of the address as written (IPv4: 0..32)
};

// RFC 6890 special-purpose registries, plus multicast and the forms that embed an IPv4 address.
constexpr DeniedRange kDenied[] = {
    {"0.0.0.0", 8},      {"10.0.0.0", 8},    {"100.64.0.0", 10},   {"127.0.0.0", 8},
    {"169.254.0.0", 16}, {"172.16.0.0", 12}, {"192.0.0.0", 24},    {"192.0.2.0", 24},
    {"192.168.0.0", 16}, {"198.18.0.0", 15}, {"198.51.100.0", 24}, {"203.0.113.0", 24},
    {"224.0.0.0", 4},    {"240.0.0.0", 4},   {"::", 96},           {"64:ff9b::", 96},
    {"64:ff9b:1::", 48}, {"100::", 64},      {"2001::", 32},       {"2001:db8::", 32},
    {"2002::", 16},      {"fc00::", 7},      {"fe80::", 10},       {"fec0::", 10},
    {"ff00::", 8}};

std::optional<Bytes> Parse(std::string_view text) {
  boost::system::error_code ec;
  const boost::asio::ip::address address = boost::asio::ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  if (address.is_v6()) return address.to_v6().to_bytes();
  return boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, address.to_v4()).to_bytes();
}

// The prefix length in the 128-bit space of a range written with `prefix` bits of `text`.
int Prefix128(std::string_view text, int prefix) {
  return text.find(':') == std::string_view::npos ? 96 + prefix : prefix;
}

bool Matches(const Bytes& address, const Bytes& range, int prefix) {
  for (int bit = 0; bit < prefix; ++bit) {
    const int byte = bit / 8, shift = 7 - bit % 8;
    if (((address[byte] >> shift) & 1) != ((range[byte] >> shift) & 1)) return false;
  }
  return true;
}

}  // namespace

bool DeniedByDefault(std::string_view address) {
  const std::optional<Bytes> bytes = Parse(address);
  if (!bytes) return true;
  for (const DeniedRange& range : kDenied) {
    if (Matches(*bytes, *Parse(range.address), Prefix128(range.address, range.prefix))) {
      return true;
    }
  }
  return false;
}

absl::StatusOr<AddressFilter> AddressFilter::Create(
    const std::vector<std::string>& allowed_ranges) {
  AddressFilter filter;
  for (const std::string& text : allowed_ranges) {
    const size_t slash = text.find('/');
    const std::string_view address = std::string_view(text).substr(0, slash);
    const std::optional<Bytes> bytes = Parse(address);
    const int max = address.find(':') == std::string_view::npos ? 32 : 128;
    int prefix = max;
    if (slash != std::string::npos) {
      const char* first = text.data() + slash + 1;
      const char* last = text.data() + text.size();
      auto [end, ec] = std::from_chars(first, last, prefix);
      if (ec != std::errc() || end != last || prefix < 0 || prefix > max) prefix = -1;
    }
    if (!bytes || prefix < 0) {
      return absl::InvalidArgumentError(StrCat("not an address range (CIDR): ", text));
    }
    filter.allowed_.push_back({*bytes, Prefix128(address, prefix)});
  }
  return filter;
}

bool AddressFilter::Allows(std::string_view address) const {
  const std::optional<Bytes> bytes = Parse(address);
  if (!bytes) return false;
  for (const Range& range : allowed_) {
    if (Matches(*bytes, range.bytes, range.prefix)) return true;
  }
  return !DeniedByDefault(address);
}

}  // namespace conclave::core
