package http

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/canasta/canasta"
)

// Offline point devices. Staff enroll and revoke devices; a device then
// signs every request it makes with its Ed25519 key (see
// canasta.DeviceRequestDigest), and the routes it calls admit it only
// when the signature, the device's state and the request time check out.

type createDeviceRequest struct {
	Name string `json:"name"`
}

// DeviceEnrollment is what creating a device returns, once: the token is
// not kept.
type DeviceEnrollment struct {
	Device *canasta.Device `json:"device"`
	Token  string          `json:"enrollment_token"`
}

// EnrollRequest is what a device sends to enroll: its one-time token and
// its public key (base64 in JSON).
type EnrollRequest struct {
	Token     string `json:"token"`
	PublicKey []byte `json:"public_key"`
}

// RightsRequest asks for extra rights.
type RightsRequest struct {
	Requests []canasta.RightRequest `json:"requests"`
}

type homePointRequest struct {
	PointID int64 `json:"point_id"`
}

type receiptsRequest struct {
	Receipts []*canasta.OfflineReceipt `json:"receipts"`
}

func (s *Server) devices() (canasta.DeviceService, canasta.RightsService, error) {
	if s.DeviceService == nil || s.RightsService == nil {
		return nil, nil, canasta.Errorf(canasta.ENOTFOUND, "This server does not serve offline points.")
	}
	return s.DeviceService, s.RightsService, nil
}

// handleCreateDevice registers a device for the point and returns its
// one-time enrollment token.
func (s *Server) handleCreateDevice(w http.ResponseWriter, r *http.Request) error {
	devices, _, err := s.devices()
	if err != nil {
		return err
	}
	pointID, err := pathID(r, "id", "point")
	if err != nil {
		return err
	}
	var req createDeviceRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	d, token, err := devices.CreateDevice(r.Context(), pointID, req.Name)
	if err != nil {
		return fmt.Errorf("create device: %w", err)
	}
	s.writeJSON(w, r, http.StatusCreated, DeviceEnrollment{Device: d, Token: token})
	return nil
}

