package crdt

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"
)

// Blobs are content-addressed byte streams (audio recordings). They are
// stored in chunks under a random storage id while the hash is not yet
// known, then published by a synced 'b' record naming that id: a crash
// before the record leaves only unreferenced chunks, never a blob whose
// bytes do not match its address.

const blobChunk = 1 << 20

func blobKey(sum []byte) []byte { return append([]byte{prefixBlob}, sum...) }

func blobChunkKey(storage DocID, i uint32) []byte {
	k := append([]byte{prefixBlobChunk}, storage[:]...)
	return binary.BigEndian.AppendUint32(k, i)
}

// PutBlob stores r's bytes and returns their SHA-256 (hex) and length.
// Storing the same bytes twice keeps one copy.
func (s *Store) PutBlob(ctx context.Context, r io.Reader) (string, int64, error) {
	storage := NewDocID()
	h := sha256.New()
	buf := make([]byte, blobChunk)
	var size int64
	var chunks uint32
	for {
		if err := ctx.Err(); err != nil {
			s.dropChunks(storage, chunks)
			return "", 0, err
		}
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			h.Write(buf[:n])
			if err := s.db.Set(blobChunkKey(storage, chunks), buf[:n], pebble.NoSync); err != nil {
				s.dropChunks(storage, chunks)
				return "", 0, err
			}
			chunks++
			size += int64(n)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			s.dropChunks(storage, chunks+1)
			return "", 0, fmt.Errorf("crdt: read blob: %w", rerr)
		}
	}
	sum := h.Sum(nil)
	hexSum := hex.EncodeToString(sum)
	if _, _, err := s.blobRecord(sum); err == nil {
		s.dropChunks(storage, chunks)
		return hexSum, size, nil
	}
	rec := append(storage[:], binary.AppendUvarint(nil, uint64(size))...)
	// Synced: it also makes the chunks written before it durable.
	if err := s.db.Set(blobKey(sum), rec, pebble.Sync); err != nil {
		s.dropChunks(storage, chunks)
		return "", 0, err
	}
	return hexSum, size, nil
}

func (s *Store) dropChunks(storage DocID, n uint32) {
	_ = s.db.DeleteRange(blobChunkKey(storage, 0), blobChunkKey(storage, n), pebble.NoSync)
}

func (s *Store) blobRecord(sum []byte) (DocID, int64, error) {
	var storage DocID
	v, closer, err := s.db.Get(blobKey(sum))
	if errors.Is(err, pebble.ErrNotFound) {
		return storage, 0, fmt.Errorf("blob %x: %w", sum, ErrNotFound)
	}
	if err != nil {
		return storage, 0, err
	}
	defer closer.Close()
	if len(v) < 17 {
		return storage, 0, fmt.Errorf("blob %x: %w", sum, ErrCorrupt)
	}
	copy(storage[:], v)
	size, n := binary.Uvarint(v[16:])
	if n <= 0 {
		return storage, 0, fmt.Errorf("blob %x: %w", sum, ErrCorrupt)
	}
	return storage, int64(size), nil
}

// OpenBlob returns a reader over the blob with the given SHA-256 (hex).
func (s *Store) OpenBlob(ctx context.Context, sha256hex string) (io.ReadCloser, int64, error) {
	sum, err := hex.DecodeString(sha256hex)
	if err != nil || len(sum) != sha256.Size {
		return nil, 0, fmt.Errorf("%w: blob address %q", ErrInvalid, sha256hex)
	}
	storage, size, err := s.blobRecord(sum)
	if err != nil {
		return nil, 0, err
	}
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: blobChunkKey(storage, 0),
		UpperBound: prefixEnd(append([]byte{prefixBlobChunk}, storage[:]...)),
	})
	if err != nil {
		return nil, 0, err
	}
	it.First()
	return &blobReader{it: it}, size, nil
}

type blobReader struct {
	it  *pebble.Iterator
	buf []byte
}

func (r *blobReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if !r.it.Valid() {
			if err := r.it.Error(); err != nil {
				return 0, err
			}
			return 0, io.EOF
		}
		r.buf = append(r.buf[:0], r.it.Value()...)
		r.it.Next()
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (r *blobReader) Close() error { return r.it.Close() }
