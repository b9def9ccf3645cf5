package main

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/prometheus/exporter-toolkit/web"
)

// HTTP server timeouts. Prometheus scrapes with a timeout of its own (10s
// by default, at most the scrape interval), so a /metrics answer that takes
// more than writeTimeout is of no use to anyone; idle keep-alive
// connections are closed after idleTimeout so that they cannot hold the
// --web.max-connections slots for ever.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second // requests have no body to speak of
	writeTimeout      = 2 * time.Minute
	idleTimeout       = 2 * time.Minute
)

func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
	}
}

// listenAndServe is web.ListenAndServe with at most maxConns connections
// open at once over all listeners (0: no limit), as Prometheus'
// --web.max-connections: further connections wait in the kernel's accept
// queue until one closes.
func listenAndServe(srv *http.Server, flags *web.FlagConfig, maxConns int, logger *slog.Logger) error {
	var listeners []net.Listener
	if flags.WebSystemdSocket != nil && *flags.WebSystemdSocket {
		logger.Info("Listening on systemd activated listeners instead of port listeners.")
		ls, err := activation.Listeners()
		if err != nil {
			return err
		}
		if len(ls) == 0 {
			return errors.New("no socket activation file descriptors found")
		}
		listeners = ls
	} else {
		if len(*flags.WebListenAddresses) == 0 {
			return errors.New("no web listen address or systemd socket flag specified")
		}
		for _, addr := range *flags.WebListenAddresses {
			if strings.HasPrefix(addr, "vsock://") {
				// exporter-toolkit's vsock listener: without the limit.
				return web.ListenAndServe(srv, flags, logger)
			}
		}
		for _, addr := range *flags.WebListenAddresses {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			defer l.Close()
			listeners = append(listeners, l)
		}
	}
	if maxConns > 0 {
		sem := make(chan struct{}, maxConns)
		for i, l := range listeners {
			listeners[i] = newLimitListener(l, sem)
		}
	}
	return web.ServeMultiple(listeners, srv, flags, logger)
}

// limitListener accepts a connection only while fewer than cap(sem) are
// open (golang.org/x/net/netutil.LimitListener, with the semaphore shared
// by several listeners).
type limitListener struct {
	net.Listener
	sem       chan struct{}
	closeOnce sync.Once
	done      chan struct{}
}

func newLimitListener(l net.Listener, sem chan struct{}) *limitListener {
	return &limitListener{Listener: l, sem: sem, done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
