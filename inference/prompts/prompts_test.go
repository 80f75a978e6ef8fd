package prompts

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultsRender(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Names(), ","); got != "diagnose,maintenance,note" {
		t.Fatalf("names = %s", got)
	}
	tests := []struct {
		name string
		data any
		want string
	}{
		{"note", map[string]any{"Text": "Patient: I have had a cough for three days."}, "cough for three days"},
		{"maintenance", map[string]any{"Text": "Port main engine exhaust temp 420 on cylinder 3."}, "cylinder 3"},
		{"diagnose", map[string]any{"Note": map[string]any{"subjective": "cough", "objective": "T 38.5", "assessment": "LRTI?", "plan": "amoxicillin"}}, "T 38.5"},
	}
	for _, tt := range tests {
		tm, err := s.Get(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		sys, user, err := tm.Render(tt.data)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if sys == "" || !strings.Contains(user, tt.want) || len(tm.Schema) == 0 || tm.Source != "builtin" || len(tm.SHA256) != 64 {
			t.Fatalf("%s: system %q user %q schema %d source %s", tt.name, sys, user, len(tm.Schema), tm.Source)
		}
	}
	if _, err := s.Get("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing template: %v", err)
	}
	// Missing data is an error, not an empty prompt.
	tm, _ := s.Get("note")
	if _, _, err := tm.Render(map[string]any{}); err == nil {
		t.Fatal("render without Text succeeded")
	}
}

func TestOverrides(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "note.tmpl"), []byte(`Summarise: {{.Text}}`), 0o644)
	os.WriteFile(filepath.Join(dir, "handover.tmpl"), []byte(`{{define "system"}}Be brief.{{end}}Handover: {{.Text}}`), 0o644)
	os.WriteFile(filepath.Join(dir, "handover.schema.json"), []byte(`{"type": "object"}`), 0o644)
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	note, _ := s.Get("note")
	sys, user, _ := note.Render(map[string]any{"Text": "x"})
	if sys != "" || user != "Summarise: x" || note.Source != filepath.Join(dir, "note.tmpl") || len(note.Schema) == 0 {
		t.Fatalf("overridden note: %q %q %s", sys, user, note.Source)
	}
	h, err := s.Get("handover")
	if err != nil || string(h.Schema) != `{"type":"object"}` {
		t.Fatalf("added template: %v %s", err, h.Schema)
	}

	os.WriteFile(filepath.Join(dir, "bad.tmpl"), []byte(`{{.Text`), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "bad.tmpl") {
		t.Fatalf("broken override: %v", err)
	}
	os.Remove(filepath.Join(dir, "bad.tmpl"))
	os.WriteFile(filepath.Join(dir, "note.schema.json"), []byte(`[`), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "note.schema.json") {
		t.Fatalf("broken schema: %v", err)
	}
}
