-- Person portal sessions, kept by the hash of their secret.
CREATE TABLE portal_sessions (
	hash          bytea PRIMARY KEY,
	household_hid bigint NOT NULL REFERENCES households (hid),
	card_id       text NOT NULL,
	created_at    timestamptz NOT NULL,
	expires_at    timestamptz NOT NULL
);

-- Wrong PINs in a row per card, and the lock they caused.
CREATE TABLE pin_failures (
	card_id      text PRIMARY KEY,
	failures     integer NOT NULL DEFAULT 0,
	locked_until timestamptz
);

-- Corrections of registered data, which the person sees. fields names
-- what changed (a JSON array), never the values.
CREATE TABLE household_corrections (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	household_hid bigint NOT NULL REFERENCES households (hid),
	at            timestamptz NOT NULL,
	role          text NOT NULL,
	purpose       text NOT NULL,
	reason        text NOT NULL,
	fields        text NOT NULL,
	audit_index   bigint NOT NULL
);

CREATE INDEX household_corrections_household ON household_corrections (household_hid);
