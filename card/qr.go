package card

import (
	"bytes"
	"fmt"
	"image/png"

	"github.com/canasta/canasta"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	goqrcode "github.com/skip2/go-qrcode"
)

// MaxQRPixels bounds each side of a QR image, drawn or read, so a crafted
// PNG cannot make the decoder allocate gigabytes.
const MaxQRPixels = 4096

// QRPNG draws code as a QR code PNG of size×size pixels, quiet zone
// included. A code made of Base45 characters is encoded in alphanumeric
// mode; the error correction level is Q (go-qrcode calls it High), which
// survives a quarter of the symbol being smudged or torn.
func QRPNG(code string, size int) ([]byte, error) {
	if size <= 0 || size > MaxQRPixels {
		return nil, canasta.Errorf(canasta.EINVALID, "QR size must be 1 to %d pixels.", MaxQRPixels)
	}
	q, err := goqrcode.New(code, goqrcode.High)
	if err != nil {
		return nil, canasta.Errorf(canasta.EINVALID, "The code does not fit in a QR code.")
	}
	b, err := q.PNG(size)
	if err != nil {
		return nil, fmt.Errorf("draw QR code: %w", err)
	}
	return b, nil
}

// DecodeQR reads the text of the QR code in a PNG image.
func DecodeQR(b []byte) (string, error) {
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return "", canasta.Errorf(canasta.EINVALID, "The image is not a PNG.")
	}
	if cfg.Width > MaxQRPixels || cfg.Height > MaxQRPixels {
		return "", canasta.Errorf(canasta.EINVALID, "The image is larger than %d×%d pixels.", MaxQRPixels, MaxQRPixels)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return "", canasta.Errorf(canasta.EINVALID, "The image is not a readable PNG.")
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", fmt.Errorf("read QR image: %w", err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		return "", canasta.Errorf(canasta.EINVALID, "No QR code could be read in the image.")
	}
	return res.GetText(), nil
}
