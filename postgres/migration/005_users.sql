-- Staff accounts of the web application. password_hash is an argon2id
-- PHC string; the password itself is never stored.
CREATE TABLE users (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	username      text NOT NULL UNIQUE,
	role          text NOT NULL,
	password_hash text NOT NULL,
	created_at    timestamptz NOT NULL,
	disabled_at   timestamptz
);
