package sqlite

// SetUnauditedRedemptions leaves redemptions out of the audit log, for the
// benchmark that measures what the log costs.
func SetUnauditedRedemptions(db *DB) { db.unauditedRedemptions = true }
