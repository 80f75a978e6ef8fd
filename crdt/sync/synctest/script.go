package synctest

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// A script is a sequence of blocks:
//
//	# comments
//	command arg1 key=value key2=v1,v2
//	----
//	expected output, one or more lines
//
// separated by blank lines. RunScript runs each command and compares its
// output; with rewrite it writes the actual output back instead.

// Cmd is one parsed command line.
type Cmd struct {
	Name string
	Pos  []string
	Args map[string]string
	Line int
}

// Arg returns a key=value argument or def.
func (c *Cmd) Arg(key, def string) string {
	if v, ok := c.Args[key]; ok {
		return v
	}
	return def
}

// Has reports whether a bare word or key is present.
func (c *Cmd) Has(key string) bool {
	if _, ok := c.Args[key]; ok {
		return true
	}
	for _, p := range c.Pos {
		if p == key {
			return true
		}
	}
	return false
}

type block struct {
	comments []string
	cmd      string
	line     int
	want     string
}

func parseScript(text string) ([]block, error) {
	lines := strings.Split(text, "\n")
	var blocks []block
	var cur block
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.TrimSpace(l) == "":
			continue
		case strings.HasPrefix(l, "#"):
			cur.comments = append(cur.comments, l)
			continue
		}
		cur.cmd, cur.line = l, i+1
		if i+1 >= len(lines) || lines[i+1] != "----" {
			return nil, fmt.Errorf("line %d: command without ---- separator", i+1)
		}
		i += 2
		var out []string
		for ; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
			out = append(out, lines[i])
		}
		cur.want = strings.Join(out, "\n")
		blocks = append(blocks, cur)
		cur = block{}
	}
	return blocks, nil
}

func parseCmd(line string, n int) *Cmd {
	c := &Cmd{Args: map[string]string{}, Line: n}
	fields := strings.Fields(line)
	c.Name = fields[0]
	for _, f := range fields[1:] {
		if k, v, ok := strings.Cut(f, "="); ok {
			c.Args[k] = v
		} else {
			c.Pos = append(c.Pos, f)
		}
	}
	return c
}

// RunScript runs the script at path against a fresh handler.
func RunScript(t *testing.T, path string, rewrite bool, handle func(c *Cmd) (string, error)) {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := parseScript(string(text))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out strings.Builder
	for _, b := range blocks {
		got, err := handle(parseCmd(b.cmd, b.line))
		if err != nil {
			got = "error: " + err.Error()
		}
		got = strings.TrimRight(got, "\n")
		if got == "" {
			got = "ok"
		}
		if !rewrite && got != b.want {
			t.Errorf("%s:%d: %s\ngot:\n%s\nwant:\n%s", path, b.line, b.cmd, got, b.want)
		}
		for _, c := range b.comments {
			out.WriteString(c + "\n")
		}
		fmt.Fprintf(&out, "%s\n----\n%s\n\n", b.cmd, got)
	}
	if rewrite {
		if err := os.WriteFile(path, []byte(strings.TrimRight(out.String(), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
