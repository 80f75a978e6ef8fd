package crdt

import (
	"fmt"

	"github.com/automerge/automerge-go"
)

// ApplyMergePatch applies an RFC 7386 JSON merge patch to the document's
// root map. A string written over an existing Text field becomes the
// minimal set of splices between the old and new text, so that edits made
// elsewhere in the same text on another device survive the merge. Everything
// else follows the RFC: null deletes a key, an object merges recursively
// (replacing a non-object), anything else replaces.
func ApplyMergePatch(doc *automerge.Doc, patch map[string]any) error {
	return mergeMap(doc.RootMap(), patch, 0)
}

func mergeMap(m *automerge.Map, patch map[string]any, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: nested deeper than %d", ErrBadContent, maxDepth)
	}
	for _, k := range sortedKeys(patch) {
		pv := patch[k]
		cur, err := m.Get(k)
		if err != nil {
			return err
		}
		switch x := pv.(type) {
		case nil:
			if cur.Kind() != automerge.KindVoid {
				if err := m.Delete(k); err != nil {
					return err
				}
			}
		case map[string]any:
			if cur.Kind() == automerge.KindMap {
				err = mergeMap(cur.Map(), x, depth+1)
			} else {
				err = setKey(m, k, withoutNulls(x), depth)
			}
			if err != nil {
				return err
			}
		case string:
			if cur.Kind() == automerge.KindText {
				if err := spliceText(cur.Text(), x); err != nil {
					return err
				}
				continue
			}
			if err := setKey(m, k, x, depth); err != nil {
				return err
			}
		default:
			if err := setKey(m, k, pv, depth); err != nil {
				return err
			}
		}
	}
	return nil
}

// withoutNulls is MergePatch({}, obj): a patch object written where no
// object was has its null members dropped, recursively.
func withoutNulls(obj map[string]any) map[string]any {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		switch x := v.(type) {
		case nil:
		case map[string]any:
			out[k] = withoutNulls(x)
		default:
			out[k] = v
		}
	}
	return out
}

func spliceText(t *automerge.Text, next string) error {
	old, err := t.Get()
	if err != nil {
		return err
	}
	if old == next {
		return nil
	}
	if err := validText(next); err != nil {
		return err
	}
	edits := diffText([]rune(old), []rune(next))
	// Apply from the end so earlier positions stay valid.
	for i := len(edits) - 1; i >= 0; i-- {
		e := edits[i]
		if err := t.Splice(e.pos, e.del, string(e.ins)); err != nil {
			return err
		}
	}
	return nil
}
