package llm

import (
	"encoding/json"
	"testing"
)

func TestValidateJSON(t *testing.T) {
	schema := json.RawMessage(noteSchema)
	tests := []struct {
		doc string
		ok  bool
	}{
		{`{"subjective":"ok","severity":3,"urgent":false,"kind":"visit","codes":["A1"]}`, true},
		{`{"subjective":"ok","severity":3,"urgent":false,"kind":"visit","codes":[]}  `, true},
		{`{"subjective":"ok","severity":11,"urgent":false,"kind":"visit","codes":[]}`, false},
		{`{"subjective":"ok","severity":3.5,"urgent":false,"kind":"visit","codes":[]}`, false},
		{`{"subjective":"ok","severity":3,"urgent":"no","kind":"visit","codes":[]}`, false},
		{`{"subjective":"ok","severity":3,"urgent":false,"kind":"email","codes":[]}`, false},
		{`{"subjective":"ok","severity":3,"urgent":false,"kind":"visit","codes":["A","B","C"]}`, false},
		{`{"subjective":"much too long a note","severity":3,"urgent":false,"kind":"visit","codes":[]}`, false},
		{`{"severity":3,"urgent":false,"kind":"visit","codes":[]}`, false},
		{`{"subjective":"ok","severity":3,"urgent":false,"kind":"visit","codes":[],"extra":1}`, false},
		{`{"subjective":"ok"`, false},
		{`{"subjective":"ok","severity":3,"urgent":false,"kind":"visit","codes":[]} trailing`, false},
	}
	for _, tc := range tests {
		if err := ValidateJSON(schema, []byte(tc.doc)); (err == nil) != tc.ok {
			t.Errorf("ValidateJSON(%s) = %v, want ok=%v", tc.doc, err, tc.ok)
		}
	}
	combo := json.RawMessage(`{"anyOf":[{"type":"string","pattern":"^[a-z]+$"},{"type":"null"}],"oneOf":[{"const":"abc"},{"type":"null"}]}`)
	for doc, ok := range map[string]bool{`"abc"`: true, `null`: true, `"ABC"`: false, `"xyz"`: false, `[1]`: false} {
		if err := ValidateJSON(combo, []byte(doc)); (err == nil) != ok {
			t.Errorf("combo %s: %v, want ok=%v", doc, err, ok)
		}
	}
}
