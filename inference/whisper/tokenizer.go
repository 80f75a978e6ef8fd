package whisper

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// specials holds the special token ids, which whisper.cpp derives from
// n_vocab: 51864 is English-only (GPT-2 vocabulary), 51865 multilingual
// with 99 languages, 51866 multilingual with 100 (large-v3).
type specials struct {
	eot, sot, translate, transcribe, sotLM, sotPrev int
	noSpeech, noTimestamps, timestampBegin          int
	numLanguages, nVocab                            int
}

func newSpecials(nVocab int) specials {
	multi := 0
	if nVocab >= 51865 {
		multi = 1
	}
	s := specials{nVocab: nVocab, numLanguages: nVocab - 51765 - multi}
	s.eot = 50256 + multi
	s.sot = s.eot + 1
	s.translate = s.sot + 1 + s.numLanguages
	s.transcribe = s.translate + 1
	s.sotLM = s.translate + 2
	s.sotPrev = s.translate + 3
	s.noSpeech = s.translate + 4
	s.noTimestamps = s.translate + 5
	s.timestampBegin = s.translate + 6
	return s
}

// Tokenizer turns token ids into text and text into ids. Whisper uses
// byte-level BPE (GPT-2's vocabulary for English-only models, tiktoken's
// "multilingual" for the others); the model file stores each token's bytes
// in rank order, which is all tiktoken's merge rule needs.
type Tokenizer struct {
	tokens [][]byte
	sp     specials

	ranksOnce sync.Once
	ranks     map[string]int
}

func newTokenizer(tokens [][]byte, nVocab int) *Tokenizer {
	return &Tokenizer{tokens: tokens, sp: newSpecials(nVocab)}
}

// EOT returns the <|endoftext|> id; ids below it are text.
func (t *Tokenizer) EOT() int { return t.sp.eot }

// TimestampBegin returns the id of <|0.00|>.
func (t *Tokenizer) TimestampBegin() int { return t.sp.timestampBegin }

// NVocab returns the number of ids the model scores.
func (t *Tokenizer) NVocab() int { return t.sp.nVocab }

// Bytes returns the raw bytes of an ordinary token (nil for special ids).
func (t *Tokenizer) Bytes(id int) []byte {
	if id < 0 || id >= len(t.tokens) {
		return nil
	}
	return t.tokens[id]
}

// Decode concatenates the bytes of the ordinary tokens in ids (special and
// timestamp tokens are skipped) and returns them as text, replacing invalid
// UTF-8 the way tiktoken's decode does.
func (t *Tokenizer) Decode(ids []int) string {
	var b []byte
	for _, id := range ids {
		if id >= 0 && id < t.sp.eot && id < len(t.tokens) {
			b = append(b, t.tokens[id]...)
		}
	}
	return validUTF8(b)
}

func validUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			sb.WriteRune(utf8.RuneError)
		} else {
			sb.Write(b[:n])
		}
		b = b[n:]
	}
	return sb.String()
}

// TokenString names any id: the text of ordinary tokens, <|...|> for
// special ones and <|1.23|> for timestamps.
func (t *Tokenizer) TokenString(id int) string {
	sp := t.sp
	switch {
	case id < sp.eot:
		return validUTF8(t.Bytes(id))
	case id == sp.eot:
		return "<|endoftext|>"
	case id == sp.sot:
		return "<|startoftranscript|>"
	case id > sp.sot && id < sp.translate:
		if i := id - sp.sot - 1; i < len(languages) {
			return "<|" + languages[i].code + "|>"
		}
	case id == sp.translate:
		return "<|translate|>"
	case id == sp.transcribe:
		return "<|transcribe|>"
	case id == sp.sotLM:
		return "<|startoflm|>"
	case id == sp.sotPrev:
		return "<|startofprev|>"
	case id == sp.noSpeech:
		return "<|nospeech|>"
	case id == sp.noTimestamps:
		return "<|notimestamps|>"
	case id >= sp.timestampBegin && id < sp.nVocab:
		return "<|" + strconv.FormatFloat(float64(id-sp.timestampBegin)*0.02, 'f', 2, 64) + "|>"
	}
	return "<|" + strconv.Itoa(id) + "|>"
}

// languageToken returns the id of a language code's token.
func (t *Tokenizer) languageToken(code string) (int, error) {
	i := languageIndex(code)
	if i < 0 || i >= t.sp.numLanguages {
		return 0, fmt.Errorf("language %q is not supported by this model", code)
	}
	return t.sp.sot + 1 + i, nil
}

// sotSequence is <|startoftranscript|> followed, for multilingual models, by
// the language and task tokens.
func (t *Tokenizer) sotSequence(multilingual bool, language string, translate bool) ([]int, error) {
	seq := []int{t.sp.sot}
	if !multilingual {
		return seq, nil
	}
	lang, err := t.languageToken(language)
	if err != nil {
		return nil, err
	}
	task := t.sp.transcribe
	if translate {
		task = t.sp.translate
	}
	return append(seq, lang, task), nil
}

