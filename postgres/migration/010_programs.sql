-- A changed rule is published as a new program that retires the one it
-- replaces; both stay published.
ALTER TABLE programs ADD COLUMN replaces bigint REFERENCES programs (id);
ALTER TABLE programs ADD COLUMN replaced_by bigint REFERENCES programs (id);
ALTER TABLE programs ADD COLUMN retired_at timestamptz;
