-- Times are UTC text, "YYYY-MM-DDTHH:MM:SS.ffffffZ": fixed width, so they
-- sort as they compare, and microseconds, so they round-trip through
-- PostgreSQL's timestamptz unchanged.

CREATE TABLE households (
	hid            INTEGER PRIMARY KEY,
	id             TEXT NOT NULL UNIQUE,
	source_id      TEXT UNIQUE,
	line           TEXT NOT NULL,
	locality       TEXT NOT NULL,
	region         TEXT NOT NULL,
	postcode       TEXT NOT NULL,
	monthly_income INTEGER NOT NULL,
	attributes     TEXT,
	created_at     TEXT NOT NULL,
	updated_at     TEXT NOT NULL
);

-- A household's members are stored together, in the order they were
-- added (line), so reading a household is one range of the table and an
-- import appends. Person ids are random and never looked up, so they carry
-- no index: one on random keys would touch a different page per insert.
CREATE TABLE persons (
	household_hid INTEGER NOT NULL REFERENCES households (hid),
	line          INTEGER NOT NULL,
	id            TEXT NOT NULL,
	source_id     TEXT UNIQUE,
	given_name    TEXT NOT NULL,
	family_name   TEXT NOT NULL,
	birth_date    TEXT NOT NULL,
	sex           TEXT NOT NULL,
	national_id   TEXT,
	relationship  TEXT NOT NULL,
	disability    INTEGER NOT NULL,
	attributes    TEXT,
	PRIMARY KEY (household_hid, line)
) WITHOUT ROWID;

CREATE INDEX persons_national_id ON persons (national_id) WHERE national_id IS NOT NULL;

CREATE TABLE attributes (
	name       TEXT PRIMARY KEY,
	type       TEXT NOT NULL,
	applies_to TEXT NOT NULL,
	purpose    TEXT NOT NULL,
	created_at TEXT NOT NULL
);

CREATE TABLE programs (
	id             INTEGER PRIMARY KEY,
	name           TEXT NOT NULL,
	commodity_code TEXT NOT NULL,
	unit           TEXT NOT NULL,
	eligibility    TEXT NOT NULL,
	quantity       TEXT NOT NULL,
	period         TEXT NOT NULL,
	created_at     TEXT NOT NULL
);

CREATE TABLE points (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	kind       TEXT NOT NULL,
	region     TEXT NOT NULL,
	created_at TEXT NOT NULL
);

-- The period leads the key so that one cycle's grants are one contiguous
-- range: a cycle appends to it and sums over it without touching other
-- months. The CHECK is the ledger's last line of defence: no balance below
-- zero, whatever the code above it does.
--
-- household_hid is deliberately not a foreign key. Grants are only made
-- for households the cycle has just read, and households are never
-- deleted, except one an import created moments before in the same
-- transaction; a foreign key would make that delete scan this table, the
-- largest, since household_hid does not lead its key.
CREATE TABLE entitlements (
	period        TEXT NOT NULL,
	household_hid INTEGER NOT NULL,
	program_id    INTEGER NOT NULL REFERENCES programs (id),
	granted       INTEGER NOT NULL,
	redeemed      INTEGER NOT NULL DEFAULT 0,
	explanation   TEXT NOT NULL,
	created_at    TEXT NOT NULL,
	PRIMARY KEY (period, household_hid, program_id),
	CHECK (granted > 0),
	CHECK (redeemed >= 0 AND redeemed <= granted)
) WITHOUT ROWID;

CREATE TABLE redemptions (
	id            INTEGER PRIMARY KEY,
	request_id    TEXT NOT NULL UNIQUE,
	fingerprint   BLOB NOT NULL,
	household_hid INTEGER NOT NULL REFERENCES households (hid),
	point_id      INTEGER NOT NULL REFERENCES points (id),
	period        TEXT NOT NULL,
	created_at    TEXT NOT NULL
);

CREATE INDEX redemptions_household_hid ON redemptions (household_hid);

CREATE TABLE redemption_items (
	redemption_id INTEGER NOT NULL REFERENCES redemptions (id),
	line          INTEGER NOT NULL,
	program_id    INTEGER NOT NULL REFERENCES programs (id),
	quantity      INTEGER NOT NULL CHECK (quantity > 0),
	remaining     INTEGER NOT NULL CHECK (remaining >= 0),
	PRIMARY KEY (redemption_id, line)
);

CREATE TABLE tokens (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	role       TEXT NOT NULL,
	hash       BLOB NOT NULL UNIQUE,
	created_at TEXT NOT NULL,
	revoked_at TEXT
);

CREATE TABLE access_log (
	id            INTEGER PRIMARY KEY,
	household_hid INTEGER NOT NULL REFERENCES households (hid),
	token_id      INTEGER NOT NULL,
	actor_name    TEXT NOT NULL,
	role          TEXT NOT NULL,
	purpose       TEXT NOT NULL,
	action        TEXT NOT NULL,
	at            TEXT NOT NULL
);

CREATE INDEX access_log_household_hid ON access_log (household_hid);
