package socketio

import "chatserver/web/socketio/engineio"

// DisconnectReason says why a socket left its namespace: OnDisconnect
// receives one of the constants below. The words are those the reference
// Socket.IO server gives its "disconnect" event, so logs read alike.
//
// When the whole Engine.IO connection ends, every socket still on it gets
// the connection's reason: an Engine.IO close reason (the engineio.Reason
// constants) becomes the DisconnectReason of the same words, except
// engineio.ReasonServerShutdown, which becomes ReasonServerShuttingDown as
// in the reference. When this package closes the connection itself, the
// reason is its own DisconnectReason (ReasonParseError, ReasonInvalidState,
// ReasonHandlerPanic, ReasonSendQueueFull, ReasonForcedClose).
type DisconnectReason string

// The reasons OnDisconnect receives.
const (
	// ReasonClientNamespaceDisconnect: the client left the namespace (a
	// DISCONNECT packet); its connection stays open.
	ReasonClientNamespaceDisconnect DisconnectReason = "client namespace disconnect"
	// ReasonServerNamespaceDisconnect: the server called
	// Socket.Disconnect.
	ReasonServerNamespaceDisconnect DisconnectReason = "server namespace disconnect"
	// ReasonTransportClose: the client closed the connection
	// (engineio.ReasonTransportClose).
	ReasonTransportClose DisconnectReason = "transport close"
	// ReasonTransportError: the connection failed: an I/O error, a
	// dropped request, a message over the payload limit
	// (engineio.ReasonTransportError).
	ReasonTransportError DisconnectReason = "transport error"
	// ReasonPingTimeout: the client did not answer a ping in time
	// (engineio.ReasonPingTimeout).
	ReasonPingTimeout DisconnectReason = "ping timeout"
	// ReasonParseError: the client sent something that is not Engine.IO
	// (engineio.ReasonParseError) or not Socket.IO.
	ReasonParseError DisconnectReason = "parse error"
	// ReasonInvalidState: the client sent a packet that is wrong at that
	// point: an event for a namespace it did not join, a second CONNECT
	// to a namespace, a CONNECT_ERROR.
	ReasonInvalidState DisconnectReason = "invalid state"
	// ReasonServerShuttingDown: Server.Close (engineio.ReasonServerShutdown).
	ReasonServerShuttingDown DisconnectReason = "server shutting down"
	// ReasonSendQueueFull: the client did not read what was sent to it
	// and its send queue overflowed (engineio.ReasonSendQueueFull), or
	// more than 1024 packets were emitted while OnConnect ran.
	ReasonSendQueueFull DisconnectReason = "send queue full"
	// ReasonForcedClose: the connection was closed by the application
	// (engineio.ReasonForcedClose). Socket.Disconnect(true) closes it
	// this way, after its sockets have had ReasonServerNamespaceDisconnect.
	ReasonForcedClose DisconnectReason = "forced close"
	// ReasonHandlerPanic: a handler of the connection panicked.
	ReasonHandlerPanic DisconnectReason = "handler panic"
	// ReasonPendingTimeout: the connection was not established
	// (Socket.Establish) within the transport's pending timeout
	// (engineio.ReasonPendingTimeout).
	ReasonPendingTimeout DisconnectReason = "pending timeout"
	// ReasonEvicted: the connection was not established and a newer one
	// needed its place under the transport's caps
	// (engineio.ReasonEvicted).
	ReasonEvicted DisconnectReason = "evicted"
)

// reasonConnectTimeout closes a connection that joined no namespace in
// time; no socket is there to receive it.
const reasonConnectTimeout DisconnectReason = "connect timeout"

// fromEngine maps each Engine.IO close reason to the DisconnectReason its
// sockets receive.
var fromEngine = map[string]DisconnectReason{
	engineio.ReasonTransportClose: ReasonTransportClose,
	engineio.ReasonTransportError: ReasonTransportError,
	engineio.ReasonPingTimeout:    ReasonPingTimeout,
	engineio.ReasonParseError:     ReasonParseError,
	engineio.ReasonServerShutdown: ReasonServerShuttingDown,
	engineio.ReasonSendQueueFull:  ReasonSendQueueFull,
	engineio.ReasonForcedClose:    ReasonForcedClose,
	engineio.ReasonPendingTimeout: ReasonPendingTimeout,
	engineio.ReasonEvicted:        ReasonEvicted,
}

// disconnectReason returns the DisconnectReason for the reason an
// Engine.IO session closed with: an engineio.Reason mapped by fromEngine,
// or else one this package passed to Session.Close, which is a
// DisconnectReason already.
func disconnectReason(engineReason string) DisconnectReason {
	if r, ok := fromEngine[engineReason]; ok {
		return r
	}
	return DisconnectReason(engineReason)
}
