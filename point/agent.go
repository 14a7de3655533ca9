package point

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/card"
)

// Defaults of an Agent.
const (
	DefaultSyncInterval = 30 * time.Second
	DefaultMaxBackoff   = 2 * time.Minute
	// syncBatch bounds the receipts sent in one sync request.
	syncBatch = 500
)

// Agent is the point's offline-capable service: it redeems against the
// device's rights, reserving more while online, and syncs its journal in
// the background.
type Agent struct {
	Store  *Store
	Client *Client
	Logger *slog.Logger
	// SyncInterval is the pause between syncs while online;
	// MinBackoff and MaxBackoff bound the pause after a failed one, which
	// doubles on each failure.
	SyncInterval time.Duration
	MinBackoff   time.Duration
	MaxBackoff   time.Duration

	kick chan struct{}

	mu       sync.Mutex
	online   bool
	lastErr  string
	keys     *card.KeySet
	keysSrc  []byte
	cancel   context.CancelFunc
	loopDone chan struct{}
}

// NewAgent returns an agent on an enrolled store.
func NewAgent(ctx context.Context, st *Store) (*Agent, error) {
	id, err := st.Identity(ctx)
	if err != nil {
		return nil, err
	} else if id == nil {
		return nil, ErrNotEnrolled
	}
	return &Agent{
		Store:        st,
		Client:       &Client{URL: id.Server, DeviceID: id.DeviceID, Key: id.Key, Now: st.Now},
		Logger:       slog.Default(),
		SyncInterval: DefaultSyncInterval,
		MinBackoff:   time.Second,
		MaxBackoff:   DefaultMaxBackoff,
		kick:         make(chan struct{}, 1),
	}, nil
}

// Enroll enrolls the store's device with the server using the one-time
// token, unless it is enrolled already.
func Enroll(ctx context.Context, st *Store, server, token string) error {
	if id, err := st.Identity(ctx); err != nil {
		return err
	} else if id != nil {
		return nil
	}
	if token == "" {
		return fmt.Errorf("this point is not enrolled: pass --enroll TOKEN (from POST /api/v1/points/{id}/devices)")
	}
	c := &Client{URL: server}
	d, key, err := c.Enroll(ctx, token)
	if err != nil {
		return err
	}
	return st.SetIdentity(ctx, &Identity{DeviceID: d.ID, PointID: d.PointID, Server: server, Key: key})
}

// Start runs the sync loop until Stop.
func (a *Agent) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.loopDone = make(chan struct{})
	go a.loop(ctx)
}

// Stop ends the sync loop and waits for it.
func (a *Agent) Stop() {
	if a.cancel != nil {
		a.cancel()
		<-a.loopDone
	}
}

// Kick asks for a sync now.
func (a *Agent) Kick() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// loop syncs every SyncInterval while it works, and retries with
// exponential backoff and jitter while it fails.
func (a *Agent) loop(ctx context.Context) {
	defer close(a.loopDone)
	backoff := a.MinBackoff
	for {
		wait := a.SyncInterval
		if err := a.SyncOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			a.Logger.Warn("sync failed", "err", err, "retry_in", backoff)
			wait = backoff + time.Duration(rand.Int64N(int64(backoff)/4+1))
			backoff = min(2*backoff, a.MaxBackoff)
		} else {
			backoff = a.MinBackoff
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-a.kick:
			t.Stop()
		case <-t.C:
		}
	}
}

func (a *Agent) setOnline(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err == nil {
		a.online, a.lastErr = true, ""
	} else if errors.Is(err, ErrOffline) {
		a.online, a.lastErr = false, "The server cannot be reached."
	} else {
		a.lastErr = canasta.ErrorMessage(err)
	}
}

// SyncOnce uploads every pending receipt, takes the server's rights and
// refreshes the card keys and revocation list.
func (a *Agent) SyncOnce(ctx context.Context) error {
	err := a.syncOnce(ctx)
	a.setOnline(err)
	return err
}

func (a *Agent) syncOnce(ctx context.Context) error {
	for {
		pending, err := a.Store.Pending(ctx, syncBatch)
		if err != nil {
			return err
		}
		res, err := a.Client.Sync(ctx, &canasta.SyncBatch{Receipts: pending})
		if err != nil {
			return err
		}
		for _, r := range res.Receipts {
			if r.Status == canasta.ReceiptRejected {
				a.Logger.Error("server rejected a receipt", "seq", r.Seq, "reason", r.Error)
			} else if r.Lost > 0 {
				a.Logger.Warn("receipt posted in part", "seq", r.Seq, "posted", r.Posted, "lost", r.Lost)
			}
		}
		if err := a.Store.ApplySync(ctx, res); err != nil {
			return err
		}
		if len(pending) < syncBatch {
			break
		}
	}
	keys, revocations, err := a.Client.CardMaterial(ctx)
	if canasta.ErrorCode(err) == canasta.ENOTFOUND {
		return nil // the server handles no cards
	} else if err != nil {
		return err
	}
	return a.Store.SetCardMaterial(ctx, keys, revocations)
}

// Status reports the device's state for the operator.
func (a *Agent) Status(ctx context.Context) (*Status, error) {
	st, err := a.Store.Status(ctx)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	st.Online, st.LastError = a.online, a.lastErr
	a.mu.Unlock()
	return st, nil
}

