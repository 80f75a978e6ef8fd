package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/outposthq/outpost/inference/registry"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/automerge/automerge-go"
	"github.com/labstack/echo/v4"
	"github.com/outposthq/outpost/crdt"
	"github.com/outposthq/outpost/inference/audio"
	"github.com/outposthq/outpost/inference/whisper"
	"github.com/outposthq/outpost/node/jobs"
)

// Transcriber is the speech-to-text service as the node uses it
// (speech.Service): it keeps models warm and schedules short clips ahead of
// long recordings.
type Transcriber interface {
	Transcribe(ctx context.Context, model string, samples []float32, opts whisper.Options, progress func(whisper.Progress)) (*whisper.Result, error)
}

// shortClip is the longest audio that goes to the jobs' short lane, so that
// a quick dictation never waits behind an hour-long recording.
const shortClip = 2 * time.Minute

func (n *Node) speechRoutes(e *echo.Echo, api *echo.Group) {
	e.POST("/v1/audio/transcriptions", n.audioTranscriptions)
	api.POST("/blobs", n.putBlob)
	api.GET("/blobs/:sha", n.getBlob)
	api.POST("/transcriptions", n.submitTranscription)
}

func (n *Node) speechModel(name string) (string, error) {
	if name == "" || name == "whisper-1" { // OpenAI clients send whisper-1
		name = n.defaultModel(registry.KindWhisper)
	}
	if name == "" {
		return "", badRequest(`no speech model: pass "model", start the node with --speech-model, or install exactly one Whisper model ('outpost models pull whisper:base.en')`)
	}
	return name, nil
}

// readAudio decodes an uploaded file to 16 kHz mono, with clear errors.
func readAudio(r io.Reader) ([]float32, audio.Info, error) {
	samples, info, err := audio.DecodeLimit(r, audio.MaxDuration)
	if err != nil {
		return nil, info, badRequest("audio: %v", err)
	}
	if len(samples) == 0 {
		return nil, info, badRequest("audio: the file holds no samples")
	}
	return samples, info, nil
}

func (n *Node) whisperOptions(language, prompt, temperature string) (whisper.Options, error) {
	o := n.cfg.SpeechDefaults
	o.Language, o.Prompt = language, prompt
	if temperature != "" {
		t, err := strconv.ParseFloat(temperature, 64)
		if err != nil || t < 0 || t > 1 || math.IsNaN(t) {
			return o, badRequest("temperature must be a number from 0 to 1")
		}
		if t > 0 {
			// As OpenAI: a given temperature starts the fallback ladder there.
			for x := t; x <= 1.0001; x += 0.2 {
				o.Temperatures = append(o.Temperatures, math.Min(x, 1))
			}
		} else {
			o.Temperatures = []float64{0, 0.2, 0.4, 0.6, 0.8, 1.0}
		}
	}
	return o, nil
}

// audioTranscriptions is OpenAI's POST /v1/audio/transcriptions.
func (n *Node) audioTranscriptions(c echo.Context) error {
	if n.speech == nil {
		return &apiError{http.StatusServiceUnavailable, "this node has no speech-to-text engine"}
	}
	r := c.Request()
	fh, err := n.audioUpload(c)
	if err != nil {
		return err
	}
	model, err := n.speechModel(c.FormValue("model"))
	if err != nil {
		return err
	}
	format := c.FormValue("response_format")
	if format == "" {
		format = "json"
	}
	switch format {
	case "json", "text", "srt", "verbose_json", "vtt":
	default:
		return badRequest("response_format must be json, text, srt, verbose_json or vtt")
	}
	opts, err := n.whisperOptions(c.FormValue("language"), c.FormValue("prompt"), c.FormValue("temperature"))
	if err != nil {
		return err
	}
	params, _ := c.FormParams()
	for _, g := range params["timestamp_granularities[]"] {
		if g != "segment" && g != "word" {
			return badRequest("timestamp_granularities[] must be segment or word")
		}
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	samples, _, err := readAudio(f)
	if err != nil {
		return err
	}
	res, err := n.speech.Transcribe(r.Context(), model, samples, opts, nil)
	if err != nil {
		return speechError(err)
	}
	var buf bytes.Buffer
	if err := res.Write(&buf, format); err != nil {
		return err
	}
	ct := map[string]string{"json": "application/json", "verbose_json": "application/json", "text": "text/plain; charset=utf-8",
		"srt": "application/x-subrip; charset=utf-8", "vtt": "text/vtt; charset=utf-8"}[format]
	return c.Blob(http.StatusOK, ct, buf.Bytes())
}

// audioUpload returns the multipart "file" of a request whose body may be
// at most MaxAudioBytes.
func (n *Node) audioUpload(c echo.Context) (*multipart.FileHeader, error) {
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, n.cfg.MaxAudioBytes)
	fh, err := c.FormFile("file")
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, echo.NewHTTPError(http.StatusRequestEntityTooLarge)
		}
		return nil, badRequest(`multipart field "file" is required: %v`, err)
	}
	return fh, nil
}

