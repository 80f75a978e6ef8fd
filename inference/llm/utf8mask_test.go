package llm

import (
	"math"
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		piece string
		ok    bool
		want  tokenUTF8
	}{
		{"abc", true, tokenUTF8{}},
		{"é", true, tokenUTF8{}},
		{"\xc3", true, tokenUTF8{end: 1}},
		{"\xe2\x82", true, tokenUTF8{end: 1}},
		{"\xe2", true, tokenUTF8{end: 2}},
		{"\xe0", true, tokenUTF8{end: stE0}},
		{"\xe0\x9f", false, tokenUTF8{}}, // overlong
		{"\xf0", true, tokenUTF8{end: stF0}},
		{"\xa9", true, tokenUTF8{cont: 1, allCont: true, first: 0xa9}},
		{"\xa9x", true, tokenUTF8{cont: 1, first: 0xa9}},
		{"\x82\xac!", true, tokenUTF8{cont: 2, first: 0x82}},
		{"\xc3A", false, tokenUTF8{}}, // lead byte cut short by ASCII
		{"\xff", false, tokenUTF8{}},
		{"\xc0\x80", false, tokenUTF8{}}, // overlong
		{"\x80\x80\x80\x80", false, tokenUTF8{}},
		{"", true, tokenUTF8{empty: true}},
	}
	for _, tc := range tests {
		got, ok := classify(tc.piece)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("classify(%q) = %+v, %v; want %+v, %v", tc.piece, got, ok, tc.want, tc.ok)
		}
	}
}

// TestMaskKeepsOutputValid samples random tokens from a vocabulary full of
// byte tokens and partial characters, obeying the mask: the concatenated
// output must always be valid UTF-8 once no character is owed.
func TestMaskKeepsOutputValid(t *testing.T) {
	var pieces []string
	for b := 0; b < 256; b++ {
		pieces = append(pieces, string([]byte{byte(b)}))
	}
	pieces = append(pieces, "hello", "é", "\xe2\x82", "\xac", "\x82\xac", "\"", "\xc3A", "")
	eos := len(pieces) - 1
	m := newUTF8Mask(pieces, func(id int) bool { return id == eos })
	rng := rand.New(rand.NewPCG(1, 1))
	logits := make([]float32, len(pieces))
	for trial := range 200 {
		var out []byte
		state := 0
		for range 50 {
			for i := range logits {
				logits[i] = 0
			}
			m.apply(logits, state)
			var allowed []int
			for i, l := range logits {
				if !math.IsInf(float64(l), -1) && i != eos {
					allowed = append(allowed, i)
				}
			}
			if len(allowed) == 0 {
				t.Fatalf("trial %d: no token allowed in state %d", trial, state)
			}
			id := allowed[rng.IntN(len(allowed))]
			out = append(out, pieces[id]...)
			state = m.next(state, id)
			if state == 0 && !utf8.Valid(out) {
				t.Fatalf("trial %d: invalid output %q", trial, out)
			}
		}
	}
}

// TestMaskPrunesDeadStates: a vocabulary with a lead byte but no
// continuation bytes must not let the lead byte be sampled.
func TestMaskPrunesDeadStates(t *testing.T) {
	pieces := []string{"a", "b", "\xe2", "</s>"}
	m := newUTF8Mask(pieces, func(id int) bool { return id == 3 })
	logits := make([]float32, len(pieces))
	m.apply(logits, 0)
	if !math.IsInf(float64(logits[2]), -1) {
		t.Error("lead byte without continuations was allowed")
	}
	if math.IsInf(float64(logits[0]), -1) || math.IsInf(float64(logits[3]), -1) {
		t.Error("ordinary token or end of generation was banned")
	}
}
