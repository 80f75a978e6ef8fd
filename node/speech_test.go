package node

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outposthq/outpost/inference/llm"
	"github.com/outposthq/outpost/inference/speech"
	"github.com/outposthq/outpost/inference/whisper"
)

// oracleDir is the shared Whisper reference data (a tiny random-weight
// model and test clips): $WHISPER_ORACLE_DIR or ../shared beside the repo.
func oracleDir(t *testing.T) string {
	dir := os.Getenv("WHISPER_ORACLE_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "oracle", "whisper")
	}
	if _, err := os.Stat(filepath.Join(dir, "model-tiny-random.bin")); err != nil {
		t.Fatalf("whisper oracle data: %v (set WHISPER_ORACLE_DIR)", err)
	}
	return dir
}

// quickDecoding keeps random-weight decoding short: such a model never
// passes the fallback thresholds, so the full temperature ladder with
// best-of-5 sampling would decode every window dozens of times.
var quickDecoding = whisper.Options{Temperatures: []float64{0}, MaxTokens: 24}

func speechService(t *testing.T) *speech.Service {
	model := filepath.Join(oracleDir(t), "model-tiny-random.bin")
	s := speech.New(speech.Options{Threads: 1, ModelPath: func(name string) (string, error) { return model, nil }})
	t.Cleanup(s.Close)
	return s
}

func multipartBody(t *testing.T, fields map[string]string, file string, data []byte) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	if file != "" {
		fw, _ := w.CreateFormFile("file", file)
		fw.Write(data)
	}
	w.Close()
	return w.FormDataContentType(), &buf
}

func TestAudioTranscriptions(t *testing.T) {
	n := startNode(t, Config{Speech: speechService(t), DefaultSpeechModel: "tiny", SpeechDefaults: quickDecoding})
	wav, err := os.ReadFile(filepath.Join(oracleDir(t), "audio.wav"))
	if err != nil {
		t.Fatal(err)
	}
	url := n.URL() + "/v1/audio/transcriptions"
	post := func(fields map[string]string, file string, data []byte) (int, string) {
		ct, body := multipartBody(t, fields, file, data)
		resp, err := http.Post(url, ct, body)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, body := post(map[string]string{"model": "whisper-1", "response_format": "verbose_json"}, "a.wav", wav)
	var v struct {
		Text     string           `json:"text"`
		Duration float64          `json:"duration"`
		Segments []map[string]any `json:"segments"`
	}
	if status != 200 || json.Unmarshal([]byte(body), &v) != nil || v.Duration != 3 || len(v.Segments) == 0 {
		t.Fatalf("verbose_json: %d %s", status, body)
	}
	if status, body := post(map[string]string{"response_format": "srt"}, "a.wav", wav); status != 200 || !strings.Contains(body, " --> ") && strings.TrimSpace(v.Text) != "" {
		t.Fatalf("srt: %d %q", status, body)
	}
	for _, tt := range []struct {
		fields map[string]string
		data   []byte
		want   int
	}{
		{nil, []byte("not audio at all"), 400},
		{nil, wav[:100], 400},
		{map[string]string{"response_format": "docx"}, wav, 400},
		{map[string]string{"temperature": "7"}, wav, 400},
		{map[string]string{"timestamp_granularities[]": "syllable"}, wav, 400},
	} {
		if status, body := post(tt.fields, "x.wav", tt.data); status != tt.want || !strings.Contains(body, `"error"`) {
			t.Errorf("%v: %d %s", tt.fields, status, body)
		}
	}
	if status, _ := post(nil, "", nil); status != 400 {
		t.Errorf("no file: %d", status)
	}
}

func TestTranscribeJobChainsNote(t *testing.T) {
	gen := &scriptedGen{reqs: make(chan llm.Request, 4),
		reply: `{"subjective": "s", "objective": "o", "assessment": "a", "plan": "p", "medications": [], "follow_up": "f"}`}
	n := startNode(t, Config{Speech: speechService(t), DefaultSpeechModel: "tiny", SpeechDefaults: quickDecoding, Generator: gen, DefaultModel: "m"})
	wav, _ := os.ReadFile(filepath.Join(oracleDir(t), "audio.wav"))
	ct, body := multipartBody(t, map[string]string{"collection": "clinic:a", "then": "note"}, "consult.wav", wav)
	resp, err := http.Post(n.URL()+"/api/v1/transcriptions", ct, body)
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		ID   string `json:"id"`
		Lane string `json:"lane"`
	}
	json.NewDecoder(resp.Body).Decode(&j)
	resp.Body.Close()
	if resp.StatusCode != 202 || j.Lane != "short" {
		t.Fatalf("submit: %d %+v", resp.StatusCode, j)
	}
	tj := waitJob(t, n, j.ID)
	if tj.State != "done" {
		t.Fatalf("transcribe job: %+v", tj)
	}
	r := do(t, "GET", n.URL()+"/api/v1/docs/"+tj.Result, "", "")
	c := r.body["content"].(map[string]any)
	if r.body["type"] != "transcript" || r.body["collection"] != "clinic:a" || c["duration"] != 3.0 || c["segments"] == nil || c["next_job"] == nil {
		t.Fatalf("transcript = %s", r.raw)
	}
	nj := waitJob(t, n, c["next_job"].(string))
	if nj.State != "done" {
		t.Fatalf("chained note job: %+v", nj)
	}
	// The recording is kept as a blob, addressed by its hash.
	audioRef := c["audio"].(map[string]any)
	resp, err = http.Get(n.URL() + "/api/v1/blobs/" + audioRef["sha256"].(string))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, wav) {
		t.Fatalf("blob: %d bytes, want %d", len(got), len(wav))
	}
}
