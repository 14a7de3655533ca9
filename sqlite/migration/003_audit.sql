-- The transparent audit log (package audit). audit_leaves holds each
-- entry's exact bytes, audit_hashes the Merkle tree's stored hashes
-- numbered as golang.org/x/mod/sumdb/tlog numbers them. Both are appended
-- in the transaction of the change they record.
CREATE TABLE audit_leaves (
	idx  INTEGER PRIMARY KEY,
	data BLOB NOT NULL
);

CREATE TABLE audit_hashes (
	idx  INTEGER PRIMARY KEY,
	hash BLOB NOT NULL CHECK (length(hash) = 32)
);

-- Signed checkpoints, newest by size.
CREATE TABLE audit_checkpoints (
	size      INTEGER PRIMARY KEY,
	note      BLOB NOT NULL,
	signed_at TEXT NOT NULL
);

-- The checkpoint signer's note key: every server on the store signs with it.
CREATE TABLE audit_signer (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	skey TEXT NOT NULL
);

-- One commitment key per household. Deleting a household's key erases
-- what the log's commitments about it could confirm.
CREATE TABLE audit_keys (
	household_hid INTEGER PRIMARY KEY REFERENCES households (hid),
	key           BLOB NOT NULL
);

-- A receipt names its audit entry, so a replay answers the same index.
ALTER TABLE redemptions ADD COLUMN audit_index INTEGER;
