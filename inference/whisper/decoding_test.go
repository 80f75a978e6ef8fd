package whisper

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"
)

func testTask(noTimestamps bool) *decodingTask {
	m := &Model{Tokenizer: newTokenizer(nil, 51864)}
	return &decodingTask{m: m, opts: decodingOptions{noTimestamps: noTimestamps}, sampleBegin: 1, maxInitTS: 50, blank: []int{220, 50256}}
}

func allowed(logits []float32) []int {
	var out []int
	for i, v := range logits {
		if !math.IsInf(float64(v), -1) {
			out = append(out, i)
		}
	}
	return out
}

func TestTimestampRules(t *testing.T) {
	task := testTask(false)
	sp := task.m.Tokenizer.sp
	tb := sp.timestampBegin
	uniform := func() []float32 { return make([]float32, 51864) }
	sot := sp.sot

	// First sampled token: a timestamp no later than 1.00 s.
	l := uniform()
	task.filter(l, []int{sot})
	if got := allowed(l); len(got) != 51 || got[0] != tb || got[50] != tb+50 {
		t.Errorf("first step allows %d ids from %d", len(got), got[0])
	}

	// After a lone timestamp that followed text: another timestamp (not
	// earlier) or the end.
	l = uniform()
	l[sp.eot] = 100 // likelier than all timestamps together
	task.filter(l, []int{sot, tb + 10, 100, tb + 20})
	got := allowed(l)
	if got[0] != sp.eot || slices.Contains(got, tb+19) || !slices.Contains(got, tb+20) {
		t.Errorf("after text+timestamp: allowed %v...", got[:3])
	}

	// After a pair of timestamps: text, and timestamps never go back.
	l = uniform()
	l[tb+30] = 100 // a very likely timestamp wins over text
	task.filter(l, []int{sot, tb + 10, 100, tb + 20, tb + 20})
	got = allowed(l)
	if slices.ContainsFunc(got, func(id int) bool { return id >= tb }) {
		t.Errorf("timestamp allowed after a pair")
	}

	// Text then likely timestamp: the timestamp mass forces a timestamp.
	l = uniform()
	l[tb+30] = 100
	task.filter(l, []int{sot, tb + 10, 100})
	got = allowed(l)
	if got[0] < tb || slices.Contains(got, tb+10) {
		t.Errorf("expected only timestamps after %d, got %v", tb+10, got[:2])
	}

	// Suppressed ids and <|notimestamps|>.
	task.suppress = []int{5, 7}
	l = uniform()
	l[6] = 100
	task.filter(l, []int{sot, 100})
	if !math.IsInf(float64(l[5]), -1) || !math.IsInf(float64(l[sp.noTimestamps]), -1) || math.IsInf(float64(l[6]), -1) {
		t.Error("suppression not applied")
	}

	// Without timestamps only blank and suppression apply.
	nt := testTask(true)
	l = uniform()
	nt.filter(l, []int{sot})
	if !math.IsInf(float64(l[220]), -1) || !math.IsInf(float64(l[sp.eot]), -1) || math.IsInf(float64(l[tb]), -1) {
		t.Error("no-timestamp first step wrong")
	}
}

func TestBeamSearch(t *testing.T) {
	const eot = 9
	row := func(best ...int) []float32 {
		l := make([]float32, 10)
		for i := range l {
			l[i] = -10
		}
		for i, b := range best {
			l[b] = float32(-i)
		}
		return l
	}
	b := newBeamSearch(2, 1, eot)
	tokens := [][]int{{0}, {0}}
	sum := make([]float64, 2)
	// Both beams start equal: the duplicate continuations count once.
	step := func(rows ...[]float32) ([][]int, []int, bool) {
		infos := make([]rowInfo, len(rows))
		for i, r := range rows {
			infos[i].lse = logSumExp(r)
			b.prepare(r, &infos[i])
		}
		return b.update(tokens, rows, infos, sum)
	}
	tokens, src, done := step(row(1, 2, 3), row(1, 2, 3))
	if done || len(tokens) != 2 || tokens[0][1] != 1 || tokens[1][1] != 2 || len(src) != 2 {
		t.Fatalf("step 1: tokens %v src %v", tokens, src)
	}
	// Beam 0's best continuation ends it; the two best unfinished
	// continuations fill the beams before beam 1's end is reached.
	tokens, _, done = step(row(eot, 4), row(5, eot))
	if done || len(b.finished) != 1 || !slices.Equal(tokens[0], []int{0, 1, 4}) || !slices.Equal(tokens[1], []int{0, 2, 5}) {
		t.Fatalf("step 2: finished %v done %v", b.finished, done)
	}
	cands, scores := b.finalize(tokens, sum)
	if len(cands) != 2 || !slices.Equal(cands[1], []int{0, 1, 4, eot}) {
		t.Fatalf("finalize %v", cands)
	}
	if best := rank(cands, scores); !slices.Equal(cands[best], []int{0, 1, eot}) {
		t.Errorf("ranked %v first", cands[best])
	}
}

