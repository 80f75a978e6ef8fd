package web_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/automerge/automerge-go"
	"github.com/outposthq/outpost/crdt"
	"github.com/outposthq/outpost/node"
)

type history struct {
	Changes []struct {
		Message string `json:"message"`
	} `json:"changes"`
}

// A note made through the API shows in the list, opens readably, and an
// edit made in the page's edit box lands as a splice of that one Text field.
func TestDocumentOpenAndEdit(t *testing.T) {
	n, _ := startNode(t, node.Config{})
	d := createDoc(t, n, "note", "clinic:a", map[string]any{
		"subjective": "Cough for 3 days.",
		"plan":       "Paracetamol 500 mg.",
		"temp":       38.5,
		"meds":       []any{"paracetamol"},
	})
	p := openPage(t, n.URL())
	p.goTo("#/docs")
	p.waitJS("the note in the list", fmt.Sprintf(`document.querySelector('#docs tr[data-doc-id=%s] a') !== null`, jsString(d.ID)))
	p.click(fmt.Sprintf(`#docs tr[data-doc-id="%s"] a`, d.ID))
	p.waitText("#doc-title", "Note · clinic:a")
	for field, want := range map[string]string{"subjective": "Cough for 3 days.", "plan": "Paracetamol 500 mg.", "temp": "38.5", "meds": "paracetamol"} {
		if got := p.text(fmt.Sprintf(`#doc-content [data-field="%s"]`, field)); !strings.Contains(got, want) {
			t.Errorf("field %s shows %q, want %q in it", field, got, want)
		}
	}
	p.waitJS("one change in the history", `document.querySelectorAll("#doc-history tbody tr").length === 1`)

	p.click("#doc-edit-open")
	p.waitJS("the edit box", `document.querySelector("#edit-subjective") !== null && !document.querySelector("#doc-edit").hidden`)
	if got := p.strings(`Array.from(document.querySelectorAll("#doc-edit textarea")).map(t => t.name)`); !reflect.DeepEqual(got, []string{"subjective", "plan"}) {
		t.Errorf("edit box offers %q, want the text fields subjective and plan (SOAP order)", got)
	}
	p.typeInto("#edit-subjective", "Dry cough for 3 days, worse at night.")
	p.typeInto(`#doc-edit input[name="message"]`, "clarify cough — Dr. Müller")
	p.click(`#doc-edit button[type="submit"]`)
	p.waitText("#notice", "Saved.")
	p.waitText(`#doc-content [data-field="subjective"]`, "Dry cough for 3 days, worse at night.")
	p.waitJS("two changes in the history", `document.querySelectorAll("#doc-history tbody tr").length === 2`)
	p.noAlerts()

	after := getDoc(t, n, d.ID)
	want := map[string]any{"subjective": "Dry cough for 3 days, worse at night.", "plan": "Paracetamol 500 mg.", "temp": 38.5, "meds": []any{"paracetamol"}}
	if !reflect.DeepEqual(after.Content, want) {
		t.Errorf("content after the edit = %v, want %v", after.Content, want)
	}
	if reflect.DeepEqual(after.Heads, d.Heads) {
		t.Error("heads did not move")
	}
	var h history
	call(t, "GET", n.URL()+"/api/v1/docs/"+d.ID+"/history", "", "", &h)
	if len(h.Changes) != 2 || h.Changes[1].Message != "clarify cough — Dr. Müller" {
		t.Errorf("history = %+v, want create then %q", h, "clarify cough — Dr. Müller")
	}
	// A splice keeps the field a Text (a replacement by a plain string
	// would lose concurrent edits from other devices).
	id, _ := crdt.ParseDocID(d.ID)
	err := n.Store().View(context.Background(), id, func(doc *automerge.Doc, _ crdt.Meta) error {
		v, err := doc.RootMap().Get("subjective")
		if err != nil {
			return err
		}
		if v.Kind() != automerge.KindText {
			t.Errorf("subjective is %v after the edit, want Text", v.Kind())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Another device edits the same text while the box is open: edits to
// different words are both kept; edits to the same words are not
// overwritten without asking.
func TestDocumentEditMergesConcurrentEdit(t *testing.T) {
	n, _ := startNode(t, node.Config{})
	d := createDoc(t, n, "note", "clinic:a", map[string]any{"text": "Patient has a cough. Seen today."})
	elsewhere := func(text string) {
		t.Helper()
		body := fmt.Sprintf(`{"text": %s}`, jsString(text))
		if st := call(t, "PATCH", n.URL()+"/api/v1/docs/"+d.ID, "application/merge-patch+json", body, nil); st != 200 {
			t.Fatalf("PATCH from elsewhere: %d", st)
		}
	}
	p := openPage(t, n.URL())
	p.goTo("#/doc/" + d.ID)
	p.waitText("#doc-title", "Note")
	p.click("#doc-edit-open")
	p.waitJS("the edit box", `document.querySelector("#edit-text") !== null`)
	elsewhere("Patient has a cough. Seen today by nurse Achieng.")
	p.typeInto("#edit-text", "Patient has a dry cough. Seen today.")
	p.click(`#doc-edit button[type="submit"]`)
	p.waitText("#notice", "Saved.")
	p.noAlerts()
	if got := getDoc(t, n, d.ID).Content["text"]; got != "Patient has a dry cough. Seen today by nurse Achieng." {
		t.Fatalf("merged text = %q", got)
	}

	// Same words: the page must ask, and a second save keeps the box.
	p.click("#doc-edit-open")
	p.waitJS("the edit box", `document.querySelector("#edit-text") !== null && !document.querySelector("#doc-edit").hidden`)
	elsewhere("Patient has a wet cough. Seen today by nurse Achieng.")
	p.typeInto("#edit-text", "Patient has a productive cough. Seen today by nurse Achieng.")
	p.click(`#doc-edit button[type="submit"]`)
	p.waitText("#alerts", "changed on another device")
	p.waitText("#edit-text-theirs", "wet cough")
	if got := getDoc(t, n, d.ID).Content["text"]; got != "Patient has a wet cough. Seen today by nurse Achieng." {
		t.Fatalf("a conflicting save went through: text = %q", got)
	}
	p.click(`#doc-edit button[type="submit"]`)
	p.waitText("#notice", "Saved.")
	if got := getDoc(t, n, d.ID).Content["text"]; got != "Patient has a productive cough. Seen today by nurse Achieng." {
		t.Fatalf("after confirming, text = %q", got)
	}
	p.waitJS("the alert to clear", `document.querySelector("#alerts").hidden`)
}

// Filters narrow the list and paging walks every document exactly once.
func TestDocumentListFilterAndPaging(t *testing.T) {
	n, _ := startNode(t, node.Config{})
	var all []string
	for i := range 105 {
		all = append(all, createDoc(t, n, "note", "clinic:a", map[string]any{"text": fmt.Sprint("note ", i)}).ID)
	}
	var transcripts []string
	for i := range 6 {
		id := createDoc(t, n, "transcript", "vessel:aurora", map[string]any{"text": fmt.Sprint("log ", i)}).ID
		transcripts = append(transcripts, id)
		all = append(all, id)
	}
	p := openPage(t, n.URL())
	p.goTo("#/docs")
	rows := func() []string {
		return p.strings(`Array.from(document.querySelectorAll("#docs tbody tr[data-doc-id]")).map(r => r.dataset.docId)`)
	}
	column := func(i int) []string {
		return p.strings(fmt.Sprintf(`Array.from(document.querySelectorAll("#docs tbody tr[data-doc-id] td:nth-child(%d)")).map(td => td.textContent)`, i))
	}
	p.waitText("#docs-page", "Page 1 · documents 1–50")
	page1 := rows()
	if len(page1) != 50 || page1[0] != transcripts[5] {
		t.Fatalf("page 1 has %d rows starting with %v, want 50 newest first", len(page1), page1[:1])
	}
	if docs := column(4); docs[0] != "log 5" || docs[1] != "log 4" {
		t.Errorf("document column starts %q, want the documents' words", docs[:2])
	}
	p.click("#docs-next")
	p.waitText("#docs-page", "Page 2 · documents 51–100")
	page2 := rows()
	p.click("#docs-next")
	p.waitText("#docs-page", "Page 3 · documents 101–111")
	page3 := rows()
	if len(page3) != 11 || p.eval(`document.querySelector("#docs-next").disabled`) != true {
		t.Fatalf("last page: %d rows, next enabled = %v", len(page3), p.eval(`!document.querySelector("#docs-next").disabled`))
	}
	p.click("#docs-prev")
	p.waitText("#docs-page", "Page 2")
	if again := rows(); !reflect.DeepEqual(again, page2) {
		t.Errorf("page 2 differs when walked back to")
	}
	seen := slices.Concat(page1, page2, page3)
	slices.Sort(seen)
	want := slices.Clone(all)
	slices.Sort(want)
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("paging showed %d documents (%d distinct), want each of %d once", len(seen), len(slices.Compact(slices.Clone(seen))), len(want))
	}

	p.typeInto(`#doc-filter input[name="type"]`, "transcript")
	p.click(`#doc-filter button[type="submit"]`)
	p.waitJS("the type filter in the URL", `location.hash === "#/docs?type=transcript"`)
	p.waitText("#docs-page", "documents 1–6")
	if types := column(2); len(types) != 6 || slices.IndexFunc(types, func(s string) bool { return s != "transcript" }) >= 0 {
		t.Errorf("type filter shows types %q", types)
	}

	p.typeInto(`#doc-filter input[name="type"]`, "")
	p.typeInto(`#doc-filter input[name="collection"]`, "clinic:a")
	p.click(`#doc-filter button[type="submit"]`)
	p.waitJS("the collection filter in the URL", `location.hash === "#/docs?collection=clinic%3Aa"`)
	p.waitText("#docs-page", "documents 1–50")
	if colls := column(3); len(colls) != 50 || slices.IndexFunc(colls, func(s string) bool { return s != "clinic:a" }) >= 0 {
		t.Errorf("collection filter shows %q", colls)
	}
	if p.eval(`document.querySelector("#docs-next").disabled`) != false {
		t.Error("105 notes in clinic:a, but no next page")
	}

	p.typeInto(`#doc-filter input[name="type"]`, "diagnosis")
	p.click(`#doc-filter button[type="submit"]`)
	p.waitText("#docs tbody", "No documents match these filters.")
	p.noAlerts()
}

// Failed calls show the node's {"error": ...} text, and a node that stops
// answering shows as unreachable.
func TestAPIErrorsShown(t *testing.T) {
	n, stop := startNode(t, node.Config{Name: "ward-3"})
	p := openPage(t, n.URL())
	p.goTo("#/doc/not-an-id")
	p.waitText("#alerts", `invalid document id "not-an-id" (HTTP 400)`)
	p.waitText("#node-name", "ward-3")
	p.waitJS("the online indicator", `document.querySelector("#status").dataset.state === "online"`)

	missing := crdt.NewDocID().String()
	p.route("#/doc/" + missing)
	p.waitText("#alerts", "Opening document "+missing+" failed: document "+missing+": not found (HTTP 404)")

	// The form's own checks pass (the field is not empty); the node's do not.
	p.route("#/docs")
	p.click(".new-doc summary")
	p.typeInto(`#doc-new input[name="collection"]`, "   ")
	p.click(`#doc-new button[type="submit"]`)
	p.waitText("#alerts", `Creating the document failed: "type" and "collection" are required strings (HTTP 400)`)

	// A document created from the form opens.
	p.typeInto(`#doc-new input[name="collection"]`, "clinic:a")
	p.typeInto(`#doc-new textarea[name="text"]`, "Walk-in: headache since morning.")
	p.click(`#doc-new button[type="submit"]`)
	p.waitText(`#doc-content [data-field="text"]`, "Walk-in: headache since morning.")

	stop()
	p.click("#refresh")
	p.waitJS("the unreachable indicator", `document.querySelector("#status").dataset.state === "unreachable"`)
	p.waitText("#alerts", "cannot be reached")
}