// Encode tokenizes text with tiktoken's rules: the GPT-2 pre-tokenizer
// splits it into pieces, and each piece is merged by byte-pair rank (the
// token id). It fails only if the vocabulary lacks a single byte.
func (t *Tokenizer) Encode(text string) ([]int, error) {
	t.ranksOnce.Do(func() {
		t.ranks = make(map[string]int, len(t.tokens))
		for i, b := range t.tokens {
			if _, dup := t.ranks[string(b)]; !dup {
				t.ranks[string(b)] = i
			}
		}
	})
	var ids []int
	for _, piece := range pretokenize(text) {
		if id, ok := t.ranks[piece]; ok {
			ids = append(ids, id)
			continue
		}
		parts, err := t.bytePairMerge(piece)
		if err != nil {
			return nil, err
		}
		ids = append(ids, parts...)
	}
	return ids, nil
}

// bytePairMerge repeatedly joins the adjacent pair whose concatenation has
// the lowest rank, as tiktoken does.
func (t *Tokenizer) bytePairMerge(piece string) ([]int, error) {
	bounds := make([]int, len(piece)+1)
	for i := range bounds {
		bounds[i] = i
	}
	for len(bounds) > 2 {
		best, bestAt := -1, -1
		for i := 0; i+2 < len(bounds); i++ {
			if r, ok := t.ranks[piece[bounds[i]:bounds[i+2]]]; ok && (best < 0 || r < best) {
				best, bestAt = r, i
			}
		}
		if bestAt < 0 {
			break
		}
		bounds = slices.Delete(bounds, bestAt+1, bestAt+2)
	}
	ids := make([]int, 0, len(bounds)-1)
	for i := 0; i+1 < len(bounds); i++ {
		r, ok := t.ranks[piece[bounds[i]:bounds[i+1]]]
		if !ok {
			return nil, fmt.Errorf("vocabulary has no token for %q", piece[bounds[i]:bounds[i+1]])
		}
		ids = append(ids, r)
	}
	return ids, nil
}

// pretokenize splits text like the GPT-2 pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// written out by hand because Go's regexp has no lookahead.
func pretokenize(s string) []string {
	var out []string
	class := func(i int) (rune, int) { return utf8.DecodeRuneInString(s[i:]) }
	run := func(i int, pred func(rune) bool) int {
		for i < len(s) {
			r, n := class(i)
			if !pred(r) {
				break
			}
			i += n
		}
		return i
	}
	isL, isN, isS := unicode.IsLetter, unicode.IsNumber, unicode.IsSpace
	other := func(r rune) bool { return !isS(r) && !isL(r) && !isN(r) }
	for i := 0; i < len(s); {
		if s[i] == '\'' {
			matched := false
			for _, c := range []string{"s", "t", "re", "ve", "m", "ll", "d"} {
				if strings.HasPrefix(s[i+1:], c) {
					out = append(out, s[i:i+1+len(c)])
					i += 1 + len(c)
					matched = true
					break
				}
			}
			if matched {
				continue
			}
		}
		j := i
		if s[j] == ' ' {
			j++
		}
		if j < len(s) {
			r, _ := class(j)
			var pred func(rune) bool
			switch {
			case isL(r):
				pred = isL
			case isN(r):
				pred = isN
			case other(r):
				pred = other
			}
			if pred != nil {
				end := run(j, pred)
				out = append(out, s[i:end])
				i = end
				continue
			}
		}
		// Whitespace: a run followed by text leaves its last character to
		// start the next piece (\s+(?!\S)), unless it is a single one.
		end := run(i, isS)
		if end < len(s) {
			last := end
			_, n := utf8.DecodeLastRuneInString(s[i:end])
			if end-n > i {
				last = end - n
			}
			end = last
		}
		if end == i { // not whitespace either: an invalid byte
			_, n := class(i)
			end = i + n
		}
		out = append(out, s[i:end])
		i = end
	}
	return out
}

// nonSpeechTokens are the ids openai/whisper suppresses by default
// (suppress_tokens "-1"): speaker tags, music notes and bracketed
// annotations, keeping ordinary punctuation.
func (t *Tokenizer) nonSpeechTokens() []int {
	symbols := strings.Split(`" # ( ) * + / : ; < = > @ [ \ ] ^ _ `+"`"+` { | } ~ 「 」 『 』`, " ")
	symbols = append(symbols, strings.Fields(`<< >> <<< >>> -- --- -( -[ (' ("  (( )) ((( ))) [[ ]] {{ }} ♪♪ ♪♪♪`)...)
	misc := []string{"♩", "♪", "♫", "♬", "♭", "♮", "♯"}
	set := map[int]bool{}
	first := func(s string) {
		if ids, err := t.Encode(s); err == nil && len(ids) > 0 {
			set[ids[0]] = true
		}
	}
	first(" -")
	first(" '")
	for _, sym := range symbols {
		for _, s := range []string{sym, " " + sym} {
			if ids, err := t.Encode(s); err == nil && len(ids) == 1 {
				set[ids[0]] = true
			}
		}
	}
	for _, sym := range misc {
		first(sym)
		first(" " + sym)
	}
	out := make([]int, 0, len(set))
	for id := range set {
		if id < t.sp.eot {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}
