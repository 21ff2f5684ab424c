package socketio

import (
	"testing"

	"chatserver/web/socketio/engineio"
)

func TestDisconnectReasonOfAnEngineIOClose(t *testing.T) {
	tests := []struct {
		engine string
		want   DisconnectReason
	}{
		{engineio.ReasonTransportClose, ReasonTransportClose},
		{engineio.ReasonTransportError, ReasonTransportError},
		{engineio.ReasonPingTimeout, ReasonPingTimeout},
		{engineio.ReasonParseError, ReasonParseError},
		{engineio.ReasonServerShutdown, ReasonServerShuttingDown},
		{engineio.ReasonSendQueueFull, ReasonSendQueueFull},
		{engineio.ReasonForcedClose, ReasonForcedClose},
		{engineio.ReasonPendingTimeout, ReasonPendingTimeout},
		{engineio.ReasonEvicted, ReasonEvicted},
		// What this package closes sessions with comes back as it was.
		{string(ReasonInvalidState), ReasonInvalidState},
		{string(ReasonHandlerPanic), ReasonHandlerPanic},
	}
	for _, tt := range tests {
		t.Run(tt.engine, func(t *testing.T) {
			if got := disconnectReason(tt.engine); got != tt.want {
				t.Errorf("disconnectReason(%q) = %q, want %q", tt.engine, got, tt.want)
			}
		})
	}
}
