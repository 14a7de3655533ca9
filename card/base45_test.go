package card

import (
	"bytes"
	"crypto/rand"
	"testing"
)

// The examples of RFC 9285, sections 4.3 and 4.4.
func TestBase45RFC9285(t *testing.T) {
	tests := []struct {
		name, raw, encoded string
	}{
		{"AB", "AB", "BB8"},
		{"Hello", "Hello!!", "%69 VD92EX0"},
		{"base-45", "base-45", "UJCLQE7W581"},
		{"ietf", "ietf!", "QED8WEX0"},
		{"Empty", "", ""},
		{"OneByte", "\x00", "00"},
		{"MaxPair", "\xff\xff", "FGW"},
		{"MaxSingle", "\xff", "U5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Base45Encode([]byte(tt.raw)); got != tt.encoded {
				t.Errorf("Base45Encode(%q) = %q, want %q", tt.raw, got, tt.encoded)
			}
			got, err := Base45Decode(tt.encoded)
			if err != nil {
				t.Fatalf("Base45Decode(%q): %v", tt.encoded, err)
			}
			if string(got) != tt.raw {
				t.Errorf("Base45Decode(%q) = %q, want %q", tt.encoded, got, tt.raw)
			}
		})
	}
}

func TestBase45DecodeInvalid(t *testing.T) {
	tests := []struct{ name, in string }{
		{"GroupAbove65535", "GGW"}, // 16 + 16·45 + 32·45² = 65536 (RFC 9285 §4.4)
		{"PairAbove255", "ZZ"},
		{"PairJustAbove255", "V5"}, // 31 + 5·45 = 256
		{"LowerCase", "bb8"},
		{"CharacterOutsideAlphabet", "BB!"},
		{"UTF8", "BBé"},
		{"SingleCharacter", "B"},
		{"DanglingCharacter", "BB8B"},
		{"NUL", "BB\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := Base45Decode(tt.in); err == nil {
				t.Errorf("Base45Decode(%q) = %x, want an error", tt.in, got)
			}
		})
	}
}

func TestBase45RoundTrip(t *testing.T) {
	for n := range 64 {
		b := make([]byte, n)
		rand.Read(b)
		got, err := Base45Decode(Base45Encode(b))
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("round trip of %x gave %x, %v", b, got, err)
		}
	}
}
