package whisperbench

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/outposthq/outpost/inference/whisper"
	"github.com/outposthq/outpost/inference/whisper/whispertest"
)

// TestRun runs the benchmark end to end on a very small model.
func TestRun(t *testing.T) {
	var got []Result
	err := Run(t.Context(), Options{
		Sizes: []string{"small-test"}, Types: []string{"q8_0"}, Durations: []time.Duration{10 * time.Second},
		Threads: 1, TokensPerWindow: 4, MatmulReps: 1, Dir: t.TempDir(),
		Shape: func(size, typ string) (whisper.Hparams, error) {
			h := whispertest.Small()
			h.FType = 2007
			return h, nil
		},
	}, func(r Result) { got = append(got, r) })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d results", len(got))
	}
	r := got[0]
	if r.Windows != 1 || r.Tokens != 4 || r.RTF <= 0 || r.EncoderGF <= 0 || r.MatmulGF <= 0 || r.EncoderFrac <= 0 {
		t.Errorf("implausible result %+v", r)
	}
}

// BenchmarkWhisper runs `outpost bench whisper` from go test, for when the
// command does not build: WHISPER_BENCH="sizes=tiny,base types=f16
// durations=30s threads=1 tokens=100".
func BenchmarkWhisper(b *testing.B) {
	o := Options{Dir: b.TempDir(), Progress: func(f string, a ...any) { b.Logf(f, a...) }}
	for _, kv := range strings.Fields(os.Getenv("WHISPER_BENCH")) {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "sizes":
			o.Sizes = strings.Split(v, ",")
		case "types":
			o.Types = strings.Split(v, ",")
		case "durations":
			for _, s := range strings.Split(v, ",") {
				d, err := time.ParseDuration(s)
				if err != nil {
					b.Fatal(err)
				}
				o.Durations = append(o.Durations, d)
			}
		case "threads":
			o.Threads = atoi(b, v)
		case "tokens":
			o.TokensPerWindow = atoi(b, v)
		}
	}
	for b.Loop() {
		if err := Run(b.Context(), o, func(r Result) {
			j, _ := json.Marshal(r)
			os.Stdout.Write(append(j, '\n'))
		}); err != nil {
			b.Fatal(err)
		}
	}
}

func atoi(b *testing.B, s string) int {
	var n int
	for _, c := range s {
		if c < '0' || c > '9' {
			b.Fatalf("bad number %q", s)
		}
		n = n*10 + int(c-'0')
	}
	return n
}
