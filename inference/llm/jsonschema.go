package llm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// ValidateJSON checks that doc is one JSON value that satisfies schema. It
// implements the JSON Schema keywords that llama.cpp's schema-to-grammar
// converter enforces (type, properties, required, additionalProperties,
// items, prefixItems, minItems, maxItems, enum, const, minLength, maxLength,
// pattern, minimum, maximum, exclusiveMinimum, exclusiveMaximum, anyOf,
// oneOf, allOf), so a constrained generation can be checked independently
// of the grammar that produced it. Annotations (title, description,
// default, examples, format, $schema) are ignored; $ref is refused.
func ValidateJSON(schema json.RawMessage, doc []byte) error {
	var s any
	if err := json.Unmarshal(schema, &s); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("output is not JSON: %w", err)
	}
	if len(bytes.TrimSpace(doc[dec.InputOffset():])) > 0 {
		return errors.New("output has text after the JSON value")
	}
	return validate(s, v, "$")
}

// checkSchema rejects schemas the engine cannot enforce and validate.
func checkSchema(schema []byte) error {
	var s any
	if err := json.Unmarshal(schema, &s); err != nil {
		return err
	}
	if _, ok := s.(map[string]any); !ok {
		return errors.New("must be a JSON object")
	}
	// llama.cpp's converter names each rule after its whole path, so the
	// grammar grows with the square of the nesting: a deep schema costs
	// seconds and megabytes before it fails. Real schemas are shallow.
	if d := jsonDepth(s); d > maxSchemaDepth {
		return fmt.Errorf("nested %d levels deep (at most %d)", d, maxSchemaDepth)
	}
	if bytes.Contains(schema, []byte(`"$ref"`)) {
		return errors.New("$ref is not supported")
	}
	return walkObjects(s, "", func(m map[string]any, path string) error {
		if err := checkBounds(m, path); err != nil {
			return err
		}
		if err := checkRequired(m, path); err != nil {
			return err
		}
		return checkPatterns(m, path)
	})
}

// checkBounds refuses a schema that no value can satisfy because a lower
// bound is above its upper bound: generation would be forced into output
// that fails validation (or, for strings, hang llama.cpp's grammar parser).
func checkBounds(m map[string]any, path string) error {
	for _, b := range [][2]string{{"minLength", "maxLength"}, {"minItems", "maxItems"}, {"minProperties", "maxProperties"}, {"minimum", "maximum"}} {
		lo, okLo := num(m[b[0]])
		hi, okHi := num(m[b[1]])
		if okLo && okHi && lo > hi {
			return fmt.Errorf("%s %g is above %s %g at %s: no value fits", b[0], lo, b[1], hi, pathOrRoot(path))
		}
	}
	return nil
}

// checkRequired refuses an object schema that requires a property it does
// not define. llama.cpp's converter builds an object's grammar from its
// properties alone and drops such a name, so generation could only produce
// output that fails validation. Inside allOf the converter merges the
// components' properties and makes them all required itself, so those are
// left alone.
func checkRequired(m map[string]any, path string) error {
	req, ok := m["required"].([]any)
	if !ok || strings.Contains(path, "/allOf/") {
		return nil
	}
	props, hasProps := m["properties"].(map[string]any)
	if !hasProps && m["type"] != "object" {
		return nil
	}
	for _, r := range req {
		name, ok := r.(string)
		if !ok {
			continue
		}
		if _, ok := props[name]; !ok {
			return fmt.Errorf("required property %q is not among the properties at %s: the grammar cannot produce it (define it under properties)", name, pathOrRoot(path))
		}
	}
	return nil
}

// walkObjects calls fn on every JSON object in v, depth first in key
// order, with its path ("/properties/code"), and stops at the first error.
func walkObjects(v any, path string, fn func(m map[string]any, path string) error) error {
	switch v := v.(type) {
	case map[string]any:
		if err := fn(v, path); err != nil {
			return err
		}
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if err := walkObjects(v[k], path+"/"+k, fn); err != nil {
				return err
			}
		}
	case []any:
		for i, sub := range v {
			if err := walkObjects(sub, fmt.Sprintf("%s/%d", path, i), fn); err != nil {
				return err
			}
		}
	}
	return nil
}

func pathOrRoot(p string) string {
	if p == "" {
		return "the root"
	}
	return p
}

// maxSchemaDepth bounds the JSON nesting of a schema (checkSchema).
const maxSchemaDepth = 32

// jsonDepth is the nesting depth of a decoded JSON value: 0 for a scalar.
func jsonDepth(v any) int {
	d := 0
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			d = max(d, jsonDepth(e))
		}
	case []any:
		for _, e := range x {
			d = max(d, jsonDepth(e))
		}
	default:
		return 0
	}
	return d + 1
}

