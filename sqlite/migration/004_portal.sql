-- Grievances a household files through the portal. text and the messages
-- are the person's and staff's words: staff lists never read them, and a
-- staff read of one grievance is logged in access_log.
CREATE TABLE grievances (
	gid           INTEGER PRIMARY KEY,
	id            TEXT NOT NULL UNIQUE,
	household_hid INTEGER NOT NULL REFERENCES households (hid),
	category      TEXT NOT NULL,
	text          TEXT NOT NULL,
	status        TEXT NOT NULL CHECK (status IN ('open', 'assigned', 'answered', 'closed')),
	assignee      TEXT NOT NULL,
	case_ref      TEXT NOT NULL,
	created_at    TEXT NOT NULL,
	updated_at    TEXT NOT NULL,
	closed_at     TEXT
);

CREATE INDEX grievances_household_hid ON grievances (household_hid);
CREATE INDEX grievances_status ON grievances (status);

-- Answers and closing notes, in the order they were written (seq).
CREATE TABLE grievance_messages (
	grievance_gid INTEGER NOT NULL REFERENCES grievances (gid),
	seq           INTEGER NOT NULL,
	at            TEXT NOT NULL,
	sender        TEXT NOT NULL,
	text          TEXT NOT NULL,
	PRIMARY KEY (grievance_gid, seq)
) WITHOUT ROWID;
