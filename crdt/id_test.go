package crdt

import (
	"errors"
	"testing"
)

func TestDocIDRoundTrip(t *testing.T) {
	for i := 0; i < 200; i++ {
		id := NewDocID()
		for _, s := range []string{id.String(), id.URL()} {
			got, err := ParseDocID(s)
			if err != nil || got != id {
				t.Fatalf("ParseDocID(%q) = %v, %v; want %v", s, got, err, id)
			}
		}
	}
}

func TestDocIDKnownEncoding(t *testing.T) {
	// Leading zero bytes become leading '1's in base58.
	var id DocID
	id[15] = 1
	s := id.String()
	if s[:15] != "111111111111111" || s[15] == '1' {
		t.Fatalf("String() = %q, want exactly 15 leading 1s (one per zero byte)", s)
	}
	got, err := ParseDocID(s)
	if err != nil || got != id {
		t.Fatalf("round trip of %q: %v %v", s, got, err)
	}
}

func TestParseDocIDRejects(t *testing.T) {
	good := NewDocID().String()
	flipped := []byte(good)
	if flipped[3] == 'a' {
		flipped[3] = 'b'
	} else {
		flipped[3] = 'a'
	}
	for _, s := range []string{"", "automerge:", "0OIl", good + "1", good[:len(good)-1], string(flipped), "automerge:" + string(flipped)} {
		if _, err := ParseDocID(s); !errors.Is(err, ErrBadID) {
			t.Errorf("ParseDocID(%q) err = %v, want ErrBadID", s, err)
		}
	}
}