// Redeem serves a redemption the same way online and offline: from the
// device's rights, reserving what is missing first while the server can
// be reached. Beyond what the rights and the server allow it is
// ECONFLICT.
func (a *Agent) Redeem(ctx context.Context, req *canasta.RedemptionRequest) (*canasta.Redemption, bool, error) {
	rc, replay, err := a.Store.Redeem(ctx, req)
	if canasta.ErrorCode(err) == canasta.ECONFLICT && !replay {
		if reserved := a.reserveShortfall(ctx, req); reserved {
			rc, replay, err = a.Store.Redeem(ctx, req)
		}
	}
	if err != nil {
		return nil, false, err
	}
	if !replay {
		a.Kick()
	}
	r, err := a.receipt(ctx, rc)
	return r, replay, err
}

// reserveShortfall asks the server for what the rights lack for req and
// reports whether it got it.
func (a *Agent) reserveShortfall(ctx context.Context, req *canasta.RedemptionRequest) bool {
	if rc, err := a.Store.findByRequestID(ctx, req.RequestID); err != nil || rc != nil {
		return false // a different request reusing the id: not a shortfall
	}
	rights, err := a.Store.Rights(ctx)
	if err != nil {
		return false
	}
	var reqs []canasta.RightRequest
	for _, it := range req.Items {
		var have int64
		for _, r := range rights {
			if r.HouseholdID == req.HouseholdID && r.ProgramID == it.ProgramID {
				have += r.Spendable
			}
		}
		if have < it.Quantity {
			reqs = append(reqs, canasta.RightRequest{HouseholdID: req.HouseholdID, ProgramID: it.ProgramID, Quantity: it.Quantity - have})
		}
	}
	if len(reqs) == 0 {
		return false
	}
	got, err := a.Client.Reserve(ctx, reqs)
	if err != nil {
		if errors.Is(err, ErrOffline) {
			a.setOnline(err)
		}
		return false
	}
	a.setOnline(nil)
	return a.Store.MergeRights(ctx, got) == nil
}

// receipt is the operator's view of a journaled receipt, shaped as the
// server's: Remaining is what this point can still give of each program.
func (a *Agent) receipt(ctx context.Context, rc *canasta.OfflineReceipt) (*canasta.Redemption, error) {
	id, err := a.Store.Identity(ctx)
	if err != nil {
		return nil, err
	}
	rights, err := a.Store.Rights(ctx)
	if err != nil {
		return nil, err
	}
	r := &canasta.Redemption{ID: rc.Seq, RequestID: rc.RequestID, HouseholdID: rc.HouseholdID, PointID: id.PointID,
		Period: canasta.PeriodOf(rc.At), CreatedAt: rc.At}
	for _, it := range rc.Items {
		item := canasta.RedemptionItem{ProgramID: it.ProgramID, Quantity: it.Quantity}
		for _, rt := range rights {
			if rt.ID == it.RightID {
				item.Remaining = rt.Spendable
				r.Period = rt.Period
			}
		}
		r.Items = append(r.Items, item)
	}
	return r, nil
}

// VerifyCard checks a scanned code offline with the downloaded keys and
// signed revocation list, and returns the card's claims. EINVALID for a
// code that does not verify; ECONFLICT for a revoked card or when the
// revocation list is missing or expired, as a lost card could then pass.
func (a *Agent) VerifyCard(ctx context.Context, code string) (*card.Claims, error) {
	keysJSON, revocations, err := a.Store.CardMaterial(ctx)
	if err != nil {
		return nil, err
	}
	if keysJSON == nil || revocations == nil {
		return nil, canasta.Errorf(canasta.ECONFLICT, "This point has not downloaded the card keys yet; connect it to the network once.")
	}
	keys, err := a.keySet(keysJSON)
	if err != nil {
		return nil, err
	}
	now, err := a.Store.serverNow(ctx)
	if err != nil {
		return nil, err
	}
	list, err := card.VerifyRevocations(revocations, keys, now)
	if err != nil {
		return nil, canasta.Errorf(canasta.ECONFLICT, "This point's list of revoked cards is out of date; connect it to the network.")
	}
	claims, err := card.VerifyCard(code, card.VerifyOptions{Keys: keys, At: now})
	if err != nil {
		return nil, err
	}
	if list.Revoked(claims.CardID, claims.Version) {
		return nil, canasta.Errorf(canasta.ECONFLICT, "This card has been revoked.")
	}
	return claims, nil
}

func (a *Agent) keySet(keysJSON []byte) (*card.KeySet, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.keys != nil && string(a.keysSrc) == string(keysJSON) {
		return a.keys, nil
	}
	var resp card.PublicKeysResponse
	if err := json.Unmarshal(keysJSON, &resp); err != nil {
		return nil, fmt.Errorf("read card keys: %w", err)
	}
	keys, err := card.NewKeySet(resp.Keys...)
	if err != nil {
		return nil, fmt.Errorf("read card keys: %w", err)
	}
	a.keys, a.keysSrc = keys, keysJSON
	return keys, nil
}

// CheckCard is the offline card check: whether the card is valid and
// what this point can still give the household this month.
func (a *Agent) CheckCard(ctx context.Context, code string) (*canasta.CardCheck, error) {
	claims, err := a.VerifyCard(ctx, code)
	if err != nil {
		return nil, err
	}
	now, err := a.Store.serverNow(ctx)
	if err != nil {
		return nil, err
	}
	rights, err := a.Store.Rights(ctx)
	if err != nil {
		return nil, err
	}
	check := &canasta.CardCheck{Valid: true, CardID: claims.CardID, Version: claims.Version, Period: canasta.PeriodOf(now),
		Entitlements: []*canasta.Entitlement{}}
	for _, r := range rights {
		if r.HouseholdID == claims.Household {
			check.Entitlements = append(check.Entitlements, &canasta.Entitlement{ProgramID: r.ProgramID, Period: r.Period,
				Granted: r.Quantity, Redeemed: r.Drawn, Remaining: r.Spendable})
		}
	}
	return check, nil
}
