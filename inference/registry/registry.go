package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/outposthq/outpost/inference/gguf"
	"github.com/outposthq/outpost/internal/filelock"
)

// Format is a model file's container format.
type Format string

// Kind is what a model is for.
type Kind string

// Formats and kinds the registry knows.
const (
	FormatGGUF    Format = "gguf"    // llama.cpp models
	FormatWhisper Format = "whisper" // whisper.cpp's ggml files (ggml-base.en.bin, …)

	KindLLM     Kind = "llm"
	KindWhisper Kind = "whisper"
)

// Errors callers can test with errors.Is.
var (
	ErrNotFound     = errors.New("model not found")
	ErrExists       = errors.New("model already exists")
	ErrHashMismatch = errors.New("SHA-256 mismatch")
	ErrInvalidModel = errors.New("invalid model file")
	ErrUnverified   = errors.New("no SHA-256 to verify against")
)

// Details describe a model file, from its header.
type Details struct {
	Architecture  string            `json:"architecture,omitempty"`
	Parameters    uint64            `json:"parameters,omitempty"`
	Quantization  string            `json:"quantization,omitempty"`
	ContextLength uint64            `json:"context_length,omitempty"`
	RandomWeights bool              `json:"random_weights,omitempty"`
	Extra         map[string]string `json:"extra,omitempty"`
}

// Entry is one model in the manifest.
type Entry struct {
	Name    string    `json:"name"`
	File    string    `json:"file"` // relative to the models dir
	Format  Format    `json:"format"`
	Kind    Kind      `json:"kind"`
	Size    int64     `json:"size"`
	SHA256  string    `json:"sha256"`
	Source  string    `json:"source"` // URL, "catalog:NAME" or "import:PATH"
	Added   time.Time `json:"added"`
	Details Details   `json:"details"`

	Path string `json:"-"` // absolute path of File, set by the registry
}

// InspectFunc validates a model file of one format and describes it. It
// must reject a corrupt file with an error.
type InspectFunc func(path string) (Details, error)

// Options configure a Registry.
type Options struct {
	// Inspect validates formats other than GGUF, whose inspector is built
	// in. A format without an inspector cannot be imported or pulled.
	Inspect map[Format]InspectFunc
	// Client downloads pulls. [http.DefaultClient]
	Client *http.Client
	// Catalog overrides the built-in catalog (tests). [Catalog()]
	Catalog []CatalogEntry
}

// Registry is the models directory of one data dir. Its methods are safe for
// concurrent use, also by several processes: every change happens under a
// file lock and rewrites the manifest atomically.
type Registry struct {
	dir     string
	inspect map[Format]InspectFunc
	client  *http.Client
	catalog []CatalogEntry
}

const manifestName = "manifest.json"

type manifest struct {
	Version int     `json:"version"`
	Models  []Entry `json:"models"`
}

// Open opens (creating if needed) the registry in <dataDir>/models.
func Open(dataDir string, opts Options) (*Registry, error) {
	dir := filepath.Join(dataDir, "models")
	if err := os.MkdirAll(filepath.Join(dir, partialDir), 0o755); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	r := &Registry{dir: dir, inspect: map[Format]InspectFunc{FormatGGUF: InspectGGUF}, client: opts.Client, catalog: opts.Catalog}
	for f, fn := range opts.Inspect {
		r.inspect[f] = fn
	}
	if r.client == nil {
		r.client = http.DefaultClient
	}
	if r.catalog == nil {
		r.catalog = Catalog()
	}
	return r, nil
}

// Dir is the models directory.
func (r *Registry) Dir() string { return r.dir }

