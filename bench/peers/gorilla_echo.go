// Echo server on gorilla/websocket, a peer for bench/compare.sh. Every message is echoed with
// its type, streamed from reader to writer without buffering whole messages.
// Build (Debian packages golang-go, golang-github-gorilla-websocket-dev):
//   GO111MODULE=off GOPATH=/usr/share/gocode go build -o gorilla-echo bench/peers/gorilla_echo.go
package main

import (
	"flag"
	"io"
	"log"
	"net/http"

	"github.com/gorilla/websocket"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:9002", "HOST:PORT to listen on")
	flag.Parse()
	upgrader := websocket.Upgrader{
		ReadBufferSize:  64 << 10,
		WriteBufferSize: 64 << 10,
		CheckOrigin:     func(*http.Request) bool { return true },
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return // Upgrade has answered with an HTTP error
		}
		defer conn.Close()
		for {
			kind, in, err := conn.NextReader()
			if err != nil {
				return // a close frame (answered by gorilla) or a broken connection
			}
			out, err := conn.NextWriter(kind)
			if err != nil {
				return
			}
			if _, err := io.Copy(out, in); err != nil {
				return
			}
			if err := out.Close(); err != nil {
				return
			}
		}
	})
	log.Printf("gorilla echo listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
