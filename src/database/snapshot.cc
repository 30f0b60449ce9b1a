#include "conclave/database/snapshot.h"

#include "rocksdb/db.h"

namespace conclave::database {

Snapshot::~Snapshot() { db_->ReleaseSnapshot(snapshot_); }

}  // namespace conclave::database
