// The database module's live Database, for the modules above it (service, admin).
#ifndef CONCLAVE_DATABASE_INSTANCE_H_
#define CONCLAVE_DATABASE_INSTANCE_H_

#include "conclave/database/database.h"

namespace conclave::database {

// Returns the Database of the loaded database module: set by its `load` hook, null before the
// first load, after `unload`, and in programs that never load the module (tests open their own
// with Database::Open). The pointer must not be kept past the module's unload; modules above
// depend on database, so they are unloaded before it and reloaded with it, and may cache it
// between their own load and unload. Thread-safe to call; the hooks that change it never run
// concurrently with code of the modules above.
Database* Instance();

}  // namespace conclave::database

#endif  // CONCLAVE_DATABASE_INSTANCE_H_
