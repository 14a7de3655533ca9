-- Card-signing keys. private is the PEM of the PKCS#8 key: every server
-- on the database signs and verifies with the same keys. kid is the hex of
-- the 8-byte key id the codes carry.
CREATE TABLE signing_keys (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kid        text NOT NULL UNIQUE,
	alg        text NOT NULL,
	private    bytea NOT NULL,
	created_at timestamptz NOT NULL,
	retired_at timestamptz
);

-- Every version of every card. A household has one card id for life;
-- each re-issue adds a version and revokes the one before, so the newest
-- version is the only one that can be live.
CREATE TABLE cards (
	id            text NOT NULL,
	version       integer NOT NULL CHECK (version >= 1),
	household_hid bigint NOT NULL REFERENCES households (hid),
	code          text NOT NULL,
	key_id        bigint NOT NULL REFERENCES signing_keys (id),
	pin_hash      text NOT NULL,
	issued_at     timestamptz NOT NULL,
	expires_at    timestamptz NOT NULL,
	revoked_at    timestamptz,
	PRIMARY KEY (id, version),
	UNIQUE (household_hid, version)
);

-- The revocation list reads only revoked versions.
CREATE INDEX cards_revoked ON cards (id, version) WHERE revoked_at IS NOT NULL;
