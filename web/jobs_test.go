package web_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/outposthq/outpost/inference/whisper"
	"github.com/outposthq/outpost/node"
	"github.com/outposthq/outpost/node/jobs"
)

// holdExec is a job kind for these tests: it runs until cancelled, so the
// one worker of the default lane stays busy and jobs behind it stay queued.
type holdExec struct{}

func (holdExec) Run(ctx context.Context, j *jobs.Job, progress func(float64)) (string, error) {
	progress(0.4)
	<-ctx.Done()
	return "", ctx.Err()
}

func submitJob(t *testing.T, n *node.Node, body string) job {
	t.Helper()
	var j job
	if st := call(t, "POST", n.URL()+"/api/v1/jobs", "application/json", body, &j); st != 202 {
		t.Fatalf("submit %s: status %d", body, st)
	}
	return j
}

// The jobs table shows queued and running jobs, filters by state, cancels
// both kinds, and shows a failed job's error.
func TestJobsCancelAndErrors(t *testing.T) {
	n, _ := startNode(t, node.Config{Executors: map[string]func(*node.Node) jobs.Executor{
		"hold": func(*node.Node) jobs.Executor { return holdExec{} },
	}})
	src := createDoc(t, n, "transcript", "clinic:a", map[string]any{"text": "Cough for three days."})
	hold := submitJob(t, n, `{"kind": "hold"}`)
	note := submitJob(t, n, fmt.Sprintf(`{"kind": "note", "input": {"doc_id": %q}}`, src.ID))

	p := openPage(t, n.URL())
	p.goTo("#/jobs")
	row := func(id string) string { return fmt.Sprintf(`#jobs tr[data-job-id="%s"]`, id) }
	p.waitJS("the hold job running", fmt.Sprintf(`document.querySelector('%s[data-state="running"]') !== null`, row(hold.ID)))
	p.waitJS("the note job queued", fmt.Sprintf(`document.querySelector('%s[data-state="queued"]') !== null`, row(note.ID)))
	if got := p.text(row(note.ID)); !containsAll(got, "note", "queued", "waiting", "source document") {
		t.Errorf("queued row reads %q", got)
	}

	p.click(row(note.ID) + " button.cancel")
	p.waitJS("the note job cancelled", fmt.Sprintf(`document.querySelector('%s[data-state="cancelled"]') !== null`, row(note.ID)))
	if j := getJob(t, n, note.ID); j.State != "cancelled" {
		t.Errorf("after Cancel the node says the note job is %s", j.State)
	}

	p.setSelect("#job-filter", "running")
	p.waitJS("the state filter in the URL", `location.hash === "#/jobs?state=running"`)
	p.waitJS("only running jobs", fmt.Sprintf(`document.querySelectorAll("#jobs tbody tr[data-job-id]").length === 1 && document.querySelector('%s') !== null`, row(hold.ID)))
	p.click(row(hold.ID) + " button.cancel")
	p.waitText("#jobs tbody", "No running jobs.")
	if j := getJob(t, n, hold.ID); j.State != "cancelled" {
		t.Errorf("after Cancel the node says the running job is %s", j.State)
	}

	// With the lane free, a note job runs and fails: this node has no
	// language model engine. The page shows the node's reason.
	failed := submitJob(t, n, fmt.Sprintf(`{"kind": "note", "input": {"doc_id": %q}}`, src.ID))
	p.setSelect("#job-filter", "failed")
	p.waitJS("the failed job", fmt.Sprintf(`document.querySelector('%s[data-state="failed"]') !== null`, row(failed.ID)))
	p.waitText(row(failed.ID)+" .error-text", "this node has no language model engine")
	if p.eval(fmt.Sprintf(`document.querySelector('%s button.cancel') === null`, row(failed.ID))) != true {
		t.Error("a failed job offers Cancel")
	}

	// Nor a speech engine: the upload page says so before anyone uploads.
	p.goTo("#/transcribe")
	p.waitJS("the no-speech warning", `!document.querySelector("#no-speech").hidden`)
	p.noAlerts()
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}

// setSelect picks an option as a person would, firing change.
func (p *page) setSelect(sel, value string) {
	p.t.Helper()
	p.eval(fmt.Sprintf(`(() => { const s = document.querySelector(%s); s.value = %s; s.dispatchEvent(new Event("change", {bubbles: true})); })()`, jsString(sel), jsString(value)))
}

// speechDouble stands in for the Whisper engine, which is not what these
// tests are about (inference/whisper tests it on real models): it reports
// half the audio done, waits for the test, and returns two segments.
type speechDouble struct{ release chan struct{} }

func (s speechDouble) Transcribe(ctx context.Context, model string, samples []float32, opts whisper.Options, progress func(whisper.Progress)) (*whisper.Result, error) {
	dur := float64(len(samples)) / 16000
	if progress != nil {
		progress(whisper.Progress{Seconds: dur / 2, Duration: dur})
	}
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &whisper.Result{
		Text: "Patient reports cough. Temperature 38.5.", Language: "en", Duration: dur,
		Segments: []whisper.Segment{
			{Start: 0, End: dur / 2, Text: " Patient reports cough."},
			{Start: dur / 2, End: dur, Text: " Temperature 38.5."},
		},
	}, nil
}

