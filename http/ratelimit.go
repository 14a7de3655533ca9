package http

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// PortalLoginsPerMinute bounds portal sign-in attempts from one client
// address: enough for a family sharing a phone or a help desk's computer,
// far too few to try a common PIN on many cards.
const PortalLoginsPerMinute = 30

// attemptLimiter bounds sign-in attempts per client address in a fixed
// window. The card lock stops guessing one card's PIN; this stops one
// client trying a common PIN on many cards.
type attemptLimiter struct {
	max    int
	window time.Duration

	mu      sync.Mutex
	clients map[string]*attemptWindow
}

type attemptWindow struct {
	start time.Time
	n     int
}

func newAttemptLimiter(max int, window time.Duration) *attemptLimiter {
	return &attemptLimiter{max: max, window: window, clients: map[string]*attemptWindow{}}
}

// allow counts an attempt from r's client and reports whether it is within
// the limit, and if not, how long until the window ends.
func (l *attemptLimiter) allow(r *http.Request, now time.Time) (bool, time.Duration) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.clients) > 100000 {
		for k, w := range l.clients {
			if now.Sub(w.start) >= l.window {
				delete(l.clients, k)
			}
		}
	}
	w := l.clients[host]
	if w == nil || now.Sub(w.start) >= l.window {
		w = &attemptWindow{start: now}
		l.clients[host] = w
	}
	w.n++
	if w.n > l.max {
		return false, w.start.Add(l.window).Sub(now)
	}
	return true, 0
}
