package card

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"sync"
)

// MaxInflated bounds the decompressed size of a code. A real card is a few
// hundred bytes; the bound stops a small QR code from expanding into
// megabytes (a zlib bomb) before any signature is checked.
const MaxInflated = 64 << 10

var errTooLarge = fmt.Errorf("decompressed data exceeds %d bytes", MaxInflated)

// zlibWriters reuses compressors, which allocate most of a megabyte each.
var zlibWriters = sync.Pool{New: func() any {
	w, err := zlib.NewWriterLevel(io.Discard, zlib.BestCompression)
	if err != nil {
		panic(err) // the level is a valid constant
	}
	return w
}}

func deflate(b []byte) []byte {
	var buf bytes.Buffer
	w := zlibWriters.Get().(*zlib.Writer)
	defer zlibWriters.Put(w)
	w.Reset(&buf)
	w.Write(b) // writes to a bytes.Buffer do not fail
	w.Close()
	return buf.Bytes()
}

// zlibReaders reuses decompressors: each holds tens of kilobytes of tables,
// which would otherwise dominate the cost of verifying a card.
var zlibReaders sync.Pool

// inflate decompresses one zlib stream of at most limit bytes, checking its
// checksum and refusing trailing bytes after it.
func inflate(b []byte, limit int) ([]byte, error) {
	src := bytes.NewReader(b)
	var zr io.ReadCloser
	if r, ok := zlibReaders.Get().(io.ReadCloser); ok {
		if err := r.(zlib.Resetter).Reset(src, nil); err != nil {
			return nil, err
		}
		zr = r
	} else {
		r, err := zlib.NewReader(src)
		if err != nil {
			return nil, err
		}
		zr = r
	}
	defer zlibReaders.Put(zr)
	out, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(out) > limit {
		return nil, errTooLarge
	}
	if err := zr.Close(); err != nil {
		return nil, err
	}
	if src.Len() != 0 {
		return nil, errors.New("trailing bytes after the zlib stream")
	}
	return out, nil
}