// writeWAV writes a second of a 440 Hz tone as 16 kHz mono 16-bit PCM.
func writeWAV(t *testing.T, path string) {
	t.Helper()
	const rate = 16000
	pcm := make([]byte, 2*rate)
	for i := range rate {
		v := int16(8000 * math.Sin(2*math.Pi*440*float64(i)/rate))
		binary.LittleEndian.PutUint16(pcm[2*i:], uint16(v))
	}
	h := make([]byte, 0, 44)
	h = append(h, "RIFF"...)
	h = binary.LittleEndian.AppendUint32(h, uint32(36+len(pcm)))
	h = append(h, "WAVEfmt "...)
	h = binary.LittleEndian.AppendUint32(h, 16)
	h = binary.LittleEndian.AppendUint16(h, 1) // PCM
	h = binary.LittleEndian.AppendUint16(h, 1) // mono
	h = binary.LittleEndian.AppendUint32(h, rate)
	h = binary.LittleEndian.AppendUint32(h, rate*2)
	h = binary.LittleEndian.AppendUint16(h, 2)
	h = binary.LittleEndian.AppendUint16(h, 16)
	h = append(h, "data"...)
	h = binary.LittleEndian.AppendUint32(h, uint32(len(pcm)))
	if err := os.WriteFile(path, append(h, pcm...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A recording uploaded in the page becomes a transcribe job the page
// follows, then the note job it chains to; the transcript opens with its
// segments and times. A file that is not audio is refused with the node's
// reason.
func TestTranscribeUpload(t *testing.T) {
	speech := speechDouble{release: make(chan struct{})}
	n, _ := startNode(t, node.Config{Speech: speech, DefaultSpeechModel: "test-double"})
	dir := t.TempDir()
	wav := filepath.Join(dir, "visit.wav")
	writeWAV(t, wav)
	bad := filepath.Join(dir, "notes.wav")
	if err := os.WriteFile(bad, []byte("this is not audio"), 0o644); err != nil {
		t.Fatal(err)
	}

	p := openPage(t, n.URL())
	p.goTo("#/transcribe")
	p.waitJS("the node information read", `document.title.startsWith("Outpost · ")`)
	if p.eval(`document.querySelector("#no-speech").hidden`) != true {
		t.Error("a node with a speech engine shows the no-speech warning")
	}
	p.do(chromedp.SetUploadFiles(chromedp.CSS(`#transcribe input[name="file"]`), []string{bad}))
	p.typeInto(`#transcribe input[name="collection"]`, "clinic:a")
	p.click(`#transcribe button[type="submit"]`)
	p.waitText("#alerts", "Transcription refused: audio:")
	p.waitText("#alerts", "(HTTP 400)")

	p.do(chromedp.SetUploadFiles(chromedp.CSS(`#transcribe input[name="file"]`), []string{wav}))
	p.setSelect(`#transcribe select[name="then"]`, "note")
	p.click(`#transcribe button[type="submit"]`)
	p.waitJS("the transcribe job running", `document.querySelector('#transcribe-jobs .tracker [data-state="running"]') !== null`)
	p.waitJS("the refused upload's alert to clear", `document.querySelector("#alerts").hidden`)
	close(speech.release)
	p.waitText("#transcribe-jobs", "Open transcript")
	// The chained note job fails on this node (no language model); its
	// tracker says why.
	p.waitText("#transcribe-jobs", "this node has no language model engine")

	p.click("#transcribe-jobs .tracker .result a")
	p.waitText("#doc-title", "Transcript · clinic:a")
	p.waitText(`#doc-content [data-field="text"]`, "Patient reports cough. Temperature 38.5.")
	segs := p.strings(`Array.from(document.querySelectorAll("#doc-content table.segments tbody tr")).map(r => r.textContent)`)
	if len(segs) != 2 || segs[0] != "0:00.0 – 0:00.5Patient reports cough." || segs[1] != "0:00.5 – 0:01.0Temperature 38.5." {
		t.Errorf("segments show %q", segs)
	}
	if got := p.text(`#doc-content [data-field="audio"]`); !strings.Contains(got, "visit.wav") {
		t.Errorf("audio field shows %q", got)
	}
	if got := p.text(`#doc-content [data-field="duration"]`); got != "Duration0:01.0" {
		t.Errorf("duration shows %q", got)
	}
	transcript := p.eval(`location.hash`).(string)

	// The jobs table links the done job to the same transcript.
	p.route("#/jobs?state=done")
	p.waitJS("the done transcribe job", `document.querySelector('#jobs tr[data-state="done"] .result a') !== null`)
	if href := p.eval(`document.querySelector('#jobs tr[data-state="done"] .result a').getAttribute("href")`); href != transcript {
		t.Errorf("jobs table links the result as %v, want %s", href, transcript)
	}
	p.noAlerts()
}