func speechError(err error) error {
	if errors.Is(err, context.Canceled) {
		return &apiError{499, "request cancelled"}
	}
	msg := err.Error()
	if strings.Contains(msg, "not found") {
		return &apiError{http.StatusNotFound, msg}
	}
	return err
}

func (n *Node) putBlob(c echo.Context) error {
	r := c.Request()
	body := http.MaxBytesReader(c.Response(), r.Body, n.cfg.MaxAudioBytes)
	sum, size, err := n.store.PutBlob(r.Context(), body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"sha256": sum, "size": size})
}

func (n *Node) getBlob(c echo.Context) error {
	rc, size, err := n.store.OpenBlob(c.Request().Context(), c.Param("sha"))
	if err != nil {
		return err
	}
	defer rc.Close()
	c.Response().Header().Set(echo.HeaderContentLength, strconv.FormatInt(size, 10))
	return c.Stream(http.StatusOK, "application/octet-stream", rc)
}

// transcribeInput is the input of a transcribe job.
type transcribeInput struct {
	Blob       string `json:"blob"`       // SHA-256 of the stored audio
	Collection string `json:"collection"` // where the transcript goes
	Language   string `json:"language,omitempty"`
	Prompt     string `json:"prompt,omitempty"`
	// Then names a job kind (note, maintenance) to run on the transcript.
	Then string `json:"then,omitempty"`
	// Seconds is the audio's duration, for lane choice.
	Seconds float64 `json:"seconds,omitempty"`
	Name    string  `json:"name,omitempty"` // original file name
}

// submitTranscription stores an uploaded recording and queues a transcribe
// job for it: multipart "file", "collection", optional "model",
// "language", "prompt", "then" and "priority".
func (n *Node) submitTranscription(c echo.Context) error {
	r := c.Request()
	fh, err := n.audioUpload(c)
	if err != nil {
		return err
	}
	in := transcribeInput{Collection: c.FormValue("collection"), Language: c.FormValue("language"),
		Prompt: c.FormValue("prompt"), Then: c.FormValue("then"), Name: fh.Filename}
	if in.Collection == "" {
		return badRequest(`"collection" is required`)
	}
	if in.Then != "" && in.Then != "note" && in.Then != "maintenance" {
		return badRequest(`"then" must be note or maintenance`)
	}
	prio := 0
	if p := c.FormValue("priority"); p != "" {
		if prio, err = strconv.Atoi(p); err != nil {
			return badRequest("priority must be an integer")
		}
	}
	// Decode once now: bad audio is refused at the door, not by a job
	// that fails later, and the duration picks the lane.
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	_, info, err := readAudio(f)
	if err != nil {
		return err
	}
	in.Seconds = info.Duration.Seconds()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	sum, _, err := n.store.PutBlob(r.Context(), f)
	if err != nil {
		return err
	}
	in.Blob = sum
	input, _ := json.Marshal(in)
	j, err := n.jobs.Submit(r.Context(), jobs.Job{Kind: "transcribe", Input: input, Model: c.FormValue("model"), Priority: prio})
	if err != nil {
		return jobError(err)
	}
	return c.JSON(http.StatusAccepted, j)
}

