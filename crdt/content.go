package crdt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/automerge/automerge-go"
)

// Document bodies as JSON.
//
// The JSON "content" of a document is its Automerge root map, so that an
// automerge-repo client sees the same fields at the top level. JSON strings
// become Automerge Text (as automerge-js 2.x does), which lets two people
// edit the same note body and keep both edits. Numbers that are integers
// become int64, others float64.

// ErrBadContent is returned for JSON that cannot be a document body.
var ErrBadContent = errors.New("invalid document content")

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 64

// DecodeJSON parses a JSON object for use as content or a merge patch,
// keeping numbers exact.
func DecodeJSON(b []byte) (map[string]any, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadContent, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after JSON value", ErrBadContent)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: must be a JSON object", ErrBadContent)
	}
	return obj, nil
}

// SetContent writes every field of obj into the document's root map.
func SetContent(doc *automerge.Doc, obj map[string]any) error {
	return fillMap(doc.RootMap(), obj, 0)
}

func fillMap(m *automerge.Map, obj map[string]any, depth int) error {
	for _, k := range sortedKeys(obj) {
		if err := setKey(m, k, obj[k], depth); err != nil {
			return err
		}
	}
	return nil
}

func setKey(m *automerge.Map, k string, v any, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: nested deeper than %d", ErrBadContent, maxDepth)
	}
	if !utf8.ValidString(k) {
		return fmt.Errorf("%w: key is not valid UTF-8", ErrBadContent)
	}
	switch x := v.(type) {
	case map[string]any:
		if err := m.Set(k, automerge.NewMap()); err != nil {
			return err
		}
		child, err := m.Get(k)
		if err != nil {
			return err
		}
		return fillMap(child.Map(), x, depth+1)
	case []any:
		if err := m.Set(k, automerge.NewList()); err != nil {
			return err
		}
		child, err := m.Get(k)
		if err != nil {
			return err
		}
		return fillList(child.List(), x, depth+1)
	case string:
		if !utf8.ValidString(x) {
			return fmt.Errorf("%w: %q is not valid UTF-8", ErrBadContent, k)
		}
		return m.Set(k, automerge.NewText(x))
	default:
		s, err := scalar(v)
		if err != nil {
			return fmt.Errorf("%w: field %q: %v", ErrBadContent, k, err)
		}
		return m.Set(k, s)
	}
}

func fillList(l *automerge.List, items []any, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: nested deeper than %d", ErrBadContent, maxDepth)
	}
	for i, v := range items {
		var err error
		switch x := v.(type) {
		case map[string]any:
			if err = l.Append(automerge.NewMap()); err == nil {
				var child *automerge.Value
				if child, err = l.Get(i); err == nil {
					err = fillMap(child.Map(), x, depth+1)
				}
			}
		case []any:
			if err = l.Append(automerge.NewList()); err == nil {
				var child *automerge.Value
				if child, err = l.Get(i); err == nil {
					err = fillList(child.List(), x, depth+1)
				}
			}
		case string:
			if !utf8.ValidString(x) {
				return fmt.Errorf("%w: list item %d is not valid UTF-8", ErrBadContent, i)
			}
			err = l.Append(automerge.NewText(x))
		default:
			var s any
			if s, err = scalar(v); err != nil {
				return fmt.Errorf("%w: list item %d: %v", ErrBadContent, i, err)
			}
			err = l.Append(s)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func scalar(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case bool:
		return x, nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("number %s out of range", x)
		}
		return f, nil
	case float64:
		return x, nil
	case int64, int, uint64:
		return x, nil
	}
	return nil, fmt.Errorf("unsupported value of type %T", v)
}

// Content returns the document's root map as JSON-ready Go values.
func Content(doc *automerge.Doc) (map[string]any, error) {
	v, err := toJSON(doc.Root(), 0)
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

func toJSON(v *automerge.Value, depth int) (any, error) {
	if depth > maxDepth*2 {
		return nil, fmt.Errorf("%w: nested too deep", ErrBadContent)
	}
	switch v.Kind() {
	case automerge.KindMap:
		vals, err := v.Map().Values()
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(vals))
		for k, child := range vals {
			if out[k], err = toJSON(child, depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	case automerge.KindList:
		vals, err := v.List().Values()
		if err != nil {
			return nil, err
		}
		out := make([]any, len(vals))
		for i, child := range vals {
			if out[i], err = toJSON(child, depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	case automerge.KindText:
		return v.Text().Get()
	case automerge.KindStr:
		return v.Str(), nil
	case automerge.KindInt64:
		return v.Int64(), nil
	case automerge.KindUint64:
		return v.Uint64(), nil
	case automerge.KindFloat64:
		return v.Float64(), nil
	case automerge.KindBool:
		return v.Bool(), nil
	case automerge.KindBytes:
		return v.Bytes(), nil // base64 in JSON
	case automerge.KindTime:
		return v.Time().UTC().Format(time.RFC3339Nano), nil
	case automerge.KindCounter:
		return v.Counter().Get()
	case automerge.KindNull, automerge.KindVoid:
		return nil, nil
	}
	return nil, nil // unknown kinds from newer peers read as null
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func validText(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: text is not valid UTF-8", ErrBadContent)
	}
	return nil
}
