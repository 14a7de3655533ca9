package canasta_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/canasta/canasta"
)

func validRedemption() *canasta.RedemptionRequest {
	return &canasta.RedemptionRequest{
		RequestID:   "req-0001",
		PointID:     7,
		HouseholdID: "hh_abc",
		Items:       []canasta.RedemptionItem{{ProgramID: 1, Quantity: 5000}, {ProgramID: 2, Quantity: 1}},
	}
}

func TestRedemptionRequestValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(r *canasta.RedemptionRequest)
		wantErr string // substring of the message; "" for valid
	}{
		{"valid", func(r *canasta.RedemptionRequest) {}, ""},
		{"request_id_128", func(r *canasta.RedemptionRequest) { r.RequestID = strings.Repeat("r", 128) }, ""},
		{"request_id_129", func(r *canasta.RedemptionRequest) { r.RequestID = strings.Repeat("r", 129) }, "request_id"},
		{"request_id_empty", func(r *canasta.RedemptionRequest) { r.RequestID = "" }, "request_id"},
		{"request_id_spaces", func(r *canasta.RedemptionRequest) { r.RequestID = " req-1" }, "request_id"},
		{"request_id_not_utf8", func(r *canasta.RedemptionRequest) { r.RequestID = "req-\xff" }, "request_id"},
		{"point_zero", func(r *canasta.RedemptionRequest) { r.PointID = 0 }, "point_id"},
		{"point_negative", func(r *canasta.RedemptionRequest) { r.PointID = -3 }, "point_id"},
		{"household_empty", func(r *canasta.RedemptionRequest) { r.HouseholdID = "" }, "household_id"},
		{"no_items", func(r *canasta.RedemptionRequest) { r.Items = nil }, "1 to 32 items"},
		{"max_items", func(r *canasta.RedemptionRequest) { r.Items = items(canasta.MaxRedemptionItems) }, ""},
		{"too_many_items", func(r *canasta.RedemptionRequest) { r.Items = items(canasta.MaxRedemptionItems + 1) }, "1 to 32 items"},
		{"zero_quantity", func(r *canasta.RedemptionRequest) { r.Items[1].Quantity = 0 }, "program 2 must be positive"},
		{"negative_quantity", func(r *canasta.RedemptionRequest) { r.Items[0].Quantity = -5 }, "program 1 must be positive"},
		{"duplicate_program", func(r *canasta.RedemptionRequest) { r.Items[1].ProgramID = 1 }, "Program 1 appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRedemption()
			tt.edit(r)
			checkInvalid(t, r.Validate(), tt.wantErr)
		})
	}
}

func items(n int) []canasta.RedemptionItem {
	its := make([]canasta.RedemptionItem, n)
	for i := range its {
		its[i] = canasta.RedemptionItem{ProgramID: int64(i + 1), Quantity: 1}
	}
	return its
}

func TestRedemptionRequestFingerprint(t *testing.T) {
	base := validRedemption().Fingerprint()
	if len(base) != 32 {
		t.Fatalf("len(Fingerprint) = %d, want 32", len(base))
	}
	tests := []struct {
		name     string
		edit     func(r *canasta.RedemptionRequest)
		wantSame bool
	}{
		{"same_body", func(r *canasta.RedemptionRequest) {}, true},
		// The request id is what fingerprints are compared under, not part of the body.
		{"other_request_id", func(r *canasta.RedemptionRequest) { r.RequestID = "req-0002" }, true},
		// Remaining is filled in on receipts, never asked for.
		{"remaining_ignored", func(r *canasta.RedemptionRequest) { r.Items[0].Remaining = 99 }, true},
		{"point", func(r *canasta.RedemptionRequest) { r.PointID = 8 }, false},
		{"household", func(r *canasta.RedemptionRequest) { r.HouseholdID = "hh_abd" }, false},
		{"program", func(r *canasta.RedemptionRequest) { r.Items[0].ProgramID = 3 }, false},
		{"quantity", func(r *canasta.RedemptionRequest) { r.Items[0].Quantity = 5001 }, false},
		{"item_dropped", func(r *canasta.RedemptionRequest) { r.Items = r.Items[:1] }, false},
		{"item_added", func(r *canasta.RedemptionRequest) {
			r.Items = append(r.Items, canasta.RedemptionItem{ProgramID: 9, Quantity: 1})
		}, false},
		{"quantity_moved_between_items", func(r *canasta.RedemptionRequest) {
			r.Items[0].Quantity, r.Items[1].Quantity = r.Items[1].Quantity, r.Items[0].Quantity
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRedemption()
			tt.edit(r)
			if same := bytes.Equal(r.Fingerprint(), base); same != tt.wantSame {
				t.Errorf("fingerprint equal to base = %v, want %v", same, tt.wantSame)
			}
		})
	}
}

