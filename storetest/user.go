package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/canasta/canasta"
)

func testUsers(t *testing.T, opener Opener) {
	st := open(t, opener)
	s := st.Users
	ctx := context.Background()
	const password = "correct horse battery"

	t.Run("EmptyListIsNotNil", func(t *testing.T) {
		got, err := s.FindUsers(ctx)
		if err != nil {
			t.Fatal(err)
		} else if got == nil || len(got) != 0 {
			t.Fatalf("FindUsers on an empty store = %#v, want an empty list", got)
		}
	})
	for _, tt := range []struct {
		name, username string
		role           canasta.Role
		password       string
	}{
		{"UnknownRole", "ana", "root", password},
		{"ShortPassword", "ana", canasta.RoleAdmin, "short"},
		{"LongPassword", "ana", canasta.RoleAdmin, strings.Repeat("x", canasta.MaxPasswordLength+1)},
		{"UpperCaseUsername", "Ana", canasta.RoleAdmin, password},
		{"EmptyUsername", "", canasta.RoleAdmin, password},
		{"SpaceInUsername", "ana maria", canasta.RoleAdmin, password},
	} {
		t.Run("CreateRejects"+tt.name, func(t *testing.T) {
			_, err := s.CreateUser(ctx, tt.username, tt.role, tt.password)
			wantCode(t, err, canasta.EINVALID)
		})
	}

	ana, err := s.CreateUser(ctx, "ana", canasta.RoleRegistrar, password)
	if err != nil {
		t.Fatal(err)
	}
	if ana.ID == 0 || ana.Username != "ana" || ana.Role != canasta.RoleRegistrar || !ana.CreatedAt.Equal(Now) || ana.DisabledAt != nil {
		t.Fatalf("created user %+v", *ana)
	}
	t.Run("DuplicateUsername", func(t *testing.T) {
		_, err := s.CreateUser(ctx, "ana", canasta.RoleOperator, password+"!")
		wantCode(t, err, canasta.ECONFLICT)
	})

	for _, tt := range []struct {
		name, username, password string
		code                     string
	}{
		{"Right", "ana", password, ""},
		{"WrongPassword", "ana", password + "x", canasta.EUNAUTHORIZED},
		{"UnknownUser", "bea", password, canasta.EUNAUTHORIZED},
		{"EmptyPassword", "ana", "", canasta.EUNAUTHORIZED},
		{"TooLongPassword", "ana", strings.Repeat("y", canasta.MaxPasswordLength+1), canasta.EUNAUTHORIZED},
	} {
		t.Run("Authenticate"+tt.name, func(t *testing.T) {
			u, err := s.Authenticate(ctx, tt.username, tt.password)
			wantCode(t, err, tt.code)
			if tt.code == "" && (u.ID != ana.ID || u.Role != canasta.RoleRegistrar) {
				t.Fatalf("authenticated %+v, want user %d", *u, ana.ID)
			}
		})
	}

	t.Run("FindUserByID", func(t *testing.T) {
		u, err := s.FindUserByID(ctx, ana.ID)
		if err != nil {
			t.Fatal(err)
		}
		if u.Username != "ana" || !u.CreatedAt.Equal(Now) {
			t.Fatalf("found %+v", *u)
		}
		_, err = s.FindUserByID(ctx, ana.ID+1000)
		wantCode(t, err, canasta.ENOTFOUND)
	})

	t.Run("Disable", func(t *testing.T) {
		st.clock.Set(Now.Add(time.Hour))
		defer st.clock.Set(Now)
		if err := s.DisableUser(ctx, ana.ID); err != nil {
			t.Fatal(err)
		}
		st.clock.Set(Now.Add(2 * time.Hour))
		if err := s.DisableUser(ctx, ana.ID); err != nil {
			t.Fatalf("disabling twice: %v", err)
		}
		_, err := s.Authenticate(ctx, "ana", password)
		wantCode(t, err, canasta.EUNAUTHORIZED)
		u, err := s.FindUserByID(ctx, ana.ID)
		if err != nil {
			t.Fatal(err)
		}
		if u.DisabledAt == nil || !u.DisabledAt.Equal(Now.Add(time.Hour)) {
			t.Fatalf("disabled_at = %v, want the first disabling time %v", u.DisabledAt, Now.Add(time.Hour))
		}
		wantCode(t, s.DisableUser(ctx, ana.ID+1000), canasta.ENOTFOUND)
	})

	t.Run("SecondHandleSeesUsers", func(t *testing.T) {
		other := st.Reopen(t)
		if _, err := s.CreateUser(ctx, "carla", canasta.RoleOperator, password); err != nil {
			t.Fatal(err)
		}
		u, err := other.Users.Authenticate(ctx, "carla", password)
		if err != nil {
			t.Fatal(err)
		}
		users, err := other.Users.FindUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(users) != 2 || users[0].ID != ana.ID || users[1].ID != u.ID {
			t.Fatalf("users = %v, want ana and carla in id order", users)
		}
	})
}
