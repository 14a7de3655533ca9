package storetest

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/canasta/canasta"
)

// Words that must never reach the audit log in the clear.
const (
	grievanceSecret = "Mi vecino Secretísimo cobró mi arroz"
	answerSecret    = "Corregimos el registro Confidencialísimo"
	assigneeSecret  = "Desk Reservadísima"
	closingSecret   = "Cerrado Privadísimo"
)

// portal is the context of a person's own call through the portal: no
// staff actor.
func portal() context.Context { return context.Background() }

// auditDelta returns the entries appended since before, failing unless
// there are want of them and none of the log's leaves holds a secret.
func auditDelta(tb testing.TB, st *Store, before, want int) []*canasta.AuditEntry {
	tb.Helper()
	entries := auditLeaves(tb, st)
	if got := len(entries) - before; got != want {
		tb.Fatalf("%d audit entries appended, want %d", got, want)
	}
	leaves, err := st.Audit.FindAuditLeaves(context.Background(), 0, int64(len(entries)))
	if err != nil {
		tb.Fatal(err)
	}
	for _, leaf := range leaves {
		for _, secret := range []string{grievanceSecret, answerSecret, assigneeSecret, closingSecret, "Secretísimo", "Confidencialísimo"} {
			if bytes.Contains(leaf, []byte(secret)) {
				tb.Fatalf("audit leaf holds %q in the clear: %s", secret, leaf)
			}
		}
	}
	return entries[before:]
}

// wantGrievanceEntry fails unless e records step on g.
func wantGrievanceEntry(tb testing.TB, e *canasta.AuditEntry, g *canasta.Grievance, step canasta.GrievanceStep, role string) {
	tb.Helper()
	if e.Type != canasta.AuditGrievance || e.Objects["household"] != g.HouseholdID || e.Objects["grievance"] != g.ID ||
		e.Objects["step"] != string(step) || len(e.Objects) != 3 || e.Commitment == "" || e.ActorRole != role {
		tb.Fatalf("audit entry %+v, want a %s step on grievance %s of %s by %s", e, step, g.ID, g.HouseholdID, role)
	}
}

func mustFileGrievance(tb testing.TB, st *Store, householdID string) *canasta.Grievance {
	tb.Helper()
	g, err := st.Grievances.FileGrievance(portal(), householdID, canasta.GrievanceWrongData, grievanceSecret, "")
	if err != nil {
		tb.Fatalf("file grievance: %v", err)
	}
	return g
}

