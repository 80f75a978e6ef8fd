package whisper

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
)

// Formats lists the output formats of Result.Write, named as the OpenAI
// transcription API's response_format.
var Formats = []string{"text", "json", "verbose_json", "srt", "vtt"}

// Write renders r in an OpenAI-compatible response format: "text" (the text
// and a newline), "json" ({"text"}), "verbose_json" (task, language name,
// duration, text, segments), "srt" or "vtt" (subtitles, one cue per
// non-empty segment). The whole text is trimmed as the API returns it;
// segment texts keep their leading space.
func (r *Result) Write(w io.Writer, format string) error {
	switch format {
	case "", "text":
		_, err := fmt.Fprintln(w, strings.TrimSpace(r.Text))
		return err
	case "json":
		return json.NewEncoder(w).Encode(struct {
			Text string `json:"text"`
		}{strings.TrimSpace(r.Text)})
	case "verbose_json":
		v := struct {
			Task     string    `json:"task"`
			Language string    `json:"language"`
			Duration float64   `json:"duration"`
			Text     string    `json:"text"`
			Segments []Segment `json:"segments"`
		}{r.Task, LanguageName(r.Language), r.Duration, strings.TrimSpace(r.Text), r.Segments}
		return json.NewEncoder(w).Encode(v)
	case "srt", "vtt":
		var b strings.Builder
		if format == "vtt" {
			b.WriteString("WEBVTT\n\n")
		}
		n := 0
		for _, s := range r.Segments {
			text := strings.TrimSpace(strings.ReplaceAll(s.Text, "-->", "->"))
			if text == "" {
				continue
			}
			n++
			if format == "srt" {
				fmt.Fprintf(&b, "%d\n%s --> %s\n%s\n\n", n, timestamp(s.Start, ","), timestamp(s.End, ","), text)
			} else {
				fmt.Fprintf(&b, "%s --> %s\n%s\n\n", timestamp(s.Start, "."), timestamp(s.End, "."), text)
			}
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	return fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

// timestamp formats seconds as HH:MM:SS,mmm (SRT) or HH:MM:SS.mmm (VTT).
func timestamp(sec float64, sep string) string {
	ms := int64(math.Round(max(0, sec) * 1000))
	h := ms / 3_600_000
	ms -= h * 3_600_000
	m := ms / 60_000
	ms -= m * 60_000
	s := ms / 1000
	ms -= s * 1000
	return fmt.Sprintf("%02d:%02d:%02d%s%03d", h, m, s, sep, ms)
}
