package crdt

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
)

// DocID identifies a document the way automerge-repo does: 16 random bytes,
// written as bs58check (base58 of the bytes followed by the first four bytes
// of their double SHA-256). A document URL is "automerge:" + the id.
type DocID [16]byte

// URLPrefix starts every automerge-repo document URL.
const URLPrefix = "automerge:"

// ErrBadID is returned for strings that are not a valid document id.
var ErrBadID = errors.New("invalid document id")

// NewDocID returns a fresh random id (UUID v4 layout, as automerge-repo makes them).
func NewDocID() DocID {
	var id DocID
	if _, err := rand.Read(id[:]); err != nil {
		panic("crdt: no randomness: " + err.Error())
	}
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}

// ParseDocID accepts a bs58check id or an "automerge:" URL.
func ParseDocID(s string) (DocID, error) {
	var id DocID
	s = strings.TrimPrefix(s, URLPrefix)
	raw, err := base58Decode(s)
	if err != nil || len(raw) != len(id)+4 {
		return id, fmt.Errorf("%w: %q", ErrBadID, s)
	}
	sum := checksum(raw[:len(id)])
	if !bytes.Equal(sum[:], raw[len(id):]) {
		return id, fmt.Errorf("%w: %q: bad checksum", ErrBadID, s)
	}
	copy(id[:], raw)
	return id, nil
}

func (id DocID) String() string {
	sum := checksum(id[:])
	return base58Encode(append(id[:len(id):len(id)], sum[:]...))
}

// URL is the automerge-repo URL of the document.
func (id DocID) URL() string { return URLPrefix + id.String() }

// IsZero reports whether id is the zero value (never a real document).
func (id DocID) IsZero() bool { return id == DocID{} }

func (id DocID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

func (id *DocID) UnmarshalText(b []byte) error {
	v, err := ParseDocID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

func checksum(b []byte) [4]byte {
	h1 := sha256.Sum256(b)
	h2 := sha256.Sum256(h1[:])
	return [4]byte(h2[:4])
}

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

func base58Encode(b []byte) string {
	zeros := 0
	for zeros < len(b) && b[zeros] == 0 {
		zeros++
	}
	// log(256)/log(58) < 1.37
	digits := make([]byte, 0, len(b)*137/100+1)
	for _, c := range b[zeros:] {
		carry := int(c)
		for i := range digits {
			carry += int(digits[i]) << 8
			digits[i] = byte(carry % 58)
			carry /= 58
		}
		for carry > 0 {
			digits = append(digits, byte(carry%58))
			carry /= 58
		}
	}
	out := make([]byte, zeros+len(digits))
	for i := 0; i < zeros; i++ {
		out[i] = base58Alphabet[0]
	}
	for i, d := range digits {
		out[len(out)-1-i] = base58Alphabet[d]
	}
	return string(out)
}

func base58Decode(s string) ([]byte, error) {
	if s == "" || len(s) > 64 {
		return nil, errors.New("bad length")
	}
	zeros := 0
	for zeros < len(s) && s[zeros] == base58Alphabet[0] {
		zeros++
	}
	var bytesLE []byte
	for i := zeros; i < len(s); i++ {
		v := strings.IndexByte(base58Alphabet, s[i])
		if v < 0 {
			return nil, fmt.Errorf("bad character %q", s[i])
		}
		carry := v
		for j := range bytesLE {
			carry += int(bytesLE[j]) * 58
			bytesLE[j] = byte(carry)
			carry >>= 8
		}
		for carry > 0 {
			bytesLE = append(bytesLE, byte(carry))
			carry >>= 8
		}
	}
	out := make([]byte, zeros+len(bytesLE))
	for i, c := range bytesLE {
		out[len(out)-1-i] = c
	}
	return out, nil
}