// transcribeExec is the transcribe job kind: audio blob → transcript
// document (text as Automerge Text, segments, language, duration,
// provenance), optionally chaining a note or maintenance job.
type transcribeExec struct{ n *Node }

// Lane puts short clips in their own lane.
func (e transcribeExec) Lane(j *jobs.Job) string {
	var in transcribeInput
	if json.Unmarshal(j.Input, &in) == nil && in.Seconds > 0 && in.Seconds <= shortClip.Seconds() {
		return "short"
	}
	return ""
}

func (e transcribeExec) Run(ctx context.Context, j *jobs.Job, progress func(float64)) (string, error) {
	n := e.n
	if n.speech == nil {
		return "", errors.New("this node has no speech-to-text engine")
	}
	var in transcribeInput
	if err := json.Unmarshal(j.Input, &in); err != nil || in.Blob == "" || in.Collection == "" {
		return "", errors.New(`input must be {"blob": SHA256, "collection": C}`)
	}
	resultID := jobs.ResultID(j.ID)
	if _, err := n.store.Meta(ctx, resultID); err == nil {
		return resultID.String(), n.chain(ctx, j, in, resultID)
	}
	model, err := n.speechModel(j.Model)
	if err != nil {
		return "", err
	}
	rc, _, err := n.store.OpenBlob(ctx, in.Blob)
	if err != nil {
		return "", fmt.Errorf("audio blob: %w", err)
	}
	samples, _, err := audio.Decode(rc)
	rc.Close()
	if err != nil {
		return "", err
	}
	opts, _ := n.whisperOptions(in.Language, in.Prompt, "")
	start := time.Now()
	res, err := n.speech.Transcribe(ctx, model, samples, opts, func(p whisper.Progress) {
		if p.Duration > 0 {
			progress(math.Min(0.99, p.Seconds/p.Duration))
		}
	})
	if err != nil {
		return "", err
	}
	segments := make([]any, len(res.Segments))
	for i, s := range res.Segments {
		segments[i] = map[string]any{"start": s.Start, "end": s.End, "text": strings.TrimSpace(s.Text)}
	}
	content := map[string]any{
		"text":     strings.TrimSpace(res.Text),
		"language": res.Language,
		"duration": res.Duration,
		"segments": segments,
		"audio":    map[string]any{"sha256": in.Blob, "name": in.Name},
		"provenance": map[string]any{
			"node": n.cfg.Name, "model": model, "model_sha256": n.modelSHA256(model),
			"job_id": j.ID, "produced_at": time.Now().UTC().Format(time.RFC3339Nano),
			"seconds": time.Since(start).Seconds(),
		},
	}
	body, err := crdt.DecodeJSON(mustJSON(content))
	if err != nil {
		return "", err
	}
	_, err = n.store.CreateWithID(ctx, resultID, "transcript", in.Collection, func(d *automerge.Doc) error {
		return crdt.SetContent(d, body)
	})
	if err != nil && !errors.Is(err, crdt.ErrExists) {
		return "", err
	}
	return resultID.String(), n.chain(ctx, j, in, resultID)
}

// chain queues the follow-up job once; its id is recorded in the transcript
// so that a retried transcription does not queue it twice.
func (n *Node) chain(ctx context.Context, j *jobs.Job, in transcribeInput, transcript crdt.DocID) error {
	if in.Then == "" {
		return nil
	}
	var queued bool
	err := n.store.View(ctx, transcript, func(d *automerge.Doc, _ crdt.Meta) error {
		v, err := d.RootMap().Get("next_job")
		queued = err == nil && v.Kind() != automerge.KindVoid
		return nil
	})
	if err != nil || queued {
		return err
	}
	input, _ := json.Marshal(docInput{DocID: transcript.String()})
	next, err := n.jobs.Submit(ctx, jobs.Job{Kind: in.Then, Input: input, Priority: j.Priority})
	if err != nil {
		return err
	}
	_, err = n.store.Update(ctx, transcript, "chain "+in.Then, func(d *automerge.Doc) error {
		return d.RootMap().Set("next_job", next.ID)
	})
	return err
}
