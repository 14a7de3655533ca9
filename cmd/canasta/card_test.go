package main

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/alexedwards/argon2id"
	"github.com/canasta/canasta"
	"github.com/canasta/canasta/card"
)

// cliRun runs the command line in-process and returns both outputs.
func cliRun(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

var hexKID = regexp.MustCompile(`^[0-9a-f]{16}$`)

func TestKeysCommands(t *testing.T) {
	data := t.TempDir()
	rotate := func(t *testing.T) string {
		t.Helper()
		out, _, err := cliRun(t, "keys", "rotate", "--data", data)
		if err != nil {
			t.Fatal(err)
		}
		kid := strings.TrimSpace(out)
		if !hexKID.MatchString(kid) {
			t.Fatalf("rotate printed %q, want a 16-digit hex kid", out)
		}
		return kid
	}
	first := rotate(t)
	second := rotate(t)
	if first == second {
		t.Fatalf("two rotations gave the same kid %s", first)
	}
	if _, _, err := cliRun(t, "keys", "retire", "--data", data, first); err != nil {
		t.Fatal(err)
	}
	out, _, err := cliRun(t, "keys", "list", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], first) || strings.HasSuffix(lines[1], "-") ||
		!strings.HasPrefix(lines[2], second) || !strings.HasSuffix(lines[2], "-") {
		t.Fatalf("keys list:\n%s\nwant %s retired and %s in service", out, first, second)
	}

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"RetireAgain", []string{"keys", "retire", "--data", data, first}, "already retired"},
		{"RetireUnknown", []string{"keys", "retire", "--data", data, "0000000000000000"}, "No card key"},
		{"RetireWithoutKID", []string{"keys", "retire", "--data", data}, "usage"},
		{"UnknownSubcommand", []string{"keys", "burn", "--data", data}, "unknown keys command"},
		{"NoStore", []string{"keys", "rotate", "--data", ""}, "no store"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envData, "")
			t.Setenv(envDB, "")
			_, _, err := cliRun(t, tt.args...)
			if err == nil || !strings.Contains(message(err), tt.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

// issuedCard issues a card in a fresh data directory and writes the
// published key list beside it.
func issuedCard(t *testing.T) (code, keysFile string, keysJSON []byte) {
	t.Helper()
	ctx := context.Background()
	st, err := openSQLite(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	h := &canasta.Household{Address: canasta.Address{Region: "Norte"}, MonthlyIncome: canasta.UnknownIncome,
		Members: []*canasta.Person{{GivenName: "Ana", FamilyName: "Mamani", Relationship: canasta.RelationshipHead}}}
	if err := st.households.CreateHousehold(ctx, h); err != nil {
		t.Fatal(err)
	}
	cards, err := newCardService(st)
	if err != nil {
		t.Fatal(err)
	}
	cards.PINParams = &argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	ic, err := cards.IssueCard(ctx, h.ID)
	if err != nil {
		t.Fatal(err)
	}
	if keysJSON, err = cards.PublicKeys(ctx); err != nil {
		t.Fatal(err)
	}
	keysFile = filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(keysFile, keysJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	return ic.Code, keysFile, keysJSON
}

// resigned returns code with one byte of its signed payload changed and
// everything around it rebuilt, so only the signature check can catch it.
func resigned(t *testing.T, code, from, to string) string {
	t.Helper()
	compressed, err := card.Base45Decode(strings.TrimPrefix(code, card.Prefix))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(compressed))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(msg, []byte(from)) {
		t.Fatalf("signed message has no %q", from)
	}
	msg = bytes.Replace(msg, []byte(from), []byte(to), 1)
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write(msg)
	zw.Close()
	return card.Prefix + card.Base45Encode(buf.Bytes())
}

func TestCardVerifyCommand(t *testing.T) {
	code, keysFile, keysJSON := issuedCard(t)
	keysServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/cards/keys" {
			http.NotFound(w, r)
			return
		}
		w.Write(keysJSON)
	}))
	defer keysServer.Close()

	foreign, err := card.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	foreignJSON, err := json.Marshal(card.PublicKeysResponse{Keys: []card.PublicKey{foreign.Public()}})
	if err != nil {
		t.Fatal(err)
	}
	foreignFile := filepath.Join(t.TempDir(), "foreign.json")
	if err := os.WriteFile(foreignFile, foreignJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	claims, err := card.VerifyCard(code, card.VerifyOptions{IgnoreTime: true, Keys: mustKeySet(t, keysJSON)})
	if err != nil {
		t.Fatal(err)
	}
	forgedHousehold := resigned(t, code, claims.Household, "hh_"+strings.Repeat("a", len(claims.Household)-3))
	tampered := []byte(code)
	tampered[len(tampered)/2] = map[bool]byte{true: 'Q', false: 'P'}[tampered[len(tampered)/2] == 'P']

	for _, tt := range []struct {
		name string
		args []string
		want string // in stdout on success, in the error otherwise
		ok   bool
	}{
		{"Valid", []string{"--keys", keysFile, code}, claims.CardID, true},
		{"ValidFromURL", []string{"--keys", keysServer.URL + "/api/v1/cards/keys", code}, `"-70001"`, true},
		{"IgnoreTime", []string{"--keys", keysFile, "--ignore-time", code}, claims.CardID, true},
		{"Expired", []string{"--keys", keysFile, "--at", "2100-01-01T00:00:00Z", code}, "step expired", false},
		{"NotYetValid", []string{"--keys", keysFile, "--at", "2000-01-01T00:00:00Z", code}, "step not-yet-valid", false},
		{"ForeignKey", []string{"--keys", foreignFile, code}, "step kid", false},
		{"SignedPayloadChanged", []string{"--keys", keysFile, forgedHousehold}, "step signature", false},
		{"Tampered", []string{"--keys", keysFile, string(tampered)}, "Verification failed at step", false},
		{"WrongPrefix", []string{"--prefix", "HC1:", "--keys", keysFile, code}, "step prefix", false},
		{"NotBase45", []string{"--keys", keysFile, card.Prefix + "abc"}, "step base45", false},
		{"KeysURLNotFound", []string{"--keys", keysServer.URL + "/nothing", code}, "404", false},
		{"KeysAndCert", []string{"--keys", keysFile, "--cert", keysFile, code}, "exactly one of --keys or --cert", false},
		{"NoKeys", []string{code}, "exactly one of --keys or --cert", false},
		{"AtAndIgnoreTime", []string{"--keys", keysFile, "--at", "2030-01-01T00:00:00Z", "--ignore-time", code}, "not both", false},
		{"BadAt", []string{"--keys", keysFile, "--at", "tomorrow", code}, "RFC 3339", false},
		{"NoCode", []string{"--keys", keysFile}, "exactly one code", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := cliRun(t, append([]string{"card", "verify"}, tt.args...)...)
			if tt.ok {
				if err != nil {
					t.Fatalf("verify failed: %s", message(err))
				}
				var raw map[string]any
				if err := json.Unmarshal([]byte(out), &raw); err != nil {
					t.Fatalf("output is not JSON: %v\n%s", err, out)
				}
				if !strings.Contains(out, tt.want) {
					t.Fatalf("output does not mention %q:\n%s", tt.want, out)
				}
				return
			}
			if err == nil {
				t.Fatalf("verify succeeded, want a failure mentioning %q; output:\n%s", tt.want, out)
			}
			if !strings.Contains(message(err), tt.want) {
				t.Fatalf("error %q, want one mentioning %q", message(err), tt.want)
			}
		})
	}
}

