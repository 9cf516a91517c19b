package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// baselineBody is the baseline's one answer: the size and shape of an OAuth
// error response, which is what most of Latchkey's answers under load are.
var baselineBody = []byte(`{"error":"authorization_pending","error_description":"the user has not yet approved the request"}` + "\n")

// baselineHandler is the least a token endpoint can do: read the form body
// and write a small JSON answer with the headers RFC 6749 §5.1 requires.
func baselineHandler(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(baselineBody)
}

// runBaseline is the hidden `baseline` subcommand: a bare net/http server,
// run as its own process with the server settings Latchkey's serve uses, so
// the two differ only in what their handlers do.
func runBaseline(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("latchkey-bench baseline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8081", "`host:port` to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           http.HandlerFunc(baselineHandler),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
