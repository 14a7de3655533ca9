package http_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/canasta/canasta"
	canastahttp "github.com/canasta/canasta/http"
	"github.com/canasta/canasta/sqlite"
)

// deviceServer is a test server that serves offline points, with one
// enrolled device at the ledger's point.
type deviceServer struct {
	*testServer
	l        ledger
	deviceID int64
	key      ed25519.PrivateKey
}

func newDeviceServer(t *testing.T) *deviceServer {
	t.Helper()
	ts := newTestServer(t)
	rs := sqlite.NewRightsService(ts.db)
	ts.DeviceService, ts.RightsService, ts.HomePointService = rs, rs, rs
	ds := &deviceServer{testServer: ts, l: newLedger(t, ts)}
	runCycle(t, ts)

	var enr canastahttp.DeviceEnrollment
	ts.mustDo(t, http.StatusCreated, request{method: "POST", path: fmt.Sprintf("/api/v1/points/%d/devices", ds.l.point),
		token: ts.admin, body: map[string]string{"name": "till"}}).decode(t, &enr)
	pub, key, _ := ed25519.GenerateKey(nil)
	var d canasta.Device
	ts.mustDo(t, http.StatusOK, request{method: "POST", path: "/api/v1/devices/enroll",
		body: canastahttp.EnrollRequest{Token: enr.Token, PublicKey: pub}}).decode(t, &d)
	if !d.Live() || d.PointID != ds.l.point {
		t.Fatalf("enrolled %+v", d)
	}
	ds.deviceID, ds.key = d.ID, key
	// The token is spent.
	if got := ts.do(t, request{method: "POST", path: "/api/v1/devices/enroll",
		body: canastahttp.EnrollRequest{Token: enr.Token, PublicKey: pub}}); got.status != http.StatusUnauthorized {
		t.Fatalf("second enrollment with one token: %d", got.status)
	}
	return ds
}

// signed returns the headers of a device request signed at t.
func (ds *deviceServer) signed(method, path string, body []byte, at time.Time, nonce string) map[string]string {
	sig := ed25519.Sign(ds.key, canasta.DeviceRequestDigest(method, path, at.Unix(), nonce, body))
	return map[string]string{
		canasta.DeviceIDHeader:        strconv.FormatInt(ds.deviceID, 10),
		canasta.DeviceTimeHeader:      strconv.FormatInt(at.Unix(), 10),
		canasta.DeviceNonceHeader:     nonce,
		canasta.DeviceSignatureHeader: base64.StdEncoding.EncodeToString(sig),
	}
}

func TestDeviceRoutes_Staff(t *testing.T) {
	ds := newDeviceServer(t)
	operator := ds.token(t, canasta.RoleOperator)
	registrar := ds.token(t, canasta.RoleRegistrar)
	for _, tt := range []struct {
		name   string
		req    request
		status int
	}{
		{"OperatorCannotCreateDevice", request{method: "POST", path: fmt.Sprintf("/api/v1/points/%d/devices", ds.l.point), token: operator, body: map[string]string{"name": "x"}}, http.StatusForbidden},
		{"UnknownPoint", request{method: "POST", path: "/api/v1/points/999/devices", token: ds.admin, body: map[string]string{"name": "x"}}, http.StatusNotFound},
		{"ListDevices", request{method: "GET", path: fmt.Sprintf("/api/v1/points/%d/devices", ds.l.point), token: ds.admin}, http.StatusOK},
		{"Losses", request{method: "GET", path: fmt.Sprintf("/api/v1/points/%d/losses", ds.l.point), token: ds.admin}, http.StatusOK},
		{"HomePoint", request{method: "PUT", path: "/api/v1/households/" + ds.l.household + "/home-point", token: registrar, body: map[string]int64{"point_id": ds.l.point}}, http.StatusOK},
		{"HomePointUnknownPoint", request{method: "PUT", path: "/api/v1/households/" + ds.l.household + "/home-point", token: registrar, body: map[string]int64{"point_id": 999}}, http.StatusNotFound},
		{"HomePointOperator", request{method: "PUT", path: "/api/v1/households/" + ds.l.household + "/home-point", token: operator, body: map[string]int64{"point_id": ds.l.point}}, http.StatusForbidden},
		{"EnrollBadToken", request{method: "POST", path: "/api/v1/devices/enroll", body: map[string]any{"token": "cnen_nope", "public_key": make([]byte, 32)}}, http.StatusUnauthorized},
		{"UploadUnknownDevice", request{method: "POST", path: "/api/v1/devices/999/receipts", token: ds.admin, body: map[string]any{"receipts": []any{}}}, http.StatusNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := ds.do(t, tt.req); got.status != tt.status {
				t.Fatalf("status %d, want %d: %s", got.status, tt.status, got.body)
			}
		})
	}
	var h canasta.Household
	ds.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/households/" + ds.l.household + "?purpose=enrollment", token: ds.admin}).decode(t, &h)
	if h.HomePointID != ds.l.point {
		t.Fatalf("home point %d, want %d", h.HomePointID, ds.l.point)
	}
}

func TestDeviceRoutes_Signed(t *testing.T) {
	ds := newDeviceServer(t)
	body, _ := json.Marshal(canasta.SyncBatch{})
	const path = "/api/v1/device/sync"
	good := func(nonce string) map[string]string { return ds.signed("POST", path, body, testNow, nonce) }
	for _, tt := range []struct {
		name   string
		header map[string]string
		body   string
		status int
	}{
		{"Unsigned", nil, string(body), http.StatusUnauthorized},
		{"Signed", good("nonce-0000000000001"), string(body), http.StatusOK},
		{"Replayed", good("nonce-0000000000001"), string(body), http.StatusUnauthorized},
		{"BodyChanged", good("nonce-0000000000002"), `{"receipts":[]}`, http.StatusUnauthorized},
		{"ShortNonce", good("n"), string(body), http.StatusUnauthorized},
		{"ClockBehind", ds.signed("POST", path, body, testNow.Add(-time.Hour), "nonce-0000000000003"), string(body), http.StatusUnauthorized},
		{"ClockAhead", ds.signed("POST", path, body, testNow.Add(time.Hour), "nonce-0000000000004"), string(body), http.StatusUnauthorized},
		{"OtherPath", ds.signed("POST", "/api/v1/device/rights", body, testNow, "nonce-0000000000005"), string(body), http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := ds.do(t, request{method: "POST", path: path, body: tt.body, header: tt.header})
			if got.status != tt.status {
				t.Fatalf("status %d, want %d: %s", got.status, tt.status, got.body)
			}
		})
	}

	// A revoked device is refused, and its rights are released.
	ds.mustDo(t, http.StatusOK, request{method: "POST", path: fmt.Sprintf("/api/v1/devices/%d/revoke", ds.deviceID), token: ds.admin})
	if got := ds.do(t, request{method: "POST", path: path, body: string(body), header: good("nonce-0000000000009")}); got.status != http.StatusUnauthorized {
		t.Fatalf("revoked device: %d", got.status)
	}
}