// List returns every model, sorted by name.
func (r *Registry) List() ([]Entry, error) {
	m, err := r.load()
	if err != nil {
		return nil, err
	}
	for i := range m.Models {
		m.Models[i].Path = filepath.Join(r.dir, m.Models[i].File)
	}
	slices.SortFunc(m.Models, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return m.Models, nil
}

// Names returns the names of the models of one kind, sorted.
func (r *Registry) Names(kind Kind) ([]string, error) {
	all, err := r.List()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range all {
		if e.Kind == kind {
			names = append(names, e.Name)
		}
	}
	return names, nil
}

// Get returns the model called name.
func (r *Registry) Get(name string) (Entry, error) {
	m, err := r.load()
	if err != nil {
		return Entry{}, err
	}
	for _, e := range m.Models {
		if e.Name == name {
			e.Path = filepath.Join(r.dir, e.File)
			return e, nil
		}
	}
	return Entry{}, fmt.Errorf("%w: %q", ErrNotFound, name)
}

// Path returns the file of the model called name; it fits
// llm.Options.Resolve.
func (r *Registry) Path(name string) (string, error) {
	e, err := r.Get(name)
	return e.Path, err
}

// Remove deletes a model's entry and file.
func (r *Registry) Remove(name string) error {
	return r.update(func(m *manifest) error {
		i := slices.IndexFunc(m.Models, func(e Entry) bool { return e.Name == name })
		if i < 0 {
			return fmt.Errorf("%w: %q", ErrNotFound, name)
		}
		file := m.Models[i].File
		m.Models = slices.Delete(m.Models, i, i+1)
		// The manifest no longer names the file once update commits; a
		// crash before the unlink leaves an orphan, never a dangling entry.
		defer os.Remove(filepath.Join(r.dir, file))
		return nil
	})
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}$`)

// ValidName reports whether name can name a model.
func ValidName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("model name %q: use 1-128 letters, digits and . _ : + - (not starting with a symbol)", name)
	}
	return nil
}

func fileFor(name string, f Format) string {
	ext := ".gguf"
	if f == FormatWhisper {
		ext = ".bin"
	}
	return strings.ReplaceAll(name, ":", "-") + ext
}

func kindOf(f Format) Kind {
	if f == FormatWhisper {
		return KindWhisper
	}
	return KindLLM
}

// Sniff identifies a model file's format from its first bytes.
func Sniff(path string) (Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var b [4]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		return "", fmt.Errorf("%w: %s: too short to be a model", ErrInvalidModel, path)
	}
	switch {
	case string(b[:]) == "GGUF":
		return FormatGGUF, nil
	case string(b[:]) == "lmgg": // whisper.cpp: uint32 0x67676d6c, little-endian
		return FormatWhisper, nil
	}
	return "", fmt.Errorf("%w: %s: unknown format (magic %q; want GGUF or whisper.cpp ggml)", ErrInvalidModel, path, b[:])
}

// inspectFile sniffs and validates a file.
func (r *Registry) inspectFile(path string) (Format, Details, error) {
	format, err := Sniff(path)
	if err != nil {
		return "", Details{}, err
	}
	fn := r.inspect[format]
	if fn == nil {
		return "", Details{}, fmt.Errorf("%w: %s: no validator for %s files in this build", ErrInvalidModel, path, format)
	}
	d, err := fn(path)
	if err != nil {
		return "", Details{}, fmt.Errorf("%w: %w", ErrInvalidModel, err)
	}
	return format, d, nil
}

// InspectGGUF validates a GGUF file with the bounded header reader and
// describes it.
func InspectGGUF(path string) (Details, error) {
	f, err := gguf.ReadFile(path)
	if err != nil {
		return Details{}, err
	}
	d := Details{Architecture: f.Architecture(), Parameters: f.ParamCount()}
	if d.Architecture == "" {
		return d, fmt.Errorf("%s: no general.architecture", path)
	}
	d.ContextLength, _ = f.ArchUint("context_length")
	if ft, ok := f.Uint("general.file_type"); ok {
		d.Quantization = fileTypeName(ft)
	}
	d.RandomWeights, _ = f.Bool("outpost.random_weights")
	if name, ok := f.String("general.name"); ok {
		d.Extra = map[string]string{"name": name}
	}
	return d, nil
}

// fileTypeName names llama.cpp's general.file_type values.
func fileTypeName(ft uint64) string {
	names := map[uint64]string{
		0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
		10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
		16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S",
		22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M",
		28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
	}
	if n, ok := names[ft]; ok {
		return n
	}
	return fmt.Sprintf("file_type %d", ft)
}

func (r *Registry) load() (manifest, error) {
	var m manifest
	b, err := os.ReadFile(filepath.Join(r.dir, manifestName))
	if errors.Is(err, os.ErrNotExist) {
		return manifest{Version: 1}, nil
	}
	if err != nil {
		return m, fmt.Errorf("registry: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("registry: %s is corrupt: %w", filepath.Join(r.dir, manifestName), err)
	}
	return m, nil
}

// update applies fn to the manifest under the directory lock and writes the
// result atomically (temporary file, fsync, rename, fsync of the directory).
func (r *Registry) update(fn func(m *manifest) error) error {
	unlock, err := filelock.Lock(filepath.Join(r.dir, ".lock"))
	if err != nil {
		return fmt.Errorf("registry: lock: %w", err)
	}
	defer unlock()
	m, err := r.load()
	if err != nil {
		return err
	}
	if err := fn(&m); err != nil {
		return err
	}
	m.Version = 1
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(r.dir, manifestName), append(b, '\n'))
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".manifest-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// add records a verified file that is already at its final name.
func (r *Registry) add(e Entry, replace bool) error {
	return r.update(func(m *manifest) error {
		i := slices.IndexFunc(m.Models, func(x Entry) bool { return x.Name == e.Name })
		if i >= 0 && !replace {
			return fmt.Errorf("%w: %q (remove it first)", ErrExists, e.Name)
		}
		if i >= 0 {
			m.Models[i] = e
			return nil
		}
		m.Models = append(m.Models, e)
		return nil
	})
}
