package crdt

import (
	"math/rand"
	"testing"
)

func applySplices(old []rune, edits []splice) string {
	out := append([]rune(nil), old...)
	for i := len(edits) - 1; i >= 0; i-- {
		e := edits[i]
		tail := append([]rune(nil), out[e.pos+e.del:]...)
		out = append(append(out[:e.pos], e.ins...), tail...)
	}
	return string(out)
}

func TestDiffText(t *testing.T) {
	tests := []struct {
		a, b    string
		splices int
	}{
		{"", "", 0},
		{"abc", "abc", 0},
		{"", "hello", 1},
		{"hello", "", 1},
		{"the patient has a cough", "the patient has a dry cough", 1},
		{"BP 120/80, pulse 72", "BP 130/85, pulse 72", 2},
		{"first line\nsecond line\nthird line", "First line\nsecond line\nthird line!", 2},
		{"héllo wörld 😀", "hello world 😀!", 3},
	}
	for _, tt := range tests {
		edits := diffText([]rune(tt.a), []rune(tt.b))
		if got := applySplices([]rune(tt.a), edits); got != tt.b {
			t.Errorf("diffText(%q, %q) applied = %q", tt.a, tt.b, got)
		}
		if len(edits) != tt.splices {
			t.Errorf("diffText(%q, %q) = %d splices %+v, want %d", tt.a, tt.b, len(edits), edits, tt.splices)
		}
	}
}

func TestDiffTextRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	alphabet := []rune("ab c\né")
	gen := func(n int) []rune {
		r := make([]rune, n)
		for i := range r {
			r[i] = alphabet[rng.Intn(len(alphabet))]
		}
		return r
	}
	for i := 0; i < 2000; i++ {
		a, b := gen(rng.Intn(40)), gen(rng.Intn(40))
		if got := applySplices(a, diffText(a, b)); got != string(b) {
			t.Fatalf("diffText(%q, %q) applied = %q", string(a), string(b), got)
		}
	}
	// Past the cost bound the diff degrades to one splice, still correct.
	a, b := gen(6000), gen(6000)
	if got := applySplices(a, diffText(a, b)); got != string(b) {
		t.Fatal("large diff applied wrongly")
	}
}
