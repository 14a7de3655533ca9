-- Blocking keys of every person, so that enrollment looks up likely
-- duplicates through an index instead of scanning the registry. A key is
-- a 64-bit hash of its kind and value (see package dedup); persons are
-- named by their row key, like the persons table's own.
CREATE TABLE dedup_keys (
	key           INTEGER NOT NULL,
	household_hid INTEGER NOT NULL,
	line          INTEGER NOT NULL,
	PRIMARY KEY (key, household_hid, line)
) WITHOUT ROWID;

-- Review cases of likely duplicates. The person (household_hid, line) may
-- be the same as the kept person (keep_hid, keep_line), registered first.
-- A confirmed merge counts from effective_at, the end of the answer
-- window; a contested or undone one never does.
CREATE TABLE dedup_cases (
	id            INTEGER PRIMARY KEY,
	household_hid INTEGER NOT NULL,
	line          INTEGER NOT NULL,
	keep_hid      INTEGER NOT NULL,
	keep_line     INTEGER NOT NULL,
	score         REAL NOT NULL,
	status        TEXT NOT NULL,
	note          TEXT NOT NULL DEFAULT '',
	opened_at     TEXT NOT NULL,
	decided_at    TEXT,
	decided_by    TEXT,
	effective_at  TEXT,
	grievance_id  TEXT,
	UNIQUE (household_hid, line, keep_hid, keep_line)
);

CREATE INDEX dedup_cases_status ON dedup_cases (status, id);

-- The persons a confirmed merge removes, for the cycle and the batch
-- search to leave out once effective_at has passed.
CREATE INDEX dedup_cases_merged ON dedup_cases (household_hid, line) WHERE status = 'confirmed';
