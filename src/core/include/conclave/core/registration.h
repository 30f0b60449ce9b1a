// Registration<Owner, Key>: the RAII handle a registry returns for one registration (a route, a
// metrics collector, the admin command processor, a config section, an event observer), whose
// destruction undoes it. One type for every registry, so that each says only what it registers
// and how it is undone, and every handle moves, resets and releases the same way (Envoy's
// callback handles; the house rule "registration returns a [[nodiscard]] RAII handle").
//
// A registry `Owner` issues handles with `Registration<Owner, Key>(this, key)` and undoes one in
// a private `void Unregister(Key key)` (`void Unregister()` when Key is std::monostate: a registry
// with one slot), declaring `friend class Registration<Owner, Key>;`. Header-only and
// thread-compatible: a handle is used by one thread at a time; what Unregister locks or waits for
// is the registry's business (each registry's comment says so).
#ifndef CONCLAVE_CORE_REGISTRATION_H_
#define CONCLAVE_CORE_REGISTRATION_H_

#include <type_traits>
#include <utility>
#include <variant>

namespace conclave::core {

// Undoes its registration on destruction or Reset(), once. Move-only; a moved-from or
// default-constructed handle holds nothing. The registry must outlive every handle it issued
// that still holds a registration.
template <typename Owner, typename Key = std::monostate>
class [[nodiscard]] Registration {
 public:
  Registration() = default;
  Registration(Registration&& other) noexcept
      : owner_(std::exchange(other.owner_, nullptr)), key_(std::move(other.key_)) {}
  Registration& operator=(Registration&& other) noexcept {
    if (this != &other) {
      Reset();
      owner_ = std::exchange(other.owner_, nullptr);
      key_ = std::move(other.key_);
    }
    return *this;
  }
  ~Registration() { Reset(); }

  // Undoes the registration now (nothing if there is none).
  void Reset() {
    Owner* owner = std::exchange(owner_, nullptr);
    if (owner == nullptr) return;
    if constexpr (std::is_same_v<Key, std::monostate>) {
      owner->Unregister();
    } else {
      owner->Unregister(key_);
    }
  }
  // Whether it still holds a registration.
  bool active() const { return owner_ != nullptr; }

 private:
  friend Owner;
  Registration(Owner* owner, Key key) : owner_(owner), key_(std::move(key)) {}

  Owner* owner_ = nullptr;
  [[no_unique_address]] Key key_{};
};

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_REGISTRATION_H_
