-- Person portal sessions, kept by the hash of their secret.
CREATE TABLE portal_sessions (
	hash          BLOB PRIMARY KEY,
	household_hid INTEGER NOT NULL REFERENCES households (hid),
	card_id       TEXT NOT NULL,
	created_at    TEXT NOT NULL,
	expires_at    TEXT NOT NULL
);

-- Wrong PINs in a row per card, and the lock they caused.
CREATE TABLE pin_failures (
	card_id      TEXT PRIMARY KEY,
	failures     INTEGER NOT NULL DEFAULT 0,
	locked_until TEXT
);

-- Corrections of registered data, which the person sees. fields names
-- what changed (a JSON array), never the values.
CREATE TABLE household_corrections (
	id            INTEGER PRIMARY KEY,
	household_hid INTEGER NOT NULL REFERENCES households (hid),
	at            TEXT NOT NULL,
	role          TEXT NOT NULL,
	purpose       TEXT NOT NULL,
	reason        TEXT NOT NULL,
	fields        TEXT NOT NULL,
	audit_index   INTEGER NOT NULL
);

CREATE INDEX household_corrections_household ON household_corrections (household_hid);
