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

func TestHouseholdMembers_Stored(t *testing.T) {
	a, b, c := &canasta.Person{ID: "a"}, &canasta.Person{ID: "b"}, &canasta.Person{ID: "c"}
	hm := &canasta.HouseholdMembers{Members: []*canasta.Person{a, b, c}}
	held := map[string]bool{"a": true, "c": true, "old": true}
	has := func(id string) bool { return held[id] }

	members, created := hm.Stored(has, 3)
	if len(members) != 2 || members[0] != a || members[1] != c {
		t.Fatalf("members %v, want a and c, in order", members)
	}
	if created {
		t.Fatal("the store holds a member the batch did not create, yet the household counts as created")
	}
	delete(held, "old")
	if _, created := hm.Stored(has, 2); !created {
		t.Fatal("every stored member is new, yet the household does not count as created")
	}
}
