//go:build unix

package bench

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"
)

// peerClosed reports whether the other end of nc has closed it (or reset
// it, or sent bytes nobody asked for), looking at the socket without
// waiting and without taking anything from it. Over TLS, bytes waiting may
// be the protocol's own and do not count.
func peerClosed(nc net.Conn) bool {
	plain := true
	if tc, ok := nc.(*tls.Conn); ok {
		nc, plain = tc.NetConn(), false
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR):
		case err != nil, n == 0:
			closed = true // reset, or the end of the stream
		case plain:
			closed = true // an answer to nothing: the connection is out of step
		}
		return true // never wait for the socket
	})
	return closed || err != nil
}
