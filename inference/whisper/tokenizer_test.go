package whisper

import (
	"encoding/hex"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSpecials(t *testing.T) {
	for _, c := range []struct {
		nVocab                                              int
		eot, sot, translate, noSpeech, noTS, tsBegin, langs int
	}{
		{51864, 50256, 50257, 50357, 50361, 50362, 50363, 99},
		{51865, 50257, 50258, 50358, 50362, 50363, 50364, 99},
		{51866, 50257, 50258, 50359, 50363, 50364, 50365, 100},
	} {
		s := newSpecials(c.nVocab)
		got := []int{s.eot, s.sot, s.translate, s.noSpeech, s.noTimestamps, s.timestampBegin, s.numLanguages}
		want := []int{c.eot, c.sot, c.translate, c.noSpeech, c.noTS, c.tsBegin, c.langs}
		if !slices.Equal(got, want) {
			t.Errorf("n_vocab %d: %v, want %v", c.nVocab, got, want)
		}
		if s.timestampBegin+1500 != c.nVocab-1 {
			t.Errorf("n_vocab %d: last timestamp %d", c.nVocab, s.timestampBegin+1500)
		}
	}
}

func TestOracleTokens(t *testing.T) {
	dir := oracleDir(t)
	man := loadManifest(t, dir)
	f, err := OpenFile(filepath.Join(dir, "model-tiny-random.bin"))
	if err != nil {
		t.Fatal(err)
	}
	tok := newTokenizer(f.Tokens, f.Hparams.NVocab)
	sp := man.SpecialTokens
	if tok.sp.eot != sp.EOT || tok.sp.sot != sp.SOT || tok.sp.translate != sp.Translate ||
		tok.sp.transcribe != sp.Transcribe || tok.sp.noSpeech != sp.NoSpeech ||
		tok.sp.noTimestamps != sp.NoTimestamps || tok.sp.timestampBegin != sp.TimestampBegin {
		t.Errorf("specials %+v, manifest %+v", tok.sp, sp)
	}
	for i, id := range man.Greedy.Tokens {
		if got := hex.EncodeToString(tok.Bytes(id)); got != man.Greedy.TokenBytesHex[i] {
			t.Errorf("token %d bytes %s, want %s", id, got, man.Greedy.TokenBytesHex[i])
		}
	}
	if seq, _ := tok.sotSequence(false, "en", false); !slices.Equal(append(seq, tok.sp.noTimestamps), man.PromptTokens) {
		t.Errorf("prompt %v, want %v", seq, man.PromptTokens)
	}
	if got := tok.TokenString(sp.TimestampEnd); got != "<|30.00|>" {
		t.Errorf("last timestamp is %q", got)
	}
}

func TestPretokenize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"Hello world", []string{"Hello", " world"}},
		{"it's  a test!!", []string{"it", "'s", " ", " a", " test", "!!"}},
		{"x   \n y", []string{"x", "   \n", " y"}},
		{" 123abc", []string{" 123", "abc"}},
		{"end  ", []string{"end", "  "}},
		{"Grüße, 世界", []string{"Grüße", ",", " 世界"}},
		{"'ll 'x", []string{"'ll", " '", "x"}},
	} {
		if got := pretokenize(c.in); !slices.Equal(got, c.want) {
			t.Errorf("pretokenize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestEncode(t *testing.T) {
	// A small BPE vocabulary: bytes, then merges in rank order.
	var toks [][]byte
	for b := range 256 {
		toks = append(toks, []byte{byte(b)})
	}
	for _, m := range []string{"he", "ll", "hell", "hello", " w", " wo", "or", " world"} {
		toks = append(toks, []byte(m))
	}
	tok := newTokenizer(toks, 51864)
	ids, err := tok.Encode("hello world")
	if err != nil {
		t.Fatal(err)
	}
	want := []int{259, 263}
	if !slices.Equal(ids, want) {
		t.Errorf("Encode = %v, want %v", ids, want)
	}
	// Merges apply lowest rank first: "hellx" → "hell" + "x".
	if ids, _ := tok.Encode("hellx"); !slices.Equal(ids, []int{258, 'x'}) {
		t.Errorf("Encode(hellx) = %v", ids)
	}
	for _, s := range []string{"héllo wörld", "a\nb\tc  d", "日本語のテキスト", "♪ music ♪"} {
		ids, err := tok.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := tok.Decode(ids); got != s {
			t.Errorf("Decode(Encode(%q)) = %q", s, got)
		}
	}
	if got := tok.Decode([]int{'a', 0xff, 'b', tok.sp.eot, tok.sp.timestampBegin}); got != "a\ufffdb" {
		t.Errorf("Decode with invalid UTF-8 and specials = %q", got)
	}
}

func TestNonSpeechTokens(t *testing.T) {
	var toks [][]byte
	for b := range 256 {
		toks = append(toks, []byte{byte(b)})
	}
	toks = append(toks, []byte(" ("), []byte("[["), []byte(" -"))
	tok := newTokenizer(toks, 51864)
	got := tok.nonSpeechTokens()
	for _, want := range []int{'"', '#', '(', '[', '~', 256, 257, 258} {
		if !slices.Contains(got, want) {
			t.Errorf("non-speech tokens lack %d (%q)", want, tok.Bytes(want))
		}
	}
	for _, keep := range []int{'.', ',', '?', '!', '-', '\'', 'a'} {
		if slices.Contains(got, keep) {
			t.Errorf("non-speech tokens include %q", string(rune(keep)))
		}
	}
	// ♪ is three bytes here, so its first byte is suppressed.
	if !slices.Contains(got, int([]byte("♪")[0])) {
		t.Error("music note's first byte not suppressed")
	}
	if strings.Contains(tok.TokenString(tok.sp.sot+1), "en") != true {
		t.Error("first language token is not English")
	}
}