func (s *Server) handleFindDevices(w http.ResponseWriter, r *http.Request) error {
	devices, _, err := s.devices()
	if err != nil {
		return err
	}
	pointID, err := pathID(r, "id", "point")
	if err != nil {
		return err
	}
	ds, err := devices.FindDevices(r.Context(), pointID)
	if err != nil {
		return fmt.Errorf("find devices: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, nonNil(ds))
	return nil
}

// handleRevokeDevice revokes the device's key, then releases its rights.
func (s *Server) handleRevokeDevice(w http.ResponseWriter, r *http.Request) error {
	devices, _, err := s.devices()
	if err != nil {
		return err
	}
	id, err := pathID(r, "id", "device")
	if err != nil {
		return err
	}
	if err := devices.RevokeDevice(r.Context(), id); err != nil {
		return fmt.Errorf("revoke device: %w", err)
	}
	d, err := devices.FindDeviceByID(r.Context(), id)
	if err != nil {
		return fmt.Errorf("find revoked device: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, d)
	return nil
}

// handleUploadReceipts posts the journal of a device recovered after it
// was lost: staff hand it in, as its own key no longer opens the device
// routes.
func (s *Server) handleUploadReceipts(w http.ResponseWriter, r *http.Request) error {
	_, rights, err := s.devices()
	if err != nil {
		return err
	}
	id, err := pathID(r, "id", "device")
	if err != nil {
		return err
	}
	var req receiptsRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	res, err := rights.PostReceipts(r.Context(), id, req.Receipts)
	if err != nil {
		return fmt.Errorf("post receipts: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"receipts": nonNil(res)})
	return nil
}

func (s *Server) handleFindLosses(w http.ResponseWriter, r *http.Request) error {
	_, rights, err := s.devices()
	if err != nil {
		return err
	}
	pointID, err := pathID(r, "id", "point")
	if err != nil {
		return err
	}
	ls, err := rights.FindLosses(r.Context(), pointID)
	if err != nil {
		return fmt.Errorf("find losses: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, nonNil(ls))
	return nil
}

// handleSetHomePoint changes a household's home point.
func (s *Server) handleSetHomePoint(w http.ResponseWriter, r *http.Request) error {
	if s.HomePointService == nil {
		return canasta.Errorf(canasta.ENOTFOUND, "This server does not serve offline points.")
	}
	var req homePointRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.PointID <= 0 {
		return canasta.Errorf(canasta.EINVALID, "Give the home point as point_id.")
	}
	id := r.PathValue("id")
	if err := s.HomePointService.SetHomePoint(r.Context(), id, req.PointID); err != nil {
		return fmt.Errorf("set home point: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"household_id": id, "home_point_id": req.PointID})
	return nil
}

// handleEnrollDevice binds a device's key to its one-time token. It is
// public: the token is the credential.
func (s *Server) handleEnrollDevice(w http.ResponseWriter, r *http.Request) error {
	devices, _, err := s.devices()
	if err != nil {
		return err
	}
	var req EnrollRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	d, err := devices.EnrollDevice(r.Context(), req.Token, req.PublicKey)
	if err != nil {
		return fmt.Errorf("enroll device: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, d)
	return nil
}

// handleDeviceSync posts the device's receipts, renews its rights and
// returns them.
func (s *Server) handleDeviceSync(w http.ResponseWriter, r *http.Request) error {
	_, rights, err := s.devices()
	if err != nil {
		return err
	}
	d := deviceFromContext(r.Context())
	var batch canasta.SyncBatch
	if err := decodeJSON(w, r, &batch); err != nil {
		return err
	}
	for _, rc := range batch.Receipts {
		if rc != nil && rc.DeviceID != d.ID {
			return canasta.Errorf(canasta.EFORBIDDEN, "A device may upload only its own journal.")
		}
	}
	res, err := rights.Sync(r.Context(), d.ID, &batch)
	if err != nil {
		return fmt.Errorf("sync device %d: %w", d.ID, err)
	}
	res.Rights, res.Receipts = nonNil(res.Rights), nonNil(res.Receipts)
	s.writeJSON(w, r, http.StatusOK, res)
	return nil
}

// handleDeviceRights reserves extra rights, all or none.
func (s *Server) handleDeviceRights(w http.ResponseWriter, r *http.Request) error {
	_, rights, err := s.devices()
	if err != nil {
		return err
	}
	d := deviceFromContext(r.Context())
	var req RightsRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if len(req.Requests) == 0 || len(req.Requests) > canasta.MaxRedemptionItems {
		return canasta.Errorf(canasta.EINVALID, "Ask for 1 to %d rights at a time.", canasta.MaxRedemptionItems)
	}
	got, err := rights.ReserveRights(r.Context(), d.ID, req.Requests)
	if err != nil {
		return fmt.Errorf("reserve rights: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"rights": nonNil(got)})
	return nil
}

// handleDeviceSelf returns the calling device's record.
func (s *Server) handleDeviceSelf(w http.ResponseWriter, r *http.Request) error {
	s.writeJSON(w, r, http.StatusOK, deviceFromContext(r.Context()))
	return nil
}

type deviceContextKey struct{}

func deviceFromContext(ctx context.Context) *canasta.Device {
	d, _ := ctx.Value(deviceContextKey{}).(*canasta.Device)
	return d
}

// device admits only a request signed by a live device: the signature
// over canasta.DeviceRequestDigest must verify with the device's key, the
// request time must be within canasta.MaxDeviceClockSkew of the server's
// clock (a device whose clock was set back is refused), and the same
// signature is accepted once within that window, so a captured request
// cannot be replayed.
// Every refusal is the same EUNAUTHORIZED to the caller; the reason goes
// to the log.
func (s *Server) device(next func(w http.ResponseWriter, r *http.Request) error) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		devices, _, err := s.devices()
		if err != nil {
			return err
		}
		d, body, err := s.verifyDevice(r, devices)
		if err != nil {
			if canasta.ErrorCode(err) == canasta.EINTERNAL {
				return err
			}
			s.requestLogger(r).Warn("device request refused", "reason", canasta.ErrorMessage(err))
			// The server's clock, so a device whose clock is wrong can sign
			// its next request on it.
			w.Header().Set("Date", s.now().UTC().Format(http.TimeFormat))
			return err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		return next(w, r.WithContext(context.WithValue(r.Context(), deviceContextKey{}, d)))
	}
}

func (s *Server) verifyDevice(r *http.Request, devices canasta.DeviceService) (*canasta.Device, []byte, error) {
	id, err := strconv.ParseInt(r.Header.Get(canasta.DeviceIDHeader), 10, 64)
	if err != nil || id <= 0 {
		return nil, nil, canasta.Errorf(canasta.EUNAUTHORIZED, "Sign device requests: %s, %s, %s and %s headers.",
			canasta.DeviceIDHeader, canasta.DeviceTimeHeader, canasta.DeviceNonceHeader, canasta.DeviceSignatureHeader)
	}
	unix, err := strconv.ParseInt(r.Header.Get(canasta.DeviceTimeHeader), 10, 64)
	if err != nil {
		return nil, nil, canasta.Errorf(canasta.EUNAUTHORIZED, "The %s header must be Unix seconds.", canasta.DeviceTimeHeader)
	}
	now := s.now()
	if skew := now.Sub(time.Unix(unix, 0)); skew > canasta.MaxDeviceClockSkew || skew < -canasta.MaxDeviceClockSkew {
		return nil, nil, canasta.Errorf(canasta.EUNAUTHORIZED, "The device's clock is %s off the server's; set it right.", skew.Round(time.Second))
	}
	sig, err := base64.StdEncoding.DecodeString(r.Header.Get(canasta.DeviceSignatureHeader))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, nil, canasta.Errorf(canasta.EUNAUTHORIZED, "The %s header must be a base64 Ed25519 signature.", canasta.DeviceSignatureHeader)
	}
	nonce := r.Header.Get(canasta.DeviceNonceHeader)
	if len(nonce) < 16 || len(nonce) > 128 {
		return nil, nil, canasta.Errorf(canasta.EUNAUTHORIZED, "The %s header must hold 16 to 128 characters picked at random.", canasta.DeviceNonceHeader)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodySize))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, nil, bodyError(err)
		}
		return nil, nil, canasta.Errorf(canasta.EINVALID, "The request body could not be read.")
	}
	d, err := devices.FindDeviceByID(r.Context(), id)
	if code := canasta.ErrorCode(err); code == canasta.EINTERNAL {
		return nil, nil, fmt.Errorf("find device %d: %w", id, err)
	} else if code != "" || !d.Live() {
		return nil, nil, canasta.Errorf(canasta.EUNAUTHORIZED, "The device is unknown, not enrolled or revoked.")
	}
	if !ed25519.Verify(d.PublicKey, canasta.DeviceRequestDigest(r.Method, r.URL.RequestURI(), unix, nonce, body), sig) {
		return nil, nil, canasta.Errorf(canasta.EUNAUTHORIZED, "The device signature does not verify.")
	}
	if !s.seen.first(string(sig), now) {
		return nil, nil, canasta.Errorf(canasta.EUNAUTHORIZED, "This signed request was already received.")
	}
	return d, body, nil
}

// signatureCache remembers the device signatures accepted within the
// clock window, after which the time check refuses them anyway.
type signatureCache struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// first records sig and reports whether it was not seen before.
func (c *signatureCache) first(sig string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]time.Time{}
	}
	if len(c.seen) > 4096 {
		for k, t := range c.seen {
			if now.Sub(t) > 2*canasta.MaxDeviceClockSkew {
				delete(c.seen, k)
			}
		}
	}
	if _, ok := c.seen[sig]; ok {
		return false
	}
	c.seen[sig] = now
	return true
}
