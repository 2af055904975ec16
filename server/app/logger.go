package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"google.golang.org/grpc/grpclog"
)

// NewLogger builds the process logger: JSON for machines, text on a terminal (format "auto").
func NewLogger(format, level string, w io.Writer) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "text" || (format == "auto" && isTerminal(w)) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// GRPCLogger routes grpc-go's and grpc-gateway's logging (grpclog) into log, so that every line
// the process prints is in the configured format (JSON in production) instead of grpclog's
// default plain text on stderr. grpc's informational chatter goes to debug; a failed write to a
// client that went away (broken pipe, reset connection) is normal for an HTTP server and goes
// to debug too; other errors stay errors. Install it once in main, before anything uses gRPC
// (grpclog.SetLoggerV2 is process-wide and not safe to call concurrently).
func GRPCLogger(log *slog.Logger) grpclog.LoggerV2 {
	return grpcLogger{log: log.With("component", "grpc")}
}

type grpcLogger struct{ log *slog.Logger }

func (g grpcLogger) emit(level slog.Level, msg string) {
	msg = strings.TrimSpace(msg)
	if level >= slog.LevelError && clientWentAway(msg) {
		level = slog.LevelDebug
	}
	g.log.Log(context.Background(), level, msg)
}

// clientWentAway recognizes write errors caused by the peer closing its connection.
func clientWentAway(msg string) bool {
	for _, s := range []string{"broken pipe", "connection reset by peer", "client disconnected", "http2: stream closed", "context canceled"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func (g grpcLogger) Info(args ...any)   { g.emit(slog.LevelDebug, fmt.Sprint(args...)) }
func (g grpcLogger) Infoln(args ...any) { g.emit(slog.LevelDebug, fmt.Sprintln(args...)) }
func (g grpcLogger) Infof(format string, args ...any) {
	g.emit(slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (g grpcLogger) Warning(args ...any)   { g.emit(slog.LevelWarn, fmt.Sprint(args...)) }
func (g grpcLogger) Warningln(args ...any) { g.emit(slog.LevelWarn, fmt.Sprintln(args...)) }
func (g grpcLogger) Warningf(format string, args ...any) {
	g.emit(slog.LevelWarn, fmt.Sprintf(format, args...))
}
func (g grpcLogger) Error(args ...any)   { g.emit(slog.LevelError, fmt.Sprint(args...)) }
func (g grpcLogger) Errorln(args ...any) { g.emit(slog.LevelError, fmt.Sprintln(args...)) }
func (g grpcLogger) Errorf(format string, args ...any) {
	g.emit(slog.LevelError, fmt.Sprintf(format, args...))
}

// Fatal* are grpclog's contract: log, then exit.
func (g grpcLogger) Fatal(args ...any) { g.emit(slog.LevelError, fmt.Sprint(args...)); os.Exit(1) }
func (g grpcLogger) Fatalln(args ...any) {
	g.emit(slog.LevelError, fmt.Sprintln(args...))
	os.Exit(1)
}
func (g grpcLogger) Fatalf(format string, args ...any) {
	g.emit(slog.LevelError, fmt.Sprintf(format, args...))
	os.Exit(1)
}

// V reports whether grpc's verbose logging at level l is on: only level 0, and only when debug
// is enabled.
func (g grpcLogger) V(l int) bool {
	return l <= 0 && g.log.Enabled(context.Background(), slog.LevelDebug)
}