// testGrievances follows one grievance from filing to closing: each step,
// who may see what, and one audit entry per step holding no text.
func testGrievances(t *testing.T, opener Opener) {
	st := open(t, opener)
	h1 := mustCreateHousehold(t, st.Store, NewHousehold(1, 2))
	h2 := mustCreateHousehold(t, st.Store, NewHousehold(2, 1))
	registrar := staff(canasta.PurposeGrievance)
	var g *canasta.Grievance

	t.Run("FileRefused", func(t *testing.T) {
		before := len(auditLeaves(t, st.Store))
		for _, tt := range []struct {
			name        string
			household   string
			category    canasta.GrievanceCategory
			text, cause string
			code        string
		}{
			{"UnknownCategory", h1.ID, "complaint", "text", "", canasta.EINVALID},
			{"EmptyCategory", h1.ID, "", "text", "", canasta.EINVALID},
			{"BlankText", h1.ID, canasta.GrievanceOther, " \n\t ", "", canasta.EINVALID},
			{"TextTooLong", h1.ID, canasta.GrievanceOther, strings.Repeat("ñ", canasta.MaxGrievanceTextLen+1), "", canasta.EINVALID},
			{"TextNotUTF8", h1.ID, canasta.GrievanceOther, "bad \xff byte", "", canasta.EINVALID},
			{"CaseTooLong", h1.ID, canasta.GrievanceOther, "text", strings.Repeat("c", 201), canasta.EINVALID},
			{"UnknownHousehold", "hh_nobody", canasta.GrievanceOther, "text", "", canasta.ENOTFOUND},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, err := st.Grievances.FileGrievance(portal(), tt.household, tt.category, tt.text, tt.cause)
				wantCode(t, err, tt.code)
			})
		}
		auditDelta(t, st.Store, before, 0)
	})

	t.Run("File", func(t *testing.T) {
		before := len(auditLeaves(t, st.Store))
		var err error
		g, err = st.Grievances.FileGrievance(portal(), h1.ID, canasta.GrievanceWrongData, "  "+grievanceSecret+"\n", " case-17 ")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(g.ID, canasta.GrievanceIDPrefix) || g.HouseholdID != h1.ID || g.Category != canasta.GrievanceWrongData ||
			g.Text != grievanceSecret || g.Status != canasta.GrievanceOpen || g.Case != "case-17" || g.Assignee != "" ||
			!g.CreatedAt.Equal(Now) || !g.UpdatedAt.Equal(Now) || g.ClosedAt != nil || len(g.Messages) != 0 {
			t.Fatalf("filed %+v", g)
		}
		wantGrievanceEntry(t, auditDelta(t, st.Store, before, 1)[0], g, canasta.GrievanceStepFiled, canasta.GrievanceFromHousehold)

		// The longest text accepted is counted in characters, not bytes.
		long := strings.Repeat("ñ", canasta.MaxGrievanceTextLen)
		g2, err := st.Grievances.FileGrievance(portal(), h2.ID, canasta.GrievanceOther, long, "")
		if err != nil {
			t.Fatal(err)
		}
		if g2.Text != long {
			t.Fatalf("long text came back %d bytes", len(g2.Text))
		}
	})
	if g == nil {
		t.FailNow()
	}

	t.Run("PortalSeesOnlyItsOwn", func(t *testing.T) {
		got, err := st.Grievances.FindGrievanceForHousehold(portal(), h1.ID, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != g.ID || got.Text != grievanceSecret || got.Case != "case-17" || got.Messages == nil {
			t.Fatalf("own grievance %+v", got)
		}
		_, err = st.Grievances.FindGrievanceForHousehold(portal(), h2.ID, g.ID)
		wantCode(t, err, canasta.ENOTFOUND)
		_, err = st.Grievances.FindGrievanceForHousehold(portal(), h1.ID, "gr_nothing")
		wantCode(t, err, canasta.ENOTFOUND)

		list, err := st.Grievances.FindGrievancesByHousehold(portal(), h1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].ID != g.ID || list[0].Text != grievanceSecret {
			t.Fatalf("household 1 lists %+v", list)
		}
		list, err = st.Grievances.FindGrievancesByHousehold(portal(), h2.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].ID == g.ID {
			t.Fatalf("household 2 lists %+v", list)
		}
		_, err = st.Grievances.FindGrievancesByHousehold(portal(), "hh_nobody")
		wantCode(t, err, canasta.ENOTFOUND)

		// The person's reads are not staff reads.
		events, err := st.AccessLog.FindAccessEvents(context.Background(), h1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 0 {
			t.Fatalf("portal reads logged as %+v", events)
		}
	})

	t.Run("StaffList", func(t *testing.T) {
		for _, tt := range []struct {
			name   string
			filter canasta.GrievanceFilter
			want   int
		}{
			{"All", canasta.GrievanceFilter{}, 2},
			{"Open", canasta.GrievanceFilter{Status: canasta.GrievanceOpen}, 2},
			{"Closed", canasta.GrievanceFilter{Status: canasta.GrievanceClosed}, 0},
			{"WrongData", canasta.GrievanceFilter{Category: canasta.GrievanceWrongData}, 1},
			{"OpenOther", canasta.GrievanceFilter{Status: canasta.GrievanceOpen, Category: canasta.GrievanceOther}, 1},
			{"Limit", canasta.GrievanceFilter{Limit: 1}, 1},
			{"Offset", canasta.GrievanceFilter{Offset: 1}, 1},
		} {
			t.Run(tt.name, func(t *testing.T) {
				list, err := st.Grievances.FindGrievances(registrar, tt.filter)
				if err != nil {
					t.Fatal(err)
				}
				if list == nil || len(list) != tt.want {
					t.Fatalf("%d grievances, want %d: %+v", len(list), tt.want, list)
				}
				for _, x := range list {
					if x.Text != "" || x.Messages != nil || x.HouseholdID == "" || x.Status == "" || x.Category == "" {
						t.Fatalf("list item %+v", x)
					}
				}
			})
		}
		list, _ := st.Grievances.FindGrievances(registrar, canasta.GrievanceFilter{})
		if list[0].ID == g.ID {
			t.Fatalf("list is not newest first: %+v", list)
		}
		// Listing reads no personal text, so it is not logged.
		if events, _ := st.AccessLog.FindAccessEvents(context.Background(), h1.ID); len(events) != 0 {
			t.Fatalf("list logged as %+v", events)
		}
	})

	t.Run("StaffReadIsLogged", func(t *testing.T) {
		before := len(auditLeaves(t, st.Store))
		got, err := st.Grievances.FindGrievanceByID(registrar, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Text != grievanceSecret || got.HouseholdID != h1.ID {
			t.Fatalf("staff read %+v", got)
		}
		events, err := st.AccessLog.FindAccessEvents(context.Background(), h1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 1 || events[0].Action != "read-grievance" || events[0].Purpose != canasta.PurposeGrievance || events[0].TokenID != 7 {
			t.Fatalf("access events %+v", events)
		}
		if events, _ := st.AccessLog.FindAccessEvents(context.Background(), h2.ID); len(events) != 0 {
			t.Fatalf("household 2 access events %+v", events)
		}
		_, err = st.Grievances.FindGrievanceByID(registrar, "gr_nothing")
		wantCode(t, err, canasta.ENOTFOUND)
		auditDelta(t, st.Store, before, 0)
	})

	t.Run("Steps", func(t *testing.T) {
		type step struct {
			name       string
			run        func() (*canasta.Grievance, error)
			code       string
			status     canasta.GrievanceStatus
			auditStep  canasta.GrievanceStep
			messages   int
			assignee   string
			wantClosed bool
		}
		assign := func(who string) func() (*canasta.Grievance, error) {
			return func() (*canasta.Grievance, error) { return st.Grievances.AssignGrievance(registrar, g.ID, who) }
		}
		answer := func(text string) func() (*canasta.Grievance, error) {
			return func() (*canasta.Grievance, error) { return st.Grievances.AnswerGrievance(registrar, g.ID, text) }
		}
		closeWith := func(text string) func() (*canasta.Grievance, error) {
			return func() (*canasta.Grievance, error) { return st.Grievances.CloseGrievance(registrar, g.ID, text) }
		}
		for _, tt := range []step{
			{name: "AssignEmpty", run: assign("  "), code: canasta.EINVALID},
			{name: "Assign", run: assign(" " + assigneeSecret + " "), status: canasta.GrievanceAssigned, auditStep: canasta.GrievanceStepAssigned, assignee: assigneeSecret},
			{name: "AnswerEmpty", run: answer(""), code: canasta.EINVALID},
			{name: "AnswerTooLong", run: answer(strings.Repeat("x", canasta.MaxGrievanceTextLen+1)), code: canasta.EINVALID},
			{name: "Answer", run: answer(answerSecret), status: canasta.GrievanceAnswered, auditStep: canasta.GrievanceStepAnswered, messages: 1, assignee: assigneeSecret},
			{name: "AnswerAgain", run: answer(answerSecret + " 2"), status: canasta.GrievanceAnswered, auditStep: canasta.GrievanceStepAnswered, messages: 2, assignee: assigneeSecret},
			{name: "Reassign", run: assign("Desk 2"), status: canasta.GrievanceAnswered, auditStep: canasta.GrievanceStepAssigned, messages: 2, assignee: "Desk 2"},
			{name: "Close", run: closeWith(closingSecret), status: canasta.GrievanceClosed, auditStep: canasta.GrievanceStepClosed, messages: 3, assignee: "Desk 2", wantClosed: true},
			{name: "AssignClosed", run: assign("Desk 3"), code: canasta.ECONFLICT},
			{name: "AnswerClosed", run: answer("late"), code: canasta.ECONFLICT},
			{name: "CloseClosed", run: closeWith(""), code: canasta.ECONFLICT},
		} {
			t.Run(tt.name, func(t *testing.T) {
				st.clock.Set(st.clock.Now().Add(time.Minute))
				before := len(auditLeaves(t, st.Store))
				res, err := tt.run()
				wantCode(t, err, tt.code)
				if tt.code != "" {
					auditDelta(t, st.Store, before, 0)
					return
				}
				if res.ID != g.ID || res.Status != tt.status || res.Assignee != tt.assignee || res.Text != "" ||
					!res.UpdatedAt.Equal(st.clock.Now()) || (res.ClosedAt != nil) != tt.wantClosed {
					t.Fatalf("step result %+v", res)
				}
				wantGrievanceEntry(t, auditDelta(t, st.Store, before, 1)[0], g, tt.auditStep, string(canasta.RoleRegistrar))

				// The person sees the status and every answer.
				own, err := st.Grievances.FindGrievanceForHousehold(portal(), h1.ID, g.ID)
				if err != nil {
					t.Fatal(err)
				}
				if own.Status != tt.status || len(own.Messages) != tt.messages || own.Text != grievanceSecret {
					t.Fatalf("person sees %+v", own)
				}
				for _, m := range own.Messages {
					if m.From != string(canasta.RoleRegistrar) || m.Text == "" || m.At.IsZero() {
						t.Fatalf("message %+v", m)
					}
				}
			})
		}
		own, err := st.Grievances.FindGrievanceForHousehold(portal(), h1.ID, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{answerSecret, answerSecret + " 2", closingSecret}; len(own.Messages) != 3 ||
			own.Messages[0].Text != want[0] || own.Messages[1].Text != want[1] || own.Messages[2].Text != want[2] {
			t.Fatalf("messages out of order: %+v", own.Messages)
		}
	})

	t.Run("UnknownID", func(t *testing.T) {
		before := len(auditLeaves(t, st.Store))
		_, err := st.Grievances.AssignGrievance(registrar, "gr_nothing", "Desk")
		wantCode(t, err, canasta.ENOTFOUND)
		_, err = st.Grievances.AnswerGrievance(registrar, "gr_nothing", "answer")
		wantCode(t, err, canasta.ENOTFOUND)
		_, err = st.Grievances.CloseGrievance(registrar, "gr_nothing", "")
		wantCode(t, err, canasta.ENOTFOUND)
		auditDelta(t, st.Store, before, 0)
	})
}

// testGrievanceStatuses checks the status machine's shortcuts: a
// grievance may be answered or closed without being assigned first, and a
// close without a note adds no message.
func testGrievanceStatuses(t *testing.T, opener Opener) {
	st := open(t, opener)
	h := mustCreateHousehold(t, st.Store, NewHousehold(1, 1))
	ctx := staff("")
	for _, tt := range []struct {
		name     string
		steps    func(id string) (*canasta.Grievance, error)
		want     canasta.GrievanceStatus
		messages int
	}{
		{"AnswerOpen", func(id string) (*canasta.Grievance, error) { return st.Grievances.AnswerGrievance(ctx, id, "answer") },
			canasta.GrievanceAnswered, 1},
		{"CloseOpenWithoutNote", func(id string) (*canasta.Grievance, error) { return st.Grievances.CloseGrievance(ctx, id, " ") },
			canasta.GrievanceClosed, 0},
		{"CloseAssigned", func(id string) (*canasta.Grievance, error) {
			if _, err := st.Grievances.AssignGrievance(ctx, id, "Desk"); err != nil {
				return nil, err
			}
			return st.Grievances.CloseGrievance(ctx, id, "done")
		}, canasta.GrievanceClosed, 1},
		{"ReassignAssigned", func(id string) (*canasta.Grievance, error) {
			if _, err := st.Grievances.AssignGrievance(ctx, id, "Desk"); err != nil {
				return nil, err
			}
			return st.Grievances.AssignGrievance(ctx, id, "Desk 2")
		}, canasta.GrievanceAssigned, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := mustFileGrievance(t, st.Store, h.ID)
			res, err := tt.steps(g.ID)
			if err != nil {
				t.Fatal(err)
			}
			own, err := st.Grievances.FindGrievanceForHousehold(portal(), h.ID, g.ID)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.want || own.Status != tt.want || len(own.Messages) != tt.messages ||
				(own.ClosedAt != nil) != (tt.want == canasta.GrievanceClosed) {
				t.Fatalf("after steps: result %+v, stored %+v", res, own)
			}
			list, err := st.Grievances.FindGrievances(ctx, canasta.GrievanceFilter{Status: tt.want})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, x := range list {
				found = found || x.ID == g.ID
			}
			if !found {
				t.Fatalf("grievance %s not listed under %s: %+v", g.ID, tt.want, list)
			}
		})
	}
}
