package wire

import (
	"crypto/sha256"
	"math/big"
)

// automerge-repo document ids are 16 random bytes in bs58check: Bitcoin's
// base58 alphabet over the bytes followed by the first four bytes of their
// double SHA-256. Messages carry them without the "automerge:" URL prefix.

const b58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// maxDocIDLen is the longest bs58check encoding of 20 bytes (16 + checksum);
// longer strings are refused before any arithmetic.
const maxDocIDLen = 28

// ValidDocumentID reports whether s is a bs58check document id of 16 bytes.
func ValidDocumentID(s string) bool {
	_, err := DecodeDocumentID(s)
	return err == nil
}

// DecodeDocumentID returns the 16 bytes of a bs58check document id.
func DecodeDocumentID(s string) ([16]byte, error) {
	var id [16]byte
	if s == "" || len(s) > maxDocIDLen {
		return id, invalid("document id of length %d", len(s))
	}
	n := new(big.Int)
	radix := big.NewInt(58)
	zeros := 0
	for i := 0; i < len(s) && s[i] == '1'; i++ {
		zeros++
	}
	for i := 0; i < len(s); i++ {
		d := indexB58(s[i])
		if d < 0 {
			return id, invalid("document id has non-base58 character %q", s[i])
		}
		n.Mul(n, radix)
		n.Add(n, big.NewInt(int64(d)))
	}
	raw := append(make([]byte, zeros), n.Bytes()...)
	if len(raw) != 20 {
		return id, invalid("document id decodes to %d bytes, want 20", len(raw))
	}
	sum := doubleSHA(raw[:16])
	if string(sum[:4]) != string(raw[16:]) {
		return id, invalid("document id checksum mismatch")
	}
	copy(id[:], raw[:16])
	return id, nil
}

// EncodeDocumentID returns the bs58check string of a 16-byte id.
func EncodeDocumentID(id [16]byte) string {
	sum := doubleSHA(id[:])
	raw := append(id[:], sum[:4]...)
	zeros := 0
	for zeros < len(raw) && raw[zeros] == 0 {
		zeros++
	}
	n := new(big.Int).SetBytes(raw)
	radix := big.NewInt(58)
	mod := new(big.Int)
	var out []byte
	for n.Sign() > 0 {
		n.DivMod(n, radix, mod)
		out = append(out, b58Alphabet[mod.Int64()])
	}
	for i := 0; i < zeros; i++ {
		out = append(out, '1')
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}

func indexB58(c byte) int {
	for i := 0; i < len(b58Alphabet); i++ {
		if b58Alphabet[i] == c {
			return i
		}
	}
	return -1
}

func doubleSHA(b []byte) [32]byte {
	h := sha256.Sum256(b)
	return sha256.Sum256(h[:])
}
