package engineio

// What a session receives from the client, on either transport.

// deliver passes one message to the handler, unless the session is
// closing.
func (s *Session) deliver(data []byte, binary bool) {
	s.dispatchMu.Lock()
	defer s.dispatchMu.Unlock()
	if s.handlerDone || s.closed() || s.handler == nil {
		return
	}
	s.handler.OnMessage(data, binary)
}

// handlePacket acts on one packet from the client, on either transport.
func (s *Session) handlePacket(p packet) {
	if s.proto == protocol3 {
		s.handlePacket3(p)
		return
	}
	switch {
	case p.binary || p.typ == typeMessage:
		s.deliver(p.data, p.binary)
	case p.typ == typePong:
		s.onPong()
	case p.typ == typeClose:
		s.closeWith(ReasonTransportClose, closeClient)
	case p.typ == typePing:
		// v4 clients never ping; the reference closes the session
		// ("invalid heartbeat direction").
		s.closeWith(ReasonParseError, closeError)
	default:
		// open, upgrade and noop mean nothing here; the reference
		// ignores them too.
	}
}
