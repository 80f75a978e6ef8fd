package prompts

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"
)

//go:embed defaults
var defaults embed.FS

// ErrNotFound is returned for a template name that no file defines.
var ErrNotFound = errors.New("template not found")

// Template is one parsed prompt template and its output schema.
type Template struct {
	Name string
	// Schema constrains the model's output; nil means free text.
	Schema json.RawMessage
	// Source says where it came from: "builtin" or the override file's path.
	Source string
	// SHA256 identifies the exact template and schema text, for provenance.
	SHA256 string
	tmpl   *template.Template
}

// Set is every template a node can use.
type Set struct {
	templates map[string]*Template
}

// Load reads the embedded defaults, then dir's overrides (dir may be "" or
// missing). A broken override is an error naming the file, not a silent
// fallback: a site that customised a template must know it is not used.
func Load(dir string) (*Set, error) {
	files := map[string][]byte{}
	sources := map[string]string{}
	err := fs.WalkDir(defaults, "defaults", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := defaults.ReadFile(p)
		files[d.Name()] = b
		sources[d.Name()] = "builtin"
		return err
	})
	if err != nil {
		return nil, err
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("prompts: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() || !(strings.HasSuffix(e.Name(), ".tmpl") || strings.HasSuffix(e.Name(), ".schema.json")) {
				continue
			}
			p := filepath.Join(dir, e.Name())
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("prompts: %w", err)
			}
			files[e.Name()] = b
			sources[e.Name()] = p
		}
	}
	s := &Set{templates: map[string]*Template{}}
	for name, text := range files {
		base, ok := strings.CutSuffix(name, ".tmpl")
		if !ok {
			continue
		}
		t := &Template{Name: base, Source: sources[name]}
		t.tmpl, err = template.New(base).Option("missingkey=error").Parse(string(text))
		if err != nil {
			return nil, fmt.Errorf("prompts: %s: %w", sources[name], err)
		}
		h := sha256.New()
		h.Write(text)
		if schema, ok := files[base+".schema.json"]; ok {
			var v map[string]any
			if err := json.Unmarshal(schema, &v); err != nil {
				return nil, fmt.Errorf("prompts: %s: schema is not a JSON object: %w", sources[base+".schema.json"], err)
			}
			var buf bytes.Buffer
			if err := json.Compact(&buf, schema); err != nil {
				return nil, err
			}
			t.Schema = buf.Bytes()
			h.Write([]byte{0})
			h.Write(schema)
		}
		t.SHA256 = hex.EncodeToString(h.Sum(nil))
		s.templates[base] = t
	}
	return s, nil
}

// Get returns the named template.
func (s *Set) Get(name string) (*Template, error) {
	t, ok := s.templates[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q (have %s)", ErrNotFound, name, strings.Join(s.Names(), ", "))
	}
	return t, nil
}

// Names lists the templates, sorted.
func (s *Set) Names() []string {
	out := make([]string, 0, len(s.templates))
	for n := range s.templates {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Render executes the template with data and returns the system message
// ("" if the template defines none) and the user message.
func (t *Template) Render(data any) (system, user string, err error) {
	var sb, ub strings.Builder
	if t.tmpl.Lookup("system") != nil {
		if err := t.tmpl.ExecuteTemplate(&sb, "system", data); err != nil {
			return "", "", fmt.Errorf("prompts: %s: %w", t.Name, err)
		}
	}
	if err := t.tmpl.Execute(&ub, data); err != nil {
		return "", "", fmt.Errorf("prompts: %s: %w", t.Name, err)
	}
	return strings.TrimSpace(sb.String()), strings.TrimSpace(ub.String()), nil
}
