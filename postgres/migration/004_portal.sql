-- Grievances a household files through the portal. text and the messages
-- are the person's and staff's words: staff lists never read them, and a
-- staff read of one grievance is logged in access_log.
CREATE TABLE grievances (
	gid           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id            text NOT NULL UNIQUE,
	household_hid bigint NOT NULL REFERENCES households (hid),
	category      text NOT NULL,
	text          text NOT NULL,
	status        text NOT NULL CHECK (status IN ('open', 'assigned', 'answered', 'closed')),
	assignee      text NOT NULL,
	case_ref      text NOT NULL,
	created_at    timestamptz NOT NULL,
	updated_at    timestamptz NOT NULL,
	closed_at     timestamptz
);

CREATE INDEX grievances_household_hid ON grievances (household_hid);
CREATE INDEX grievances_status ON grievances (status);

-- Answers and closing notes, in the order they were written (seq).
CREATE TABLE grievance_messages (
	grievance_gid bigint NOT NULL REFERENCES grievances (gid),
	seq           integer NOT NULL,
	at            timestamptz NOT NULL,
	sender        text NOT NULL,
	text          text NOT NULL,
	PRIMARY KEY (grievance_gid, seq)
);
