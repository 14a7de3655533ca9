-- Card-signing keys. private is the PEM of the PKCS#8 key: every server
-- on the store signs and verifies with the same keys. kid is the hex of
-- the 8-byte key id the codes carry.
CREATE TABLE signing_keys (
	id         INTEGER PRIMARY KEY,
	kid        TEXT NOT NULL UNIQUE,
	alg        TEXT NOT NULL,
	private    BLOB NOT NULL,
	created_at TEXT NOT NULL,
	retired_at TEXT
);

-- Every version of every card. A household has one card id for life;
-- each re-issue adds a version and revokes the one before, so the newest
-- version is the only one that can be live.
CREATE TABLE cards (
	id            TEXT NOT NULL,
	version       INTEGER NOT NULL CHECK (version >= 1),
	household_hid INTEGER NOT NULL REFERENCES households (hid),
	code          TEXT NOT NULL,
	key_id        INTEGER NOT NULL REFERENCES signing_keys (id),
	pin_hash      TEXT NOT NULL,
	issued_at     TEXT NOT NULL,
	expires_at    TEXT NOT NULL,
	revoked_at    TEXT,
	PRIMARY KEY (id, version),
	UNIQUE (household_hid, version)
);

-- The revocation list reads only revoked versions.
CREATE INDEX cards_revoked ON cards (id, version) WHERE revoked_at IS NOT NULL;