func TestSampler(t *testing.T) {
	s := &sampler{eot: 3}
	tokens := [][]int{{0}, {3}}
	sum := []float64{0, 0}
	l := []float32{0, 5, 1, 2}
	infos := make([]rowInfo, 2)
	for i := range infos {
		infos[i].lse = logSumExp(l)
		s.prepare(l, &infos[i])
	}
	tokens, _, done := s.update(tokens, [][]float32{l, l}, infos, sum)
	if tokens[0][1] != 1 || tokens[1][1] != 3 || done || sum[1] != 0 || sum[0] >= 0 {
		t.Errorf("tokens %v sum %v", tokens, sum)
	}
}

func TestTopK(t *testing.T) {
	if got := topK([]float32{3, 1, 4, 1, 5, 9, 2, 6}, 3); !slices.Equal(got, []int{5, 7, 4}) {
		t.Errorf("topK = %v", got)
	}
}

func TestCompressionRatio(t *testing.T) {
	rep := strings.Repeat("the same words again ", 40)
	if r := compressionRatio(rep); r < 2.4 {
		t.Errorf("repetitive text ratio %.2f", r)
	}
	if r := compressionRatio("A short, ordinary sentence."); r > 2.4 {
		t.Errorf("ordinary text ratio %.2f", r)
	}
}

func TestWriteFormats(t *testing.T) {
	r := &Result{Task: "transcribe", Language: "en", Duration: 3725.5, Text: " Hello there. General --> Kenobi.", Segments: []Segment{
		{ID: 0, Start: 0, End: 1.5, Text: " Hello there."},
		{ID: 1, Start: 1.5, End: 1.5, Text: ""},
		{ID: 2, Start: 3723.25, End: 3725.5, Text: " General --> Kenobi."},
	}}
	for _, c := range []struct{ format, want string }{
		{"text", "Hello there. General --> Kenobi.\n"},
		{"json", `{"text":"Hello there. General --\u003e Kenobi."}` + "\n"},
		{"srt", "1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n2\n01:02:03,250 --> 01:02:05,500\nGeneral -> Kenobi.\n\n"},
		{"vtt", "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there.\n\n01:02:03.250 --> 01:02:05.500\nGeneral -> Kenobi.\n\n"},
	} {
		var b bytes.Buffer
		if err := r.Write(&b, c.format); err != nil {
			t.Fatal(err)
		}
		if b.String() != c.want {
			t.Errorf("%s:\n%q\nwant\n%q", c.format, b.String(), c.want)
		}
	}
	var b bytes.Buffer
	if err := r.Write(&b, "verbose_json"); err != nil || !strings.Contains(b.String(), `"language":"english"`) {
		t.Errorf("verbose_json: %v %s", err, b.String())
	}
	if err := r.Write(&b, "xml"); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestInitialTokens(t *testing.T) {
	m := &Model{Hparams: Hparams{NTextCtx: 448, NVocab: 51865}, Tokenizer: newTokenizer(nil, 51865)}
	sp := m.Tokenizer.sp
	prompt := make([]int, 300)
	for i := range prompt {
		prompt[i] = i
	}
	task, err := m.newDecodingTask(nil, decodingOptions{multilingual: true, language: "de", translate: true, prompt: prompt, noTimestamps: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// <|startofprev|>, the last 223 prompt tokens, then sot, language, task,
	// <|notimestamps|>.
	want := append([]int{sp.sotPrev}, prompt[300-223:]...)
	want = append(want, sp.sot, sp.sot+1+2, sp.translate, sp.noTimestamps)
	if !slices.Equal(task.initial, want) || task.sampleBegin != len(want) || task.sotIndex != 224 {
		t.Errorf("initial %v... (%d), sample begin %d, sot index %d", task.initial[:3], len(task.initial), task.sampleBegin, task.sotIndex)
	}
	if _, err := m.newDecodingTask(nil, decodingOptions{multilingual: true, language: "xx"}, nil); err == nil {
		t.Error("unknown language accepted")
	}
}

func TestFilterLogSumExp(t *testing.T) {
	task := testTask(false)
	tb := task.m.Tokenizer.sp.timestampBegin
	for _, seq := range [][]int{{1}, {1, 300}, {1, tb + 5, 300}, {1, tb + 5}} {
		l := make([]float32, 51864)
		for i := range l {
			l[i] = float32(math.Sin(float64(i)))
		}
		l[tb+40] = 9
		got := task.filter(l, seq)
		if want := logSumExp(l); math.Abs(got-want) > 1e-9 {
			t.Errorf("seq %v: filter lse %v, recomputed %v", seq, got, want)
		}
	}
	var sm sampler
	sm.temperature = 1
	l := []float32{0, float32(math.Log(3))}
	if got := sm.sample(l, 0.2); got != 0 {
		t.Errorf("u=0.2 picked %d", got)
	}
	if got := sm.sample(l, 0.3); got != 1 {
		t.Errorf("u=0.3 picked %d", got)
	}
}