func mustKeySet(t *testing.T, keysJSON []byte) *card.KeySet {
	t.Helper()
	var list card.PublicKeysResponse
	if err := json.Unmarshal(keysJSON, &list); err != nil {
		t.Fatal(err)
	}
	keys, err := card.NewKeySet(list.Keys...)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestCardVerifyHealthCertificate verifies a genuine EU Digital COVID
// Certificate test vector through the command, given its prefix and its
// signer's certificate.
func TestCardVerifyHealthCertificate(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "card", "testdata", "dgc", "AT-1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vector struct {
		Prefix  string `json:"PREFIX"`
		TestCtx struct {
			Certificate     string `json:"CERTIFICATE"`
			ValidationClock string `json:"VALIDATIONCLOCK"`
		} `json:"TESTCTX"`
	}
	if err := json.Unmarshal(b, &vector); err != nil {
		t.Fatal(err)
	}
	der, err := base64.StdEncoding.DecodeString(vector.TestCtx.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	derFile, pemFile := filepath.Join(dir, "dsc.der"), filepath.Join(dir, "dsc.pem")
	if err := os.WriteFile(derFile, der, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name string
		args []string
		want string
		ok   bool
	}{
		{"AtValidationClock", []string{"--prefix", "HC1:", "--cert", derFile, "--at", vector.TestCtx.ValidationClock}, `"-260"`, true},
		{"PEMIgnoringTime", []string{"--prefix", "HC1:", "--cert", pemFile, "--ignore-time"}, `"AT"`, true},
		{"ExpiredNow", []string{"--prefix", "HC1:", "--cert", derFile}, "step expired", false},
		{"DefaultPrefix", []string{"--cert", derFile, "--ignore-time"}, "step prefix", false},
		{"CertIsNotACertificate", []string{"--prefix", "HC1:", "--cert", filepath.Join("..", "..", "card", "testdata", "dgc", "AT-1.json")}, "certificate", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"card", "verify"}, tt.args...), vector.Prefix)
			out, _, err := cliRun(t, args...)
			if tt.ok {
				if err != nil {
					t.Fatalf("verify failed: %s", message(err))
				}
				var raw map[string]any
				if err := json.Unmarshal([]byte(out), &raw); err != nil {
					t.Fatalf("output is not JSON: %v\n%s", err, out)
				}
				if hcert, ok := raw["-260"].(map[string]any); !ok || hcert["1"] == nil {
					t.Fatalf("no health certificate claim in:\n%s", out)
				}
				if !strings.Contains(out, tt.want) {
					t.Fatalf("output does not mention %q:\n%s", tt.want, out)
				}
				return
			}
			if err == nil || !strings.Contains(message(err), tt.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestCardDecodeCommand(t *testing.T) {
	code, keysFile, _ := issuedCard(t)
	png, err := card.QRPNG(code, 400)
	if err != nil {
		t.Fatal(err)
	}
	pngFile := filepath.Join(t.TempDir(), "card.png")
	if err := os.WriteFile(pngFile, png, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("ReadsCode", func(t *testing.T) {
		out, _, err := cliRun(t, "card", "decode", pngFile)
		if err != nil {
			t.Fatal(err)
		}
		if out != code+"\n" {
			t.Fatalf("decoded %q, want %q", out, code)
		}
	})
	t.Run("DecodedCodeVerifies", func(t *testing.T) {
		out, _, err := cliRun(t, "card", "decode", pngFile)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := cliRun(t, "card", "verify", "--keys", keysFile, strings.TrimSuffix(out, "\n")); err != nil {
			t.Fatalf("decoded code does not verify: %s", message(err))
		}
	})
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"NotAPNG", []string{"card", "decode", keysFile}, "not a PNG"},
		{"Missing", []string{"card", "decode", filepath.Join(t.TempDir(), "none.png")}, "no such file"},
		{"UnknownSubcommand", []string{"card", "print"}, "unknown card command"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := cliRun(t, tt.args...)
			if err == nil || !strings.Contains(message(err), tt.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}
