// A websocket-shootout protocol server on gorilla/websocket: a peer for the fan-out step-up
// (bench/README.md, "shootout"). Text {"type":"echo"|"broadcast","payload":P}: echo answers the
// sender; broadcast goes to every connection (the sender included), then
// {"type":"broadcastResult","payload":P} to the sender. Binary 'e...' is echoed, 'b...' goes to
// every connection, then 'r...' to the sender. P is passed on as raw JSON. Each connection has
// one writer goroutine fed by a bounded queue; a full queue drops the message for that
// connection (counted, printed on exit) rather than stalling the broadcaster.
// Build (Debian packages golang-go, golang-github-gorilla-websocket-dev):
//   GO111MODULE=off GOPATH=/usr/share/gocode go build -o gorilla-shootout bench/peers/gorilla_shootout.go
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/gorilla/websocket"
)

type outgoing struct {
	kind int
	data []byte
}

type client struct {
	conn *websocket.Conn
	out  chan outgoing
}

type hub struct {
	mu      sync.RWMutex
	clients map[*client]struct{}
	dropped atomic.Uint64
}

func (h *hub) add(c *client) {
	h.mu.Lock()
	h.clients[c] = struct{}{}
	h.mu.Unlock()
}

func (h *hub) remove(c *client) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
}

func (h *hub) offer(c *client, m outgoing) {
	select {
	case c.out <- m:
	default:
		h.dropped.Add(1)
	}
}

func (h *hub) broadcast(m outgoing) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.clients {
		h.offer(c, m)
	}
}

type request struct {
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

func reply(kind string, payload json.RawMessage) []byte {
	if payload == nil {
		payload = json.RawMessage("null")
	}
	b, _ := json.Marshal(request{Type: kind, Payload: payload})
	return b
}

// Answers one message; false: the connection is to be closed.
func (h *hub) handle(c *client, kind int, data []byte) bool {
	if kind == websocket.BinaryMessage {
		if len(data) == 0 {
			return false
		}
		switch data[0] {
		case 'e':
			h.offer(c, outgoing{kind, data})
		case 'b':
			h.broadcast(outgoing{kind, data})
			result := append([]byte{'r'}, data[1:]...)
			h.offer(c, outgoing{kind, result})
		default:
			return false
		}
		return true
	}
	var r request
	if err := json.Unmarshal(data, &r); err != nil {
		return false
	}
	switch r.Type {
	case "echo":
		h.offer(c, outgoing{kind, reply("echo", r.Payload)})
	case "broadcast":
		h.broadcast(outgoing{kind, reply("broadcast", r.Payload)})
		h.offer(c, outgoing{kind, reply("broadcastResult", r.Payload)})
	default:
		return false
	}
	return true
}

func main() {
	addr := flag.String("listen", "127.0.0.1:9003", "HOST:PORT to listen on")
	queue := flag.Int("queue", 4096, "messages queued per connection before new ones are dropped")
	flag.Parse()
	h := &hub{clients: map[*client]struct{}{}}
	upgrader := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return // Upgrade has answered with an HTTP error
		}
		c := &client{conn: conn, out: make(chan outgoing, *queue)}
		h.add(c)
		done := make(chan struct{})
		go func() { // the writer: the only goroutine that writes to conn
			for {
				select {
				case m := <-c.out:
					if conn.WriteMessage(m.kind, m.data) != nil {
						return
					}
				case <-done:
					return
				}
			}
		}()
		defer func() {
			h.remove(c)
			close(done)
			conn.Close()
		}()
		for {
			kind, data, err := conn.ReadMessage()
			if err != nil || !h.handle(c, kind, data) {
				return
			}
		}
	})
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		log.Printf("stopped: %d messages dropped for full queues", h.dropped.Load())
		os.Exit(0)
	}()
	log.Printf("listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
