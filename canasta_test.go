package canasta_test

import (
	"strings"
	"testing"
	"time"

	"github.com/canasta/canasta"
)

func TestNewRequestID(t *testing.T) {
	t.Run("SortsByTime", func(t *testing.T) {
		start := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
		var ids []string
		// Steps of one millisecond, then of seconds and years, cross
		// every digit of the encoded time.
		for i := range 200 {
			ids = append(ids, canasta.NewRequestID(start.Add(time.Duration(i)*time.Millisecond)))
		}
		for i := range 50 {
			ids = append(ids, canasta.NewRequestID(start.Add(time.Second+time.Duration(i)*37*time.Hour)))
		}
		ids = append(ids, canasta.NewRequestID(start.AddDate(80, 0, 0)))
		for i := 1; i < len(ids); i++ {
			if ids[i-1] >= ids[i] {
				t.Fatalf("id %d %q does not sort after id %d %q", i, ids[i], i-1, ids[i-1])
			}
		}
	})
	t.Run("UniqueWithinOneMillisecond", func(t *testing.T) {
		at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
		seen := map[string]bool{}
		for range 10000 {
			id := canasta.NewRequestID(at)
			if seen[id] {
				t.Fatalf("id %q made twice", id)
			}
			seen[id] = true
		}
	})
	t.Run("IsAValidRequestID", func(t *testing.T) {
		id := canasta.NewRequestID(time.Now())
		if !strings.HasPrefix(id, "rq_") || len(id) != 3+26 {
			t.Fatalf("id %q: want rq_ and 26 characters", id)
		}
		req := canasta.RedemptionRequest{RequestID: id, PointID: 1, HouseholdID: "hh_x",
			Items: []canasta.RedemptionItem{{ProgramID: 1, Quantity: 1}}}
		if err := req.Validate(); err != nil {
			t.Fatalf("Validate: %v", err)
		}
	})
}
