package canasta_test

import (
	"testing"

	"github.com/canasta/canasta"
)

func TestCreatedMembers(t *testing.T) {
	newA, newB, old := &canasta.Person{ID: "p1"}, &canasta.Person{ID: "p2"}, &canasta.Person{}
	created := &canasta.Household{ID: "h1", Members: []*canasta.Person{newA, newB}}
	grown := &canasta.Household{ID: "h2", Members: []*canasta.Person{old, {ID: "p3"}}}
	unchanged := &canasta.Household{ID: "h3", Members: []*canasta.Person{{}}}
	notStored := &canasta.Household{Members: []*canasta.Person{{}}}

	got := canasta.CreatedMembers([]*canasta.Household{created, nil, unchanged, grown, notStored, created})
	if len(got) != 2 || got[0].Household != created || got[1].Household != grown {
		t.Fatalf("got %d households, want h1 then h2 once each", len(got))
	}
	if len(got[0].Members) != 2 || got[0].Members[0] != newA || got[0].Members[1] != newB {
		t.Errorf("h1 members %v, want p1 and p2 once each", got[0].Members)
	}
	if len(got[1].Members) != 1 || got[1].Members[0].ID != "p3" {
		t.Errorf("h2 members %v, want only the new p3", got[1].Members)
	}
}