func validate(schema, v any, path string) error {
	s, ok := schema.(map[string]any)
	if !ok {
		if b, isBool := schema.(bool); isBool {
			if !b {
				return fmt.Errorf("%s: not allowed by schema false", path)
			}
			return nil
		}
		return fmt.Errorf("%s: schema is not an object", path)
	}
	if t, ok := s["type"]; ok {
		if err := checkType(t, v, path); err != nil {
			return err
		}
	}
	if e, ok := s["enum"].([]any); ok {
		if !slices.ContainsFunc(e, func(x any) bool { return jsonEqual(x, v) }) {
			return fmt.Errorf("%s: %v is not one of the enum values", path, v)
		}
	}
	if c, ok := s["const"]; ok && !jsonEqual(c, v) {
		return fmt.Errorf("%s: %v is not the const %v", path, v, c)
	}
	for _, key := range []string{"allOf", "anyOf", "oneOf"} {
		subs, ok := s[key].([]any)
		if !ok {
			continue
		}
		n := 0
		var firstErr error
		for _, sub := range subs {
			if err := validate(sub, v, path); err == nil {
				n++
			} else if firstErr == nil {
				firstErr = err
			}
		}
		switch {
		case key == "allOf" && n != len(subs):
			return firstErr
		case key == "anyOf" && n == 0:
			return fmt.Errorf("%s: matches none of anyOf: %w", path, firstErr)
		case key == "oneOf" && n != 1:
			return fmt.Errorf("%s: matches %d of oneOf, want exactly 1", path, n)
		}
	}
	switch x := v.(type) {
	case map[string]any:
		return validateObject(s, x, path)
	case []any:
		return validateArray(s, x, path)
	case string:
		n := utf8.RuneCountInString(x)
		if m, ok := num(s["minLength"]); ok && float64(n) < m {
			return fmt.Errorf("%s: string of %d characters, minLength %v", path, n, m)
		}
		if m, ok := num(s["maxLength"]); ok && float64(n) > m {
			return fmt.Errorf("%s: string of %d characters, maxLength %v", path, n, m)
		}
		if p, ok := s["pattern"].(string); ok {
			re, err := regexp.Compile(p)
			if err != nil {
				return fmt.Errorf("%s: pattern %q: %w", path, p, err)
			}
			if !re.MatchString(x) {
				return fmt.Errorf("%s: %q does not match %q", path, x, p)
			}
		}
	case json.Number:
		f, _ := x.Float64()
		if m, ok := num(s["minimum"]); ok && f < m {
			return fmt.Errorf("%s: %v < minimum %v", path, x, m)
		}
		if m, ok := num(s["maximum"]); ok && f > m {
			return fmt.Errorf("%s: %v > maximum %v", path, x, m)
		}
		if m, ok := num(s["exclusiveMinimum"]); ok && f <= m {
			return fmt.Errorf("%s: %v <= exclusiveMinimum %v", path, x, m)
		}
		if m, ok := num(s["exclusiveMaximum"]); ok && f >= m {
			return fmt.Errorf("%s: %v >= exclusiveMaximum %v", path, x, m)
		}
	}
	return nil
}

func validateObject(s map[string]any, obj map[string]any, path string) error {
	props, _ := s["properties"].(map[string]any)
	if req, ok := s["required"].([]any); ok {
		for _, r := range req {
			if name, _ := r.(string); name != "" {
				if _, ok := obj[name]; !ok {
					return fmt.Errorf("%s: missing required property %q", path, name)
				}
			}
		}
	}
	for k, val := range obj {
		p := path + "." + k
		if sub, ok := props[k]; ok {
			if err := validate(sub, val, p); err != nil {
				return err
			}
			continue
		}
		switch ap := s["additionalProperties"].(type) {
		case bool:
			if !ap {
				return fmt.Errorf("%s: property not allowed", p)
			}
		case map[string]any:
			if err := validate(ap, val, p); err != nil {
				return err
			}
		}
	}
	return nil
}

func validateArray(s map[string]any, arr []any, path string) error {
	if m, ok := num(s["minItems"]); ok && float64(len(arr)) < m {
		return fmt.Errorf("%s: %d items, minItems %v", path, len(arr), m)
	}
	if m, ok := num(s["maxItems"]); ok && float64(len(arr)) > m {
		return fmt.Errorf("%s: %d items, maxItems %v", path, len(arr), m)
	}
	prefix, _ := s["prefixItems"].([]any)
	for i, item := range arr {
		p := fmt.Sprintf("%s[%d]", path, i)
		var sub any
		if i < len(prefix) {
			sub = prefix[i]
		} else if it, ok := s["items"]; ok {
			sub = it
		} else {
			continue
		}
		if err := validate(sub, item, p); err != nil {
			return err
		}
	}
	return nil
}

func checkType(t, v any, path string) error {
	var types []string
	switch x := t.(type) {
	case string:
		types = []string{x}
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok {
				types = append(types, s)
			}
		}
	}
	for _, want := range types {
		if isType(want, v) {
			return nil
		}
	}
	return fmt.Errorf("%s: %s is not of type %s", path, kind(v), strings.Join(types, "|"))
}

func isType(want string, v any) bool {
	switch x := v.(type) {
	case nil:
		return want == "null"
	case bool:
		return want == "boolean"
	case string:
		return want == "string"
	case []any:
		return want == "array"
	case map[string]any:
		return want == "object"
	case json.Number:
		if want == "number" {
			return true
		}
		if want == "integer" {
			f, err := x.Float64()
			return err == nil && f == math.Trunc(f)
		}
	}
	return false
}

func kind(v any) string {
	for _, k := range []string{"null", "boolean", "string", "array", "object", "integer", "number"} {
		if isType(k, v) {
			return k
		}
	}
	return fmt.Sprintf("%T", v)
}

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// jsonEqual compares a schema value (decoded with float64 numbers) with a
// document value (decoded with json.Number).
func jsonEqual(a, b any) bool {
	na, okA := num(a)
	nb, okB := num(b)
	if okA || okB {
		return okA && okB && na == nb
	}
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, e := range x {
			if !jsonEqual(e, y[k]) {
				return false
			}
		}
		return true
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	}
	return false
}
