-- The transparent audit log (package audit). audit_leaves holds each
-- entry's exact bytes, audit_hashes the Merkle tree's stored hashes
-- numbered as golang.org/x/mod/sumdb/tlog numbers them. Both are appended
-- in the transaction of the change they record, under a transaction-level
-- advisory lock that orders appends from every server.
CREATE TABLE audit_leaves (
	idx  bigint PRIMARY KEY,
	data bytea NOT NULL
);

CREATE TABLE audit_hashes (
	idx  bigint PRIMARY KEY,
	hash bytea NOT NULL CHECK (length(hash) = 32)
);

-- Signed checkpoints, newest by size.
CREATE TABLE audit_checkpoints (
	size      bigint PRIMARY KEY,
	note      bytea NOT NULL,
	signed_at timestamptz NOT NULL
);

-- The checkpoint signer's note key: every server on the store signs with it.
CREATE TABLE audit_signer (
	id   integer PRIMARY KEY CHECK (id = 1),
	skey text NOT NULL
);

-- One commitment key per household. Deleting a household's key erases
-- what the log's commitments about it could confirm.
CREATE TABLE audit_keys (
	household_hid bigint PRIMARY KEY REFERENCES households (hid),
	key           bytea NOT NULL
);

-- A receipt names its audit entry, so a replay answers the same index.
ALTER TABLE redemptions ADD COLUMN audit_index bigint;
