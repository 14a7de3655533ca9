package card

import (
	"bytes"
	"compress/zlib"
	"errors"
	"testing"
)

func TestInflate(t *testing.T) {
	text := []byte("a card's signed token, compressed")
	good := deflate(text)
	badSum := bytes.Clone(good)
	badSum[len(badSum)-1] ^= 1
	exact := deflate(make([]byte, 100))
	tests := []struct {
		name  string
		in    []byte
		limit int
		want  []byte
		err   error // nil: any error expected when want is nil
	}{
		{"Valid", good, MaxInflated, text, nil},
		{"Empty", deflate(nil), MaxInflated, []byte{}, nil},
		{"ExactlyAtLimit", exact, 100, make([]byte, 100), nil},
		{"OneAboveLimit", exact, 99, nil, errTooLarge},
		{"Bomb", deflate(make([]byte, 8<<20)), MaxInflated, nil, errTooLarge},
		{"Truncated", good[:len(good)-5], MaxInflated, nil, nil},
		{"BadChecksum", badSum, MaxInflated, nil, nil},
		{"TrailingBytes", append(bytes.Clone(good), 0), MaxInflated, nil, nil},
		{"NotZlib", text, MaxInflated, nil, nil},
		{"Nothing", nil, MaxInflated, nil, nil},
		{"PresetDictionary", withDict(t, text), MaxInflated, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := inflate(tt.in, tt.limit)
			if tt.want != nil {
				if err != nil || !bytes.Equal(got, tt.want) {
					t.Fatalf("inflate = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("inflate = %d bytes, want an error", len(got))
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Fatalf("inflate error %v, want %v", err, tt.err)
			}
		})
	}
}

func withDict(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w, err := zlib.NewWriterLevelDict(&buf, zlib.BestCompression, []byte("dictionary"))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// TestInflateReuse runs good and bad inputs through the pooled readers in
// turn: a reader left broken by one input must not spoil the next.
func TestInflateReuse(t *testing.T) {
	good := deflate([]byte("again and again"))
	for i := range 20 {
		in := good
		if i%2 == 1 {
			in = good[:len(good)-3]
		}
		got, err := inflate(in, MaxInflated)
		if (i%2 == 0) != (err == nil) {
			t.Fatalf("round %d: err %v", i, err)
		}
		if err == nil && string(got) != "again and again" {
			t.Fatalf("round %d: got %q", i, got)
		}
	}
}
