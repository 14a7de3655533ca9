package point

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/canasta/canasta"
)

// ErrOffline marks an error reaching the server: the network or the
// server is down, or the server answered that it is unavailable. The
// agent then works from its rights and tries again later.
var ErrOffline = errors.New("point: server unreachable")

// Client calls the server's device routes, signing every request with
// the device key.
type Client struct {
	// URL is the server's base URL, such as https://canasta.example.org.
	URL      string
	DeviceID int64
	Key      ed25519.PrivateKey
	HTTP     *http.Client
	// Now is the device clock the request times are read from.
	Now func() time.Time

	// offset corrects the device clock by the server's, learnt from the
	// Date header of a refusal for a wrong clock.
	offset atomic.Int64
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

func (c *Client) now() time.Time {
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	return now.Add(time.Duration(c.offset.Load()))
}

// learnClock sets the clock correction from a response's Date header
// and reports whether it changed by more than the server tolerates.
func (c *Client) learnClock(resp *http.Response) bool {
	at, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return false
	}
	off := at.Sub(c.now())
	if off < canasta.MaxDeviceClockSkew/2 && off > -canasta.MaxDeviceClockSkew/2 {
		return false
	}
	c.offset.Add(int64(off))
	return true
}

// Enroll generates a device key, enrolls it with the one-time token and
// returns the enrolled device and its key.
func (c *Client) Enroll(ctx context.Context, token string) (*canasta.Device, ed25519.PrivateKey, error) {
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, nil, fmt.Errorf("generate device key: %w", err)
	}
	var d canasta.Device
	body := map[string]any{"token": token, "public_key": []byte(pub)}
	if err := c.do(ctx, "POST", "/api/v1/devices/enroll", body, &d, false); err != nil {
		return nil, nil, fmt.Errorf("enroll: %w", err)
	}
	return &d, key, nil
}

// Sync uploads a batch and returns the server's answer.
func (c *Client) Sync(ctx context.Context, batch *canasta.SyncBatch) (*canasta.SyncResult, error) {
	var res canasta.SyncResult
	if err := c.do(ctx, "POST", "/api/v1/device/sync", batch, &res, true); err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	return &res, nil
}

// Reserve asks for extra rights, all or none.
func (c *Client) Reserve(ctx context.Context, reqs []canasta.RightRequest) ([]*canasta.Right, error) {
	var res struct {
		Rights []*canasta.Right `json:"rights"`
	}
	if err := c.do(ctx, "POST", "/api/v1/device/rights", map[string]any{"requests": reqs}, &res, true); err != nil {
		return nil, fmt.Errorf("reserve rights: %w", err)
	}
	return res.Rights, nil
}

// CardMaterial downloads the published card keys and the signed
// revocation list.
func (c *Client) CardMaterial(ctx context.Context) (keys, revocations []byte, err error) {
	if keys, err = c.get(ctx, "/api/v1/cards/keys"); err != nil {
		return nil, nil, err
	}
	if revocations, err = c.get(ctx, "/api/v1/cards/revocations"); err != nil {
		return nil, nil, err
	}
	return keys, revocations, nil
}

func (c *Client) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimRight(c.URL, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w: %w", path, ErrOffline, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("get %s: %w: %w", path, ErrOffline, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, responseError(resp.StatusCode, b)
	}
	return b, nil
}

// SignRequest signs req, whose body is body, as the device.
func SignRequest(req *http.Request, deviceID int64, key ed25519.PrivateKey, at time.Time, body []byte) {
	unix := at.Unix()
	var n [18]byte
	rand.Read(n[:])
	nonce := base64.RawURLEncoding.EncodeToString(n[:])
	sig := ed25519.Sign(key, canasta.DeviceRequestDigest(req.Method, req.URL.RequestURI(), unix, nonce, body))
	req.Header.Set(canasta.DeviceIDHeader, strconv.FormatInt(deviceID, 10))
	req.Header.Set(canasta.DeviceTimeHeader, strconv.FormatInt(unix, 10))
	req.Header.Set(canasta.DeviceNonceHeader, nonce)
	req.Header.Set(canasta.DeviceSignatureHeader, base64.StdEncoding.EncodeToString(sig))
}

// do sends a request and decodes the answer into out. A signed request
// refused while the device clock is off the server's by more than the
// server tolerates is sent once more on the server's time: a device with
// a wrong clock can still sync, and the signature still binds the time.
func (c *Client) do(ctx context.Context, method, path string, in, out any, sign bool) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		status, b, err := c.send(ctx, method, path, body, sign)
		if err != nil {
			return err
		}
		if status == http.StatusUnauthorized && sign && attempt == 0 && b.clockFixed {
			continue
		}
		if status/100 != 2 {
			return responseError(status, b.body)
		}
		if err := json.Unmarshal(b.body, out); err != nil {
			return fmt.Errorf("decode %s response: %w", path, err)
		}
		return nil
	}
}

// answer is a response body, and whether the refusal it carries taught
// the client the server's clock.
type answer struct {
	body       []byte
	clockFixed bool
}

func (c *Client) send(ctx context.Context, method, path string, body []byte, sign bool) (int, answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.URL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if sign {
		SignRequest(req, c.DeviceID, c.Key, c.now(), body)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return 0, answer{}, fmt.Errorf("%w: %w", ErrOffline, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, answer{}, fmt.Errorf("%w: %w", ErrOffline, err)
	}
	a := answer{body: b}
	if resp.StatusCode == http.StatusUnauthorized && sign {
		a.clockFixed = c.learnClock(resp)
	}
	return resp.StatusCode, a, nil
}

// responseError turns an error response into the application error it
// carries; a 5xx or a body that is not one is the server being
// unavailable.
func responseError(status int, b []byte) error {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if status >= 500 || json.Unmarshal(b, &e) != nil || e.Error.Code == "" {
		return fmt.Errorf("%w: status %d", ErrOffline, status)
	}
	return canasta.Errorf(e.Error.Code, "%s", e.Error.Message)
}
