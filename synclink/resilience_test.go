package synclink

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/outposthq/outpost/crdt"
)

// flakyProxy forwards TCP to target and cuts every connection whenever
// told to, like a link that comes and goes.
type flakyProxy struct {
	l      net.Listener
	target string
	mu     gosync.Mutex
	conns  []net.Conn
}

func newFlakyProxy(t *testing.T, target string) *flakyProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &flakyProxy{l: l, target: target}
	go p.serve()
	t.Cleanup(func() { l.Close(); p.cut() })
	return p
}

func (p *flakyProxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go func() { io.Copy(u, c); u.Close() }()
		go func() { io.Copy(c, u); c.Close() }()
	}
}

func (p *flakyProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// A link that drops every few dozen milliseconds while both ends edit must
// lose nothing and end with identical documents.
func TestFlappingLink(t *testing.T) {
	server := newSide(t, "server", nil, true)
	a := newSide(t, "a", []string{"clinic:a"}, false)
	b := newSide(t, "b", []string{"clinic:a"}, false)
	proxy := newFlakyProxy(t, strings.TrimPrefix(server.srv.URL, "http://"))
	a.syncer.AddPeer("ws://"+proxy.l.Addr().String()+"/sync", server.token("clinic:a"))
	b.syncer.AddPeer(server.url(), server.token("clinic:a"))

	docs := []crdt.DocID{
		a.create("clinic:a", map[string]string{"title": "one"}),
		b.create("clinic:a", map[string]string{"title": "two"}),
	}
	b.waitFor("a's first doc on b", 10*time.Second, func() bool { return b.get(docs[0], "title") == "one" })
	a.waitFor("b's first doc on a", 10*time.Second, func() bool { return a.get(docs[1], "title") == "two" })

	stop := make(chan struct{})
	flapped := make(chan int)
	go func() {
		n := 0
		defer func() { flapped <- n }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(40 * time.Millisecond):
				proxy.cut()
				n++
			}
		}
	}()
	var keys []string
	pace := time.NewTicker(15 * time.Millisecond) // edits spread over many cuts
	defer pace.Stop()
	for i := 0; i < 80; i++ {
		<-pace.C
		k := fmt.Sprintf("k%d", i)
		keys = append(keys, k)
		if i%2 == 0 {
			a.set(docs[i%4/2], k, "a")
		} else {
			b.set(docs[i%4/2], k, "b")
		}
	}
	close(stop)
	t.Logf("link cut %d times", <-flapped)

	for _, s := range []*side{a, b, server} {
		for j, id := range docs {
			s.waitFor(fmt.Sprintf("all edits of doc %d on %s", j, s.syncer.opts.Name), 20*time.Second, func() bool {
				for i, k := range keys {
					if i%4/2 == j && s.get(id, k) == "" {
						return false
					}
				}
				return true
			})
		}
	}
	for _, id := range docs {
		var heads [][]string
		for _, s := range []*side{a, b, server} {
			m, err := s.store.Meta(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			var hs []string
			for _, h := range m.Heads {
				hs = append(hs, h.String())
			}
			slices.Sort(hs)
			heads = append(heads, hs)
		}
		if !slices.Equal(heads[0], heads[1]) || !slices.Equal(heads[0], heads[2]) {
			t.Errorf("doc %s: heads differ: %v", id, heads)
		}
	}
}

// TLS on the listener and a pinned CA on the dialer: the right CA connects,
// another is refused.
func TestTLSPinnedCA(t *testing.T) {
	dir := t.TempDir()
	caPEM, certPEM, keyPEM := makeCertChain(t)
	otherCA, _, _ := makeCertChain(t)
	caFile := filepath.Join(dir, "ca.pem")
	otherFile := filepath.Join(dir, "other.pem")
	os.WriteFile(caFile, caPEM, 0o600)
	os.WriteFile(otherFile, otherCA, 0o600)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}

	server := newSide(t, "server", nil, false)
	mux := http.NewServeMux()
	mux.HandleFunc("/sync", server.syncer.Serve)
	server.srv = httptest.NewUnstartedServer(mux)
	server.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	server.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	server.srv.StartTLS()
	url := "wss" + strings.TrimPrefix(server.srv.URL, "https") + "/sync"

	good := newSideDial(t, "good", DialOptions{CAFile: caFile})
	bad := newSideDial(t, "bad", DialOptions{CAFile: otherFile})
	good.syncer.AddPeer(url, server.token("clinic:a"))
	bad.syncer.AddPeer(url, server.token("clinic:a"))
	id := server.create("clinic:a", map[string]string{"title": "over tls"})
	good.waitFor("the doc over TLS", 10*time.Second, func() bool { return good.get(id, "title") == "over tls" })
	bad.waitFor("the wrong CA refused", 10*time.Second, func() bool {
		st := bad.syncer.Status()
		return len(st) == 1 && strings.Contains(st[0].LastError, "certificate")
	})
}

func newSideDial(t *testing.T, name string, d DialOptions) *side {
	s := newSide(t, name, []string{"clinic:a"}, false)
	s.syncer.opts.Dial = d
	return s
}

// makeCertChain returns a CA certificate and a server certificate for
// 127.0.0.1 signed by it, with its key, all PEM.
func makeCertChain(t *testing.T) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fleet CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "sync server"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}
