package canasta_test

import (
	"errors"
	"testing"

	"github.com/canasta/canasta"
)

// sizeEngine compiles a program into a rule granting Quantity "size"
// times its id, failing for households of the size named in Eligibility.
type sizeEngine struct{}

type sizeRule struct {
	id   int64
	fail string
}

func (sizeEngine) Compile(p *canasta.Program, _ *canasta.Schema) (canasta.Rule, error) {
	if p.Quantity == "bad" {
		return nil, canasta.Errorf(canasta.EINVALID, "syntax error")
	}
	if p.Quantity == "broken" {
		return nil, errors.New("engine down")
	}
	return sizeRule{id: p.ID, fail: p.Eligibility}, nil
}

func (r sizeRule) Evaluate(f *canasta.Facts) (canasta.Grant, error) {
	switch {
	case r.fail == "error" && f.Size == 2:
		return canasta.Grant{}, errors.New("division by zero")
	case r.fail == "negative" && f.Size == 2:
		return canasta.Grant{Eligible: true, Quantity: -1}, nil
	case r.fail == "ineligible":
		return canasta.Grant{}, nil
	}
	return canasta.Grant{Eligible: true, Quantity: f.Size * r.id, Explanation: "size"}, nil
}

func household(size int) *canasta.Household {
	h := &canasta.Household{Address: canasta.Address{Region: "Norte"}}
	for range size {
		h.Members = append(h.Members, &canasta.Person{GivenName: "A"})
	}
	return h
}

func TestCycleRules(t *testing.T) {
	programs := []*canasta.Program{{ID: 1, Name: "Rice"}, {ID: 2, Eligibility: "error"}, {ID: 3, Eligibility: "negative"}, {ID: 4, Eligibility: "ineligible"}}
	c, err := canasta.CompileCycleRules(sizeEngine{}, "2026-12", programs, nil)
	if err != nil || c.Len() != 4 {
		t.Fatalf("compile: %v, len %d", err, c.Len())
	}
	var firsts []int64
	onFirst := func(id int64, _ error) { firsts = append(firsts, id) }
	for _, tt := range []struct {
		name   string
		size   int
		grants map[int64]int64
		failed bool
	}{
		{"AllGrant", 3, map[int64]int64{1: 3, 2: 6, 3: 9}, false},
		{"FailuresCounted", 2, map[int64]int64{1: 2}, true},
		{"FailuresAgain", 2, map[int64]int64{1: 2}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := map[int64]int64{}
			failed := c.Evaluate(household(tt.size), func(id, q int64, _ string) { got[id] = q }, onFirst)
			if failed != tt.failed || len(got) != len(tt.grants) {
				t.Fatalf("failed=%v grants=%v, want %v %v", failed, got, tt.failed, tt.grants)
			}
			for id, q := range tt.grants {
				if got[id] != q {
					t.Errorf("program %d granted %d, want %d", id, got[id], q)
				}
			}
		})
	}
	if len(firsts) != 2 || firsts[0] != 2 || firsts[1] != 3 {
		t.Errorf("first failures reported for %v, want [2 3] once each", firsts)
	}
	if f := c.Failures(); len(f) != 2 || f[2] != 2 || f[3] != 2 {
		t.Errorf("failures = %v", f)
	}
}

func TestCompileCycleRulesErrors(t *testing.T) {
	_, err := canasta.CompileCycleRules(sizeEngine{}, "2026-12", []*canasta.Program{{ID: 7, Name: "Oil", Quantity: "bad"}}, nil)
	if canasta.ErrorCode(err) != canasta.EINVALID || canasta.ErrorMessage(err) != "Program 7 (Oil) does not compile: syntax error" {
		t.Errorf("bad rule: %v", err)
	}
	_, err = canasta.CompileCycleRules(sizeEngine{}, "2026-12", []*canasta.Program{{ID: 8, Quantity: "broken"}}, nil)
	if canasta.ErrorCode(err) != canasta.EINTERNAL {
		t.Errorf("engine failure: %v", err)
	}
}
