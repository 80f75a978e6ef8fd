package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/outposthq/outpost/inference/registry"
	"github.com/outposthq/outpost/inference/whisper"
)

// runModels is `outpost models pull|import|list|info|rm|catalog|testgen`.
func runModels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	subs := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"pull":    modelsPull,
		"import":  modelsImport,
		"list":    modelsList,
		"ls":      modelsList,
		"info":    modelsInfo,
		"rm":      modelsRemove,
		"catalog": modelsCatalog,
		"testgen": modelsTestgen,
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || subs[args[0]] == nil {
		fmt.Fprint(stderr, `usage: outpost models <command> [flags]

commands:
  pull NAME|URL     download a catalog model or a URL into the data dir (resumable, verified)
  import FILE       add a local GGUF or whisper.cpp model file
  list              list the data dir's models
  info NAME         show one model as JSON
  rm NAME           remove a model
  catalog           list the models pull knows by name
  testgen           write a random-weight model for tests and benchmarks

Every command but testgen takes --data DIR (default ./data, the node's default).
`)
		if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
			return flag.ErrHelp
		}
		return fmt.Errorf("models: unknown command %q", args[0])
	}
	return subs[args[0]](ctx, args[1:], stdout, stderr)
}

// openRegistry opens the registry of a data dir with every validator this
// binary has: GGUF (built in) and whisper.cpp files.
func openRegistry(data string) (*registry.Registry, error) {
	return registry.Open(data, registry.Options{Inspect: map[registry.Format]registry.InspectFunc{
		registry.FormatWhisper: inspectWhisper,
	}})
}

// openExistingRegistry is openRegistry for commands that only read or
// remove: a mistyped --data must not create an empty data directory and
// answer that it holds no models.
func openExistingRegistry(data string) (*registry.Registry, error) {
	if _, err := os.Stat(data); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no data directory %s (a node creates it on first start; --data names another)", data)
	}
	return openRegistry(data)
}

// resolveModelFile maps a --model value to a file: an existing file is used
// as is, a name is looked up in the data dir's registry, and no name at all
// means the data dir's only model of that kind.
func resolveModelFile(name, data string, kind registry.Kind) (string, error) {
	if name != "" {
		if st, err := os.Stat(name); err == nil && st.Mode().IsRegular() {
			return name, nil
		}
	}
	// Only a data dir that exists is searched: a command that cannot find
	// its model must not leave an empty one behind.
	if _, err := os.Stat(data); err != nil {
		if name == "" {
			return "", fmt.Errorf("no --model, and no data directory %s to find one in", data)
		}
		return "", fmt.Errorf("model %q is not a file, and there is no data directory %s to look it up in", name, data)
	}
	reg, err := openRegistry(data)
	if err != nil {
		return "", err
	}
	if name == "" {
		names, err := reg.Names(kind)
		if err != nil {
			return "", err
		}
		switch len(names) {
		case 0:
			return "", fmt.Errorf("no %s model in %s: pass --model FILE, or 'outpost models pull' one (outpost models catalog)", kind, data)
		case 1:
			name = names[0]
		default:
			return "", fmt.Errorf("%d %s models in %s (%s): choose one with --model", len(names), kind, data, strings.Join(names, ", "))
		}
	}
	e, err := reg.Get(name)
	if err != nil {
		return "", fmt.Errorf("%w (not a file either; models in %s: outpost models list --data %s)", err, data, data)
	}
	if e.Kind != kind {
		return "", fmt.Errorf("model %q is a %s model, not %s", name, e.Kind, kind)
	}
	return e.Path, nil
}

func inspectWhisper(path string) (registry.Details, error) {
	info, err := whisper.Inspect(path)
	if err != nil {
		return registry.Details{}, err
	}
	return registry.Details{
		Architecture:  "whisper",
		Parameters:    uint64(info.Params),
		Quantization:  strings.ToUpper(info.Type),
		RandomWeights: info.RandomWeights,
		Extra:         map[string]string{"size": info.Size, "multilingual": fmt.Sprint(info.Multilingual)},
	}, nil
}

