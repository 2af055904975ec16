package apptest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// UploadBody is a claim-document upload request body of about size bytes (one PDF file).
func UploadBody(size int) []byte {
	const head = `{"documents":[{"fileName":"receipt.pdf","contentType":"application/pdf","content":"`
	const tail = `"}]}`
	n := (size - len(head) - len(tail)) / 4 * 3
	if n < 8 {
		n = 8
	}
	file := bytes.Repeat([]byte("%PDF-1.4 "), n/9+1)[:n]
	var b bytes.Buffer
	b.Grow(size)
	b.WriteString(head)
	enc := base64.NewEncoder(base64.StdEncoding, &b)
	_, _ = enc.Write(file)
	_ = enc.Close()
	b.WriteString(tail)
	return b.Bytes()
}

// RawPost sends one request over its own TCP connection the way a hostile client does: it
// writes the whole body whether or not the server wants it, and reads the answer at the same
// time. It returns the answer's status code and headers; write errors (the server closed the
// connection without reading the body) are expected and ignored.
func RawPost(ctx context.Context, addr, path string, header map[string]string, body []byte) (int, http.Header, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	var head strings.Builder
	fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", path, addr, len(body))
	for k, v := range header {
		fmt.Fprintf(&head, "%s: %s\r\n", k, v)
	}
	head.WriteString("\r\n")
	if _, err := io.WriteString(conn, head.String()); err != nil {
		return 0, nil, err
	}
	wrote := make(chan struct{})
	go func() { // owned by RawPost: it waits for it below
		defer close(wrote)
		_, _ = conn.Write(body)
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	_ = conn.Close() // ends the writer if the server stopped reading
	<-wrote
	if err != nil {
		return 0, nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, resp.Header, nil
}

// SlowBody opens a connection, sends the headers of a POST announcing a body of size bytes,
// then one byte every interval — a slow-loris client. It returns when the server ends the
// connection (with or without an answer), with how long that took, or when ctx ends.
func SlowBody(ctx context.Context, addr, path string, header map[string]string, size int, interval time.Duration) (time.Duration, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	start := time.Now()
	var head strings.Builder
	fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\n", path, addr, strconv.Itoa(size))
	for k, v := range header {
		fmt.Fprintf(&head, "%s: %s\r\n", k, v)
	}
	head.WriteString("\r\n{")
	if _, err := io.WriteString(conn, head.String()); err != nil {
		return 0, err
	}
	closed := make(chan struct{})
	go func() { // owned by SlowBody: it waits for it below
		defer close(closed)
		// Reads until the server closes the connection (an answer, then EOF, or a reset).
		_, _ = io.Copy(io.Discard, conn)
	}()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-closed:
			return time.Since(start), nil
		case <-ctx.Done():
			_ = conn.Close()
			<-closed
			return time.Since(start), ctx.Err()
		case <-tick.C:
			_, _ = conn.Write([]byte(" "))
		}
	}
}
