package card

import (
	"bytes"
	"image"
	"image/png"
	"strings"
	"testing"

	"github.com/canasta/canasta"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

func TestQRRoundTrip(t *testing.T) {
	k := goldenKey(t)
	tests := []struct {
		name string
		code string
		size int
	}{
		{"Card", mustIssue(t, k, testClaims()), 512},
		{"CardSmall", mustIssue(t, k, testClaims()), 300},
		{"LongestAlphanumeric", Prefix + strings.Repeat("A1 $%*+-./:", 100), 1500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := QRPNG(tt.code, tt.size)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeQR(b)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.code {
				t.Errorf("decoded %q, want %q", got, tt.code)
			}
		})
	}
}

// TestQRModeAndLevel reads the symbol back and checks what QRPNG promises:
// error correction level Q and one alphanumeric segment.
func TestQRModeAndLevel(t *testing.T) {
	code := mustIssue(t, goldenKey(t), testClaims())
	b, err := QRPNG(code, 512)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	bmp, _ := gozxing.NewBinaryBitmapFromImage(img)
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lvl := res.GetResultMetadata()[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL]; lvl != "Q" {
		t.Errorf("error correction level %v, want Q", lvl)
	}
	// The first four data bits are the mode indicator; 0010 is alphanumeric.
	if raw := res.GetRawBytes(); len(raw) == 0 || raw[0]>>4 != 0b0010 {
		t.Errorf("first segment mode %04b, want alphanumeric (0010)", raw[0]>>4)
	}
}

func TestQRRefuses(t *testing.T) {
	big := new(bytes.Buffer)
	png.Encode(big, image.NewGray(image.Rect(0, 0, MaxQRPixels+1, 1)))
	blank := new(bytes.Buffer)
	png.Encode(blank, image.NewGray(image.Rect(0, 0, 100, 100)))
	t.Run("NotPNG", func(t *testing.T) {
		if _, err := DecodeQR([]byte("GIF89a")); canasta.ErrorCode(err) != canasta.EINVALID {
			t.Fatalf("%v, want EINVALID", err)
		}
	})
	t.Run("TooLarge", func(t *testing.T) {
		if _, err := DecodeQR(big.Bytes()); canasta.ErrorCode(err) != canasta.EINVALID {
			t.Fatalf("%v, want EINVALID", err)
		}
	})
	t.Run("NoCode", func(t *testing.T) {
		if _, err := DecodeQR(blank.Bytes()); canasta.ErrorCode(err) != canasta.EINVALID {
			t.Fatalf("%v, want EINVALID", err)
		}
	})
	t.Run("TextTooLong", func(t *testing.T) {
		if _, err := QRPNG(strings.Repeat("A", MaxCodeLen), 512); canasta.ErrorCode(err) != canasta.EINVALID {
			t.Fatalf("%v, want EINVALID (level Q holds less than level L)", err)
		}
	})
	t.Run("BadSize", func(t *testing.T) {
		if _, err := QRPNG("CN1:", 0); canasta.ErrorCode(err) != canasta.EINVALID {
			t.Fatalf("%v, want EINVALID", err)
		}
	})
}
