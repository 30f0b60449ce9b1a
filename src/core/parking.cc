#include "conclave/core/parking.h"

#include "conclave/core/str_cat.h"

namespace conclave::core {

absl::Status Parking::Park(std::string_view key, std::string_view type_tag, void* ptr) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = entries_.try_emplace(std::string(key), Entry{std::string(type_tag), ptr});
  if (!inserted) return absl::AlreadyExistsError(core::StrCat("parking: '", key, "' is taken"));
  return absl::OkStatus();
}

absl::StatusOr<void*> Parking::Find(std::string_view key, std::string_view type_tag) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return absl::NotFoundError(core::StrCat("parking: no '", key, "'"));
  if (it->second.type_tag != type_tag) {
    return absl::FailedPreconditionError(
        core::StrCat("parking: '", key, "' holds ", it->second.type_tag, ", not ", type_tag,
                     "; a layout change of parked state needs a restart"));
  }
  return it->second.ptr;
}

absl::StatusOr<void*> Parking::Take(std::string_view key, std::string_view type_tag) {
  auto found = Find(key, type_tag);
  if (!found.ok()) return found;
  std::lock_guard lock(mu_);
  entries_.erase(entries_.find(key));
  return found;
}

}  // namespace conclave::core
