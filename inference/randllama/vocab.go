package randllama

import "fmt"

// Token ids fixed by the vocabulary layout.
const (
	tokUnk      = 0
	tokBOS      = 1
	tokEOS      = 2
	tokImStart  = 3
	tokImEnd    = 4
	firstByte   = 5
	firstPiece  = firstByte + 256
	spaceMarker = "\u2581" // SentencePiece's "▁" for a leading space
)

// MinVocab is the smallest vocabulary: control tokens, byte tokens and the
// printable ASCII characters.
const MinVocab = firstPiece + 95

// ChatMLTemplate is the chat template written to tokenizer.chat_template.
// llama.cpp recognises it by its <|im_start|> marker.
const ChatMLTemplate = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"

// llama.cpp token types.
const (
	typeNormal  = 1
	typeUnknown = 2
	typeControl = 3
	typeByte    = 6
)

// words seed the vocabulary with pieces that make ordinary (and clinical)
// English tokenize into fewer tokens than bytes.
var words = []string{
	"the", "and", "of", "to", "in", "is", "for", "with", "patient", "pain", "fever",
	"history", "note", "plan", "follow", "up", "blood", "pressure", "mg", "daily",
	"assessment", "subjective", "objective", "diagnosis", "engine", "oil", "log",
	"hello", "world", "json", "true", "false", "null", "name", "age", "days",
}

type vocab struct {
	pieces []string
	scores []float32
	types  []int32
	seen   map[string]bool
}

func (v *vocab) add(piece string, typ int32) {
	if v.seen[piece] {
		return
	}
	v.seen[piece] = true
	v.pieces = append(v.pieces, piece)
	v.types = append(v.types, typ)
	// SPM merges the adjacent pair whose union scores highest; longer
	// pieces score higher so words merge fully.
	v.scores = append(v.scores, float32(len([]rune(piece)))-float32(len(v.pieces))*1e-6)
}

// newVocab builds exactly n pieces: control tokens, the 256 byte tokens,
// printable ASCII, the words above with every prefix (SPM merges pairwise,
// so each intermediate piece must exist), then filler letter pairs and
// triples up to n.
func newVocab(n int) vocab {
	v := vocab{seen: map[string]bool{}}
	v.add("<unk>", typeUnknown)
	v.add("<s>", typeControl)
	v.add("</s>", typeControl)
	v.add("<|im_start|>", typeControl)
	v.add("<|im_end|>", typeControl)
	for b := 0; b < 256; b++ {
		v.add(fmt.Sprintf("<0x%02X>", b), typeByte)
	}
	v.add(spaceMarker, typeNormal)
	for c := byte(33); c < 127; c++ {
		v.add(string(c), typeNormal)
	}
	extra := func(p string) bool {
		if len(v.pieces) >= n {
			return false
		}
		v.add(p, typeNormal)
		return true
	}
	for c := 'a'; c <= 'z'; c++ {
		if !extra(spaceMarker + string(c)) {
			return v
		}
	}
	for _, w := range words {
		r := []rune(spaceMarker + w)
		for i := 2; i <= len(r); i++ {
			if !extra(string(r[:i])) {
				return v
			}
		}
	}
	const letters = "etaoinshrdlcumwfgypbvkjxqz"
	for _, a := range letters {
		for _, b := range letters {
			if !extra(string(a)+string(b)) || !extra(spaceMarker+string(a)+string(b)) {
				return v
			}
		}
	}
	for i := 0; len(v.pieces) < n; i++ {
		a, b, c := letters[i%26], letters[i/26%26], letters[i/676%26]
		if i >= 26*26*26 {
			extra(fmt.Sprintf("%c%c%c%d", a, b, c, i/(26*26*26)))
			continue
		}
		extra(string([]byte{a, b, c}))
	}
	return v
}
