-- Blocking keys of every person, so that enrollment looks up likely
-- duplicates through an index instead of scanning the registry. A key is
-- a 64-bit hash of its kind and value (see package dedup); persons are
-- named by their row key, like the persons table's own.
CREATE TABLE dedup_keys (
	key           bigint NOT NULL,
	household_hid bigint NOT NULL,
	line          integer NOT NULL,
	PRIMARY KEY (key, household_hid, line)
);

-- Review cases of likely duplicates. The person (household_hid, line) may
-- be the same as the kept person (keep_hid, keep_line), registered first.
-- A confirmed merge counts from effective_at, the end of the answer
-- window; a contested or undone one never does.
CREATE TABLE dedup_cases (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	household_hid bigint NOT NULL,
	line          integer NOT NULL,
	keep_hid      bigint NOT NULL,
	keep_line     integer NOT NULL,
	score         double precision NOT NULL,
	status        text NOT NULL,
	note          text NOT NULL DEFAULT '',
	opened_at     timestamptz NOT NULL,
	decided_at    timestamptz,
	decided_by    text,
	effective_at  timestamptz,
	grievance_id  text,
	UNIQUE (household_hid, line, keep_hid, keep_line)
);

CREATE INDEX dedup_cases_status ON dedup_cases (status, id);

-- The persons a confirmed merge removes, for the cycle and the batch
-- search to leave out once effective_at has passed.
CREATE INDEX dedup_cases_merged ON dedup_cases (household_hid, line) WHERE status = 'confirmed';