// parseArgs parses flags that may come before or after positional
// arguments (`pull NAME --data DIR` as well as `pull --data DIR NAME`).
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newFlags(name string, stderr io.Writer, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("outpost models "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: outpost models %s\n\nflags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

func modelsPull(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("pull", stderr, "pull NAME|URL [flags]")
	data := fs.String("data", "./data", "data directory")
	name := fs.String("name", "", "name to register the model under (default: catalog name or file name)")
	sum := fs.String("sha256", "", "expected SHA-256 (required for URLs and catalog entries without one)")
	noVerify := fs.Bool("no-verify", false, "accept a download that has no expected checksum")
	replace := fs.Bool("replace", false, "replace an existing model of the same name")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errors.New("models pull: want one NAME or URL")
	}
	reg, err := openRegistry(*data)
	if err != nil {
		return err
	}
	bar := newProgressBar(stderr)
	e, err := reg.Pull(ctx, pos[0], registry.PullOptions{
		Name: *name, SHA256: *sum, AllowUnverified: *noVerify, Replace: *replace, Progress: bar.update,
	})
	bar.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pulled %s (%s, %s, sha256 %s)\n", e.Name, e.Kind, formatSize(e.Size), e.SHA256)
	return nil
}

func modelsImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("import", stderr, "import FILE [flags]")
	data := fs.String("data", "./data", "data directory")
	name := fs.String("name", "", "name to register the model under (default: file name without extension)")
	replace := fs.Bool("replace", false, "replace an existing model of the same name")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errors.New("models import: want one FILE")
	}
	reg, err := openRegistry(*data)
	if err != nil {
		return err
	}
	e, err := reg.Import(ctx, pos[0], registry.ImportOptions{Name: *name, Replace: *replace})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %s (%s, %s, sha256 %s)\n", e.Name, e.Kind, formatSize(e.Size), e.SHA256)
	return nil
}

func modelsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("list", stderr, "list [flags]")
	data := fs.String("data", "./data", "data directory")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	reg, err := openExistingRegistry(*data)
	if err != nil {
		return err
	}
	list, err := reg.List()
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, listJSON(list))
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tARCH\tPARAMS\tQUANT\tSIZE\tADDED")
	for _, e := range list {
		arch := e.Details.Architecture
		if e.Details.RandomWeights {
			arch += " (random)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, e.Kind, arch, formatCount(e.Details.Parameters),
			e.Details.Quantization, formatSize(e.Size), e.Added.Local().Format(time.DateTime))
	}
	return tw.Flush()
}

type entryJSON struct {
	registry.Entry
	Path string `json:"path"`
}

func listJSON(list []registry.Entry) []entryJSON {
	out := make([]entryJSON, len(list))
	for i, e := range list {
		out[i] = entryJSON{e, e.Path}
	}
	return out
}

func modelsInfo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("info", stderr, "info NAME [flags]")
	data := fs.String("data", "./data", "data directory")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errors.New("models info: want one NAME")
	}
	reg, err := openExistingRegistry(*data)
	if err != nil {
		return err
	}
	e, err := reg.Get(pos[0])
	if err != nil {
		return err
	}
	return writeJSON(stdout, entryJSON{e, e.Path})
}

func modelsRemove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rm", stderr, "rm NAME... [flags]")
	data := fs.String("data", "./data", "data directory")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return errors.New("models rm: want a NAME")
	}
	reg, err := openExistingRegistry(*data)
	if err != nil {
		return err
	}
	for _, n := range pos {
		if err := reg.Remove(n); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %s\n", n)
	}
	return nil
}

func modelsCatalog(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("catalog", stderr, "catalog [--json]")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	cat := registry.Catalog()
	sort.SliceStable(cat, func(i, j int) bool { return cat[i].Format < cat[j].Format })
	if *asJSON {
		return writeJSON(stdout, cat)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tFORMAT\tCHECKSUM\tDESCRIPTION")
	for _, c := range cat {
		check := "sha256"
		switch {
		case c.SHA256 == "" && c.SHA1 != "":
			check = "sha1"
		case !c.Verified():
			check = "none (--sha256 needed)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, c.Format, check, c.Description)
	}
	return tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func formatCount(n uint64) string {
	switch {
	case n == 0:
		return "-"
	case n >= 1e9:
		return fmt.Sprintf("%.1fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1fK", float64(n)/1e3)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