func TestParsePeriod(t *testing.T) {
	tests := []struct {
		in      string
		wantErr bool
	}{
		{"2026-01", false},
		{"1999-12", false},
		{"2026-1", true},
		{"2026-13", true},
		{"2026-00", true},
		{"26-01", true},
		{"2026-01-01", true},
		{" 2026-01", true},
		{"2026/01", true},
		{"", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := canasta.ParsePeriod(tt.in)
			if tt.wantErr {
				if canasta.ErrorCode(err) != canasta.EINVALID || p != "" {
					t.Errorf("ParsePeriod(%q) = %q, %v; want EINVALID", tt.in, p, err)
				}
				return
			}
			if err != nil || string(p) != tt.in {
				t.Errorf("ParsePeriod(%q) = %q, %v", tt.in, p, err)
			}
			if got := canasta.PeriodOf(p.Start()); got != p {
				t.Errorf("PeriodOf(%q.Start()) = %q", p, got)
			}
		})
	}
}

func TestPeriodOf(t *testing.T) {
	tests := []struct {
		name string
		t    time.Time
		want canasta.Period
	}{
		{"utc", time.Date(2026, 3, 31, 23, 59, 0, 0, time.UTC), "2026-03"},
		// 1 April 01:00 at UTC+2 is still 31 March in UTC.
		{"converted_to_utc", time.Date(2026, 4, 1, 1, 0, 0, 0, time.FixedZone("x", 2*3600)), "2026-03"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := canasta.PeriodOf(tt.t); got != tt.want {
				t.Errorf("PeriodOf(%v) = %q, want %q", tt.t, got, tt.want)
			}
		})
	}
}

func TestParsePurpose(t *testing.T) {
	for _, p := range canasta.Purposes {
		t.Run(string(p), func(t *testing.T) {
			if got, err := canasta.ParsePurpose(string(p)); err != nil || got != p {
				t.Errorf("ParsePurpose(%q) = %q, %v", p, got, err)
			}
		})
	}
	tests := []struct {
		name, in, wantErr string
	}{
		{"empty", "", "State a purpose"},
		{"unknown", "curiosity", `Unknown purpose "curiosity"`},
		{"case", "Audit", `Unknown purpose "Audit"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := canasta.ParsePurpose(tt.in)
			if p != "" {
				t.Errorf("ParsePurpose(%q) = %q, want none", tt.in, p)
			}
			checkInvalid(t, err, tt.wantErr)
		})
	}
}

func TestRoleValid(t *testing.T) {
	tests := []struct {
		role canasta.Role
		want bool
	}{
		{canasta.RoleAdmin, true},
		{canasta.RoleRegistrar, true},
		{canasta.RoleOperator, true},
		{canasta.RoleAuditor, true},
		{"", false},
		{"Admin", false},
		{"root", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.role), func(t *testing.T) {
			if got := tt.role.Valid(); got != tt.want {
				t.Errorf("Role(%q).Valid() = %v, want %v", tt.role, got, tt.want)
			}
		})
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	notFound := canasta.Errorf(canasta.ENOTFOUND, "Household %s not found.", "hh_x")
	tests := []struct {
		name     string
		err      error
		wantCode string
		wantMsg  string
	}{
		{"nil", nil, "", ""},
		{"application", notFound, canasta.ENOTFOUND, "Household hh_x not found."},
		{"wrapped", fmt.Errorf("find household: %w", notFound), canasta.ENOTFOUND, "Household hh_x not found."},
		{"wrapped_twice", fmt.Errorf("serve: %w", fmt.Errorf("find: %w", notFound)), canasta.ENOTFOUND, "Household hh_x not found."},
		{"joined", errors.Join(errors.New("disk"), canasta.Errorf(canasta.ECONFLICT, "Taken.")), canasta.ECONFLICT, "Taken."},
		{"internal", errors.New("database is locked: /var/lib/canasta.db"), canasta.EINTERNAL, "Internal error."},
		{"wrapped_internal", fmt.Errorf("redeem: %w", errors.New("sql: no rows")), canasta.EINTERNAL, "Internal error."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := canasta.ErrorCode(tt.err); got != tt.wantCode {
				t.Errorf("ErrorCode = %q, want %q", got, tt.wantCode)
			}
			if got := canasta.ErrorMessage(tt.err); got != tt.wantMsg {
				t.Errorf("ErrorMessage = %q, want %q", got, tt.wantMsg)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	err := canasta.Errorf(canasta.EINVALID, "Bad %d.", 3)
	if got, want := err.Error(), "canasta error: code=EINVALID message=Bad 3."; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
