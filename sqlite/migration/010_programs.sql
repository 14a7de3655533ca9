-- A changed rule is published as a new program that retires the one it
-- replaces; both stay published.
ALTER TABLE programs ADD COLUMN replaces INTEGER REFERENCES programs (id);
ALTER TABLE programs ADD COLUMN replaced_by INTEGER REFERENCES programs (id);
ALTER TABLE programs ADD COLUMN retired_at TEXT;
