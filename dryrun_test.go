package canasta_test

import (
	"math"
	"testing"

	"github.com/canasta/canasta"
)

func TestUnitCost(t *testing.T) {
	for _, tt := range []struct {
		name     string
		cost     canasta.UnitCost
		quantity int64
		want     int64
		ok       bool
	}{
		{"PerUnit", canasta.UnitCost{Minor: 3}, 1000, 3000, true},
		{"PerKilogram", canasta.UnitCost{Minor: 150, Per: 1000}, 10000, 1500, true},
		{"RoundsHalfUp", canasta.UnitCost{Minor: 125, Per: 1000}, 34500, 4313, true},
		{"RoundsDown", canasta.UnitCost{Minor: 1, Per: 3}, 1, 0, true},
		{"Negative", canasta.UnitCost{Minor: 125, Per: 1000}, -34500, -4312, true},
		{"Large", canasta.UnitCost{Minor: 1 << 40, Per: 1 << 20}, 1 << 40, 1 << 60, true},
		{"Overflows", canasta.UnitCost{Minor: math.MaxInt64}, 2, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.cost.Cost(tt.quantity)
			if ok != tt.ok || (ok && got != tt.want) {
				t.Fatalf("Cost(%d) = %d, %v; want %d, %v", tt.quantity, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestDryRunRequestValidate(t *testing.T) {
	valid := func() canasta.DryRunRequest {
		return canasta.DryRunRequest{ProgramID: 1, Proposal: canasta.Program{Name: "Rice", Commodity: canasta.Commodity{Code: "rice", Unit: canasta.UnitGram},
			Eligibility: "true", Quantity: "1", Period: canasta.PeriodMonthly}}
	}
	for _, tt := range []struct {
		name   string
		change func(r *canasta.DryRunRequest)
		code   string
	}{
		{"OK", func(r *canasta.DryRunRequest) {}, ""},
		{"WithPeriodAndCost", func(r *canasta.DryRunRequest) { r.Period, r.UnitCost = "2025-03", &canasta.UnitCost{Minor: 1} }, ""},
		{"NoProgram", func(r *canasta.DryRunRequest) { r.ProgramID = 0 }, canasta.ENOTFOUND},
		{"NoRule", func(r *canasta.DryRunRequest) { r.Proposal.Quantity = " " }, canasta.EINVALID},
		{"BadUnit", func(r *canasta.DryRunRequest) { r.Proposal.Commodity.Unit = "kg" }, canasta.EINVALID},
		{"BadPeriod", func(r *canasta.DryRunRequest) { r.Period = "2025-3" }, canasta.EINVALID},
		{"NegativeCost", func(r *canasta.DryRunRequest) { r.UnitCost = &canasta.UnitCost{Minor: -1} }, canasta.EINVALID},
		{"NegativePer", func(r *canasta.DryRunRequest) { r.UnitCost = &canasta.UnitCost{Minor: 1, Per: -1} }, canasta.EINVALID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := valid()
			tt.change(&r)
			if got := canasta.ErrorCode(r.Validate()); got != tt.code {
				t.Fatalf("Validate() code %q, want %q", got, tt.code)
			}
		})
	}
}
