package http

import (
	"net/http"
	"testing"
	"time"
)

func TestAttemptLimiter(t *testing.T) {
	l := newAttemptLimiter(3, time.Minute)
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	a := &http.Request{RemoteAddr: "192.0.2.1:5000"}
	sameHostOtherPort := &http.Request{RemoteAddr: "192.0.2.1:6000"}
	b := &http.Request{RemoteAddr: "[2001:db8::1]:443"}
	for i := range 3 {
		if ok, _ := l.allow(a, now); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	ok, wait := l.allow(sameHostOtherPort, now.Add(10*time.Second))
	if ok || wait != 50*time.Second {
		t.Fatalf("fourth attempt from the host: allowed %v, wait %v; want refused for 50s", ok, wait)
	}
	if ok, _ := l.allow(b, now); !ok {
		t.Fatal("another address is limited by the first one's attempts")
	}
	if ok, _ := l.allow(a, now.Add(time.Minute)); !ok {
		t.Fatal("a new window still refused")
	}
}
