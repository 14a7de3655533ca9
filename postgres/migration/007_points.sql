-- Offline points: devices, rights (escrow), journals and losses.
--
-- A right's quantity was moved out of its grant's available balance by
-- the same conditional debit redemptions use: entitlements.redeemed counts
-- what was redeemed plus what rights hold, so granted - redeemed is what
-- is available online, and no online redemption can spend a reserved
-- slice.

ALTER TABLE households ADD COLUMN home_point_id bigint REFERENCES points (id);

CREATE INDEX households_home_point_id ON households (home_point_id) WHERE home_point_id IS NOT NULL;

-- token_hash is the SHA-256 of the one-time enrollment token; it is set
-- to NULL when the token is spent.
CREATE TABLE devices (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	point_id     bigint NOT NULL REFERENCES points (id),
	name         text NOT NULL,
	token_hash   bytea UNIQUE,
	public_key   bytea,
	created_at   timestamptz NOT NULL,
	enrolled_at  timestamptz,
	revoked_at   timestamptz,
	last_sync_at timestamptz
);

CREATE INDEX devices_point_id ON devices (point_id);

-- held = quantity - spent - released. A right is active until
-- released_at is set; at most one is active per device and grant.
CREATE TABLE rights (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	device_id     bigint NOT NULL REFERENCES devices (id),
	household_hid bigint NOT NULL REFERENCES households (hid),
	program_id    bigint NOT NULL REFERENCES programs (id),
	period        text NOT NULL,
	quantity      bigint NOT NULL,
	spent         bigint NOT NULL DEFAULT 0,
	released      bigint NOT NULL DEFAULT 0,
	late          bigint NOT NULL DEFAULT 0,
	expires_at    timestamptz NOT NULL,
	created_at    timestamptz NOT NULL,
	released_at   timestamptz,
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
	device_id   bigint NOT NULL REFERENCES devices (id),
	seq         bigint NOT NULL,
	hash        bytea NOT NULL,
	prev        bytea NOT NULL,
	body        jsonb NOT NULL,
	posted      bigint NOT NULL,
	lost        bigint NOT NULL,
	received_at timestamptz NOT NULL,
	PRIMARY KEY (device_id, seq)
);

CREATE TABLE point_losses (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	point_id      bigint NOT NULL REFERENCES points (id),
	device_id     bigint NOT NULL REFERENCES devices (id),
	seq           bigint NOT NULL,
	right_id      bigint NOT NULL REFERENCES rights (id),
	household_hid bigint NOT NULL REFERENCES households (hid),
	program_id    bigint NOT NULL,
	quantity      bigint NOT NULL CHECK (quantity > 0),
	reason        text NOT NULL,
	at            timestamptz NOT NULL
);

CREATE INDEX point_losses_point_id ON point_losses (point_id);
