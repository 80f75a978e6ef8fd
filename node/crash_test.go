package node

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// nodeProcess is a node running as a child process (this test binary,
// re-executed through TestMain).
type nodeProcess struct {
	cmd *exec.Cmd
	url string
}

func startNodeProcess(t *testing.T, dir string) *nodeProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "OUTPOST_TEST_NODE_DATA="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "LISTEN ") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("node did not start: %q %v\nstderr:\n%s", line, err, stderr.String())
	}
	return &nodeProcess{cmd: cmd, url: strings.TrimSpace(strings.TrimPrefix(line, "LISTEN "))}
}

func (p *nodeProcess) kill9() {
	p.cmd.Process.Signal(os.Kill)
	p.cmd.Wait()
}

// ack is one write the node acknowledged.
type ack struct {
	doc, key string
	val      float64
}

// TestCrashKeepsAcknowledgedWrites runs a node as a subprocess, writes to it
// from several clients while recording every acknowledged write, kill -9s it
// at random moments, restarts it and checks that every acknowledged write
// is there and the store opens cleanly.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	const kills = 22
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)
	dir := t.TempDir()
	var (
		mu    sync.Mutex
		acks  []ack
		owned = map[int][]string{} // writer -> docs it created
	)
	client := &http.Client{Timeout: 5 * time.Second}
	for round := 0; round <= kills; round++ {
		p := startNodeProcess(t, dir)
		verifyAcks(t, client, p.url, acks, round)
		if round == kills {
			p.kill9()
			break
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(w int, r *rand.Rand) {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					mu.Lock()
					docs := owned[w]
					mu.Unlock()
					key := fmt.Sprintf("r%d_w%d_%d", round, w, i)
					if len(docs) == 0 || r.Intn(4) == 0 {
						id, ok := postDoc(client, p.url, key, float64(i))
						if !ok {
							return
						}
						mu.Lock()
						owned[w] = append(owned[w], id)
						acks = append(acks, ack{id, key, float64(i)})
						mu.Unlock()
						continue
					}
					id := docs[r.Intn(len(docs))]
					if !patchDoc(client, p.url, id, key, float64(i)) {
						return
					}
					mu.Lock()
					acks = append(acks, ack{id, key, float64(i)})
					mu.Unlock()
				}
			}(w, rand.New(rand.NewSource(rng.Int63())))
		}
		time.Sleep(time.Duration(10+rng.Intn(150)) * time.Millisecond) // a random moment to crash at
		p.kill9()
		close(stop)
		wg.Wait()
	}
	if len(acks) < kills*5 {
		t.Fatalf("only %d writes acknowledged over %d runs: the test did not exercise the node", len(acks), kills)
	}
	t.Logf("%d acknowledged writes survived %d kill -9s", len(acks), kills)
}

func postDoc(c *http.Client, url, key string, v float64) (string, bool) {
	body := fmt.Sprintf(`{"type": "crash", "collection": "crash:test", "content": {%q: %v}}`, key, v)
	resp, err := c.Post(url+"/api/v1/docs", "application/json", strings.NewReader(body))
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	var d struct {
		ID string `json:"id"`
	}
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&d) != nil {
		return "", false
	}
	return d.ID, true
}

func patchDoc(c *http.Client, url, id, key string, v float64) bool {
	req, _ := http.NewRequest("PATCH", url+"/api/v1/docs/"+id, strings.NewReader(fmt.Sprintf(`{%q: %v}`, key, v)))
	req.Header.Set("Content-Type", mergePatch)
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func verifyAcks(t *testing.T, c *http.Client, url string, acks []ack, round int) {
	t.Helper()
	byDoc := map[string][]ack{}
	for _, a := range acks {
		byDoc[a.doc] = append(byDoc[a.doc], a)
	}
	for id, as := range byDoc {
		resp, err := c.Get(url + "/api/v1/docs/" + id)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Content map[string]any `json:"content"`
		}
		err = json.NewDecoder(resp.Body).Decode(&d)
		resp.Body.Close()
		if resp.StatusCode != 200 || err != nil {
			t.Fatalf("restart %d: acknowledged document %s: status %d, %v", round, id, resp.StatusCode, err)
		}
		for _, a := range as {
			if d.Content[a.key] != a.val {
				t.Fatalf("restart %d: acknowledged write %s=%v to %s lost (content %v)", round, a.key, a.val, id, d.Content)
			}
		}
	}
}

// TestJobSurvivesKill9 submits a job, kill -9s the node while the job runs
// (after it wrote its result), restarts, and checks the job finishes once
// with exactly one result document.
func TestJobSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	client := &http.Client{Timeout: 5 * time.Second}
	p := startNodeProcess(t, dir)
	resp, err := client.Post(p.url+"/api/v1/jobs", "application/json", strings.NewReader(`{"kind": "slow-result", "input": {"first_attempt_ms": 60000}}`))
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	json.NewDecoder(resp.Body).Decode(&j)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || j.State != "queued" {
		t.Fatalf("submit: %d %+v", resp.StatusCode, j)
	}
	// Wait until the result document exists: the job is mid-run.
	for i := 0; ; i++ {
		r, err := client.Get(p.url + "/api/v1/docs?type=result")
		if err != nil {
			t.Fatal(err)
		}
		var l struct {
			Docs []any `json:"docs"`
		}
		json.NewDecoder(r.Body).Decode(&l)
		r.Body.Close()
		if len(l.Docs) == 1 {
			break
		}
		if i > 500 {
			t.Fatal("job never started")
		}
		time.Sleep(10 * time.Millisecond) // polling another process's state
	}
	p.kill9()

	// After the restart the job is requeued and, on its second attempt,
	// finishes at once, reusing the result document of the first.
	p = startNodeProcess(t, dir)
	defer p.kill9()
	var got struct {
		State    string `json:"state"`
		Attempts int    `json:"attempts"`
		Result   string `json:"result"`
	}
	for i := 0; ; i++ {
		r, err := client.Get(p.url + "/api/v1/jobs/" + j.ID)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(r.Body).Decode(&got)
		r.Body.Close()
		if got.State == "done" {
			break
		}
		if i > 500 {
			t.Fatalf("job after restart: %+v", got)
		}
		time.Sleep(10 * time.Millisecond) // polling another process's state
	}
	r, _ := client.Get(p.url + "/api/v1/docs?type=result")
	var l struct {
		Docs []struct {
			ID string `json:"id"`
		} `json:"docs"`
	}
	json.NewDecoder(r.Body).Decode(&l)
	r.Body.Close()
	if got.Attempts != 2 || len(l.Docs) != 1 || l.Docs[0].ID != got.Result {
		t.Fatalf("after restart: job %+v, result documents %+v; want 2 attempts and exactly one result", got, l.Docs)
	}
}
