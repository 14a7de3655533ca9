-- Offline points: devices, rights (escrow), journals and losses.
--
-- A right's quantity was moved out of its grant's available balance by
-- the same conditional debit redemptions use: entitlements.redeemed counts
-- what was redeemed plus what rights hold, so granted - redeemed is what
-- is available online, and no online redemption can spend a reserved
-- slice.

ALTER TABLE households ADD COLUMN home_point_id INTEGER REFERENCES points (id);

CREATE INDEX households_home_point_id ON households (home_point_id) WHERE home_point_id IS NOT NULL;

-- token_hash is the SHA-256 of the one-time enrollment token; it is set
-- to NULL when the token is spent.
CREATE TABLE devices (
	id           INTEGER PRIMARY KEY,
	point_id     INTEGER NOT NULL REFERENCES points (id),
	name         TEXT NOT NULL,
	token_hash   BLOB UNIQUE,
	public_key   BLOB,
	created_at   TEXT NOT NULL,
	enrolled_at  TEXT,
	revoked_at   TEXT,
	last_sync_at TEXT
);

CREATE INDEX devices_point_id ON devices (point_id);

-- held = quantity - spent - released. A right is active until
-- released_at is set; at most one is active per device and grant.
CREATE TABLE rights (
	id            INTEGER PRIMARY KEY,
	device_id     INTEGER NOT NULL REFERENCES devices (id),
	household_hid INTEGER NOT NULL REFERENCES households (hid),
	program_id    INTEGER NOT NULL REFERENCES programs (id),
	period        TEXT NOT NULL,
	quantity      INTEGER NOT NULL,
	spent         INTEGER NOT NULL DEFAULT 0,
	released      INTEGER NOT NULL DEFAULT 0,
	late          INTEGER NOT NULL DEFAULT 0,
	expires_at    TEXT NOT NULL,
	created_at    TEXT NOT NULL,
	released_at   TEXT,
	CHECK (quantity > 0 AND spent >= 0 AND released >= 0 AND late >= 0),
	CHECK (spent + released <= quantity),
	CHECK (late <= released)
);

CREATE UNIQUE INDEX rights_active ON rights (device_id, household_hid, program_id, period) WHERE released_at IS NULL;
CREATE INDEX rights_expiry ON rights (expires_at) WHERE released_at IS NULL;
CREATE INDEX rights_grant ON rights (household_hid, period, program_id);

-- Every journal entry a device uploaded and the server accepted, by
-- (device, seq): a second upload of the same entry is found here.
CREATE TABLE device_receipts (
	device_id   INTEGER NOT NULL REFERENCES devices (id),
	seq         INTEGER NOT NULL,
	hash        BLOB NOT NULL,
	prev        BLOB NOT NULL,
	body        TEXT NOT NULL,
	posted      INTEGER NOT NULL,
	lost        INTEGER NOT NULL,
	received_at TEXT NOT NULL,
	PRIMARY KEY (device_id, seq)
) WITHOUT ROWID;

CREATE TABLE point_losses (
	id            INTEGER PRIMARY KEY,
	point_id      INTEGER NOT NULL REFERENCES points (id),
	device_id     INTEGER NOT NULL REFERENCES devices (id),
	seq           INTEGER NOT NULL,
	right_id      INTEGER NOT NULL REFERENCES rights (id),
	household_hid INTEGER NOT NULL REFERENCES households (hid),
	program_id    INTEGER NOT NULL,
	quantity      INTEGER NOT NULL CHECK (quantity > 0),
	reason        TEXT NOT NULL,
	at            TEXT NOT NULL
);

CREATE INDEX point_losses_point_id ON point_losses (point_id);
